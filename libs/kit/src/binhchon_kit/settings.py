"""Settings every service reads from the environment (each service adds its own on top)."""

from __future__ import annotations

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    service_name: str = "binhchon"
    http_port: int = 8000  # each service has its own default
    mongodb_url: str = "mongodb://127.0.0.1:27017"
    mongodb_database: str = ""  # defaults to binhchon_<service>
    event_store: Literal["mongo", "memory"] = "mongo"  # the event store driver (docs/adr/0014)
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic_prefix: str = ""
    # Public keys that verify bearer tokens: a PEM or JWKS file, or a JWKS URL.
    auth_public_keys_file: str = ""
    auth_jwks_url: str = ""
    auth_issuer: str = "binhchon-dev"
    auth_audience: str = "binhchon"
    log_level: str = "INFO"
    # Ed25519 private key (PEM, PKCS#8) that signs the log's checkpoints (ADR 0022): a file, or the PEM itself.
    # Neither set: a development key created once under ~/.cache/binhchon/dev-keys (set one in production: a
    # checkpoint is only as good as the secrecy of its key, and a lost key leaves old checkpoints unverifiable).
    log_signing_key_file: str = ""
    log_signing_key: str = ""
    # Retired log keys' public halves (PEM files, comma-separated): still listed in /log/jwks.json, so that the
    # checkpoints they signed stay verifiable after a rotation (docs/adr/0025).
    log_retired_public_key_files: str = ""
    log_checkpoint_seconds: float = 300  # a checkpoint this often, if new events came
    relay_enabled: bool = True
    consumers_enabled: bool = True

    @property
    def kafka_brokers(self) -> list[str]:
        """KAFKA_BOOTSTRAP_SERVERS as a list: `host:port,host:port` names a cluster's brokers. FastStream takes a
        string as one address, so a comma-separated one would reach no broker at all."""
        return [b.strip() for b in self.kafka_bootstrap_servers.split(",") if b.strip()]

    @property
    def database_name(self) -> str:
        return self.mongodb_database or f"binhchon_{self.service_name}"
