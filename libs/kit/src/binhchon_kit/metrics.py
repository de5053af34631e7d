"""Prometheus metrics every service exposes at /metrics. The gauges are set by binhchon_kit.gauges; the alert
rules on them are infra/prometheus/alerts.yml (ADR 0040)."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_APPENDED = Counter("binhchon_events_appended_total", "events appended to the store", ["service", "type"])
EVENTS_PUBLISHED = Counter("binhchon_events_published_total", "events the relay published", ["service"])
RELAY_FAILURES = Counter("binhchon_relay_failures_total", "relay passes that failed", ["service"])
MESSAGES_HANDLED = Counter(
    "binhchon_messages_handled_total", "consumed messages by outcome", ["service", "handler", "outcome"]
)
HTTP_LATENCY = Histogram(
    "binhchon_http_request_seconds", "HTTP request latency", ["service", "method", "route", "status"]
)
DEAD_LETTERS = Counter(
    "binhchon_dead_letters_total", "messages a consumer wrote to <topic>.dlq, by the topic they came from and why",
    ["service", "topic", "reason"],
)
CONSUMER_LAG = Gauge(
    "binhchon_consumer_lag_messages", "a consumer group's messages not yet committed on a partition",
    ["service", "group", "topic", "partition"],
)
OUTBOX_BACKLOG = Gauge("binhchon_outbox_backlog_events", "events stored but not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "binhchon_outbox_oldest_age_seconds", "how long the oldest unpublished event has waited (0: none waits)",
    ["service"],
)
DEPENDENCY_READY = Gauge("binhchon_dependency_ready", "1 when the dependency answers, 0 when not",
                         ["service", "dependency"])
GAUGE_FAILURES = Counter("binhchon_gauge_failures_total", "measurements of a gauge that failed", ["service", "gauge"])

# The dead letters' reasons, as the consumer words them (binhchon_kit.consumer), in a few classes a label can hold.
REASON_CLASSES = (
    ("unparseable", "unparseable"),
    ("untrusted", "untrusted"),
    ("unknown event type", "unknown_type"),
    ("unknown type", "unknown_type"),
    ("validationerror", "invalid"),
    ("the data does not match", "invalid"),
    ("event type ", "wrong_topic"),
    ("invalid", "invalid"),
    ("too large", "too_large"),
    ("permanenterror", "permanent"),
    ("failed after", "retries_exhausted"),
)


def reason_class(reason: str) -> str:
    """The class of a dead letter's reason: its first words decide, ``other`` when none matches."""
    lowered = reason.lower()
    return next((name for start, name in REASON_CLASSES if lowered.startswith(start)), "other")
