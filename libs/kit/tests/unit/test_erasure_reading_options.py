"""How a restore command reads the recorded erasures (``personal_erasures.reading_options``): over the wire the
service itself is configured for, its CA included (docs/adr/0055)."""

from __future__ import annotations

import datetime
import ssl

from binhchon_kit import broker_tls
from binhchon_kit.personal_erasures import reading_options
from binhchon_kit.principals import write_password_files
from binhchon_kit.settings import ServiceSettings


def test_the_auditor_reads_the_erasures_trusting_the_ca_the_service_is_given(tmp_path):
    """A deployment's own CA named by KAFKA_SSL_CA_FILE, not in the credentials directory: the auditor's reading
    must speak TLS trusting it, as the service does, never fall back to SASL_PLAINTEXT."""
    credentials, own_ca = tmp_path / "kafka", tmp_path / "ca"
    write_password_files(credentials, ["auditor", "intake"])
    ca_file = broker_tls.write_broker_tls(own_ca, now=datetime.datetime(2026, 3, 2, tzinfo=datetime.UTC))
    settings = ServiceSettings(service_name="intake", kafka_credentials_dir=str(credentials),
                               kafka_ssl_ca_file=str(ca_file))
    assert settings.kafka_security()["security_protocol"] == "SASL_SSL"
    options = reading_options(settings)
    assert options["sasl_plain_username"] == "auditor"
    assert options["security_protocol"] == "SASL_SSL"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].check_hostname
