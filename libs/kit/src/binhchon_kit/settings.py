"""Settings every service reads from the environment (each service adds its own on top)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from binhchon_kit.principals import client_options
from binhchon_kit.store_principals import service_url


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    service_name: str = "binhchon"
    http_port: int = 8000  # each service has its own default
    # The address the HTTP server listens on: loopback unless told otherwise (`make up`); a container listens on
    # every interface of its own network namespace (compose sets 0.0.0.0 and publishes the port on loopback).
    http_host: str = "127.0.0.1"
    mongodb_url: str = "mongodb://127.0.0.1:27017"
    mongodb_database: str = ""  # defaults to binhchon_<service>
    # The service's own principal of the store (docs/adr/0039): a directory of <principal>.password files where
    # this service's name is looked up, and the mechanism to send it with (FerretDB: PLAIN, its users are
    # PostgreSQL's; genuine MongoDB: SCRAM-SHA-256, with the auth source the users were made in). Not set: the URL
    # as given (it may hold a user itself).
    mongodb_credentials_dir: str = ""
    mongodb_auth_mechanism: str = "PLAIN"
    mongodb_auth_source: str = ""
    # How long a call waits for the store to be reachable before it gives up: a request then answers 503 with
    # Retry-After at once instead of hanging (pymongo's own default is 30 s). Background loops retry anyway.
    mongodb_server_selection_ms: int = 1000
    # What Retry-After says when a dependency (the store) is down: a client should come back after this.
    unavailable_retry_after_seconds: int = 5
    event_store: Literal["mongo", "memory"] = "mongo"  # the event store driver (docs/adr/0014)
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic_prefix: str = ""
    # The service's own principal on the broker (SASL/SCRAM-SHA-512, docs/adr/0031): a user and its password (or a
    # file holding it), or a directory of <principal>.password files where this service's name is looked up.
    # None set: PLAINTEXT, for a developer's broker without authentication.
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = ""
    kafka_sasl_password_file: str = ""
    kafka_credentials_dir: str = ""
    # The CA the broker's certificate is checked against, the only one trusted (docs/adr/0055): set, the service
    # speaks SASL_SSL; not set, the credentials directory's ca.crt if there (infra/compose mounts it), else no TLS.
    kafka_ssl_ca_file: str = ""
    # Public keys that verify bearer tokens: a PEM or JWKS file, or a JWKS URL.
    auth_public_keys_file: str = ""
    auth_jwks_url: str = ""
    auth_issuer: str = "binhchon-dev"
    auth_audience: str = "binhchon"
    auth_leeway_seconds: int = 30  # clock skew forgiven on exp/iat/nbf, no more
    auth_max_token_lifetime_seconds: int = 24 * 3600  # a token whose exp - iat exceeds this is refused
    # Request bodies beyond this are answered 413 before they are parsed (chunked bodies too).
    max_body_bytes: int = 1024 * 1024
    # production: /docs, /redoc, /openapi.json are not served, and /metrics only to a bearer of metrics_token
    # (not set: not served). development: all public, as `make up` and the tests use them.
    deployment: Literal["development", "production"] = "development"
    metrics_token: str = ""
    log_level: str = "INFO"
    # Ed25519 private key (PEM, PKCS#8) that signs the log's checkpoints (ADR 0022): a file, or the PEM itself.
    # Neither set: a development key created once under ~/.cache/binhchon/dev-keys (set one in production: a
    # checkpoint is only as good as the secrecy of its key, and a lost key leaves old checkpoints unverifiable).
    log_signing_key_file: str = ""
    log_signing_key: str = ""
    # The same key signs every event the relay publishes (ADR 0026): one key per service, never shared.
    # The public keys of the services whose events this one consumes: a directory of <service>.jwks.json files
    # (`python -m binhchon_kit.trust keys DIR` writes them to DIR/producers). Empty: the development log keys of
    # this machine, as the services sign with when no LOG_SIGNING_KEY_FILE is set (`make up`, in-process tests).
    event_producer_keys_dir: str = ""
    # Retired log keys' public halves (PEM files, comma-separated): still listed in /log/jwks.json, so that the
    # checkpoints they signed stay verifiable after a rotation (docs/adr/0025).
    log_retired_public_key_files: str = ""
    log_checkpoint_seconds: float = 300  # a checkpoint this often, if new events came
    # Requests a minute each client address may make to the public routes (receipt lookup, /verify, the registry);
    # past that 429 with Retry-After (binhchon_kit.ratelimit). 0: no limit (the test suite and the benches).
    public_requests_per_minute: int = 120
    relay_enabled: bool = True
    # How often the gauges ops watch are measured: consumer lag, outbox backlog, readiness (binhchon_kit.gauges).
    metrics_interval_seconds: float = 15.0
    consumers_enabled: bool = True

    @property
    def kafka_brokers(self) -> list[str]:
        """KAFKA_BOOTSTRAP_SERVERS as a list: `host:port,host:port` names a cluster's brokers. FastStream takes a
        string as one address, so a comma-separated one would reach no broker at all."""
        return [b.strip() for b in self.kafka_bootstrap_servers.split(",") if b.strip()]

    def kafka_security(self) -> dict[str, Any]:
        """aiokafka's sign-in arguments for this service ({} for PLAINTEXT)."""
        return client_options(self.service_name, username=self.kafka_sasl_username,
                              password=self.kafka_sasl_password, password_file=self.kafka_sasl_password_file,
                              credentials_dir=self.kafka_credentials_dir, ca_file=self.kafka_ssl_ca_file,
                              env={})

    def store_url(self) -> str:
        """MONGODB_URL, signed in as this service's principal of the store when MONGODB_CREDENTIALS_DIR is set."""
        return service_url(self.mongodb_url, self.service_name, self.mongodb_credentials_dir,
                           self.mongodb_auth_mechanism, self.mongodb_auth_source)

    @property
    def database_name(self) -> str:
        return self.mongodb_database or f"binhchon_{self.service_name}"
