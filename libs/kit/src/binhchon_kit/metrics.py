"""Prometheus metrics every service exposes at /metrics."""

from prometheus_client import Counter, Histogram

EVENTS_APPENDED = Counter("binhchon_events_appended_total", "events appended to the store", ["service", "type"])
EVENTS_PUBLISHED = Counter("binhchon_events_published_total", "events the relay published", ["service"])
RELAY_FAILURES = Counter("binhchon_relay_failures_total", "relay passes that failed", ["service"])
MESSAGES_HANDLED = Counter(
    "binhchon_messages_handled_total", "consumed messages by outcome", ["service", "handler", "outcome"]
)
HTTP_LATENCY = Histogram(
    "binhchon_http_request_seconds", "HTTP request latency", ["service", "method", "route", "status"]
)
