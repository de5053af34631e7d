"""The broker's CA and certificate (docs/adr/0055): made once, kept, issued again by the same CA only when a host
is missing; a deployment's own CA (no ca.key) is never overwritten."""

from __future__ import annotations

import datetime
import stat

import pytest
from cryptography import x509

from binhchon_kit import broker_tls
from binhchon_kit.principals import client_properties, main, write_credentials

ISSUED = datetime.datetime(2026, 3, 2, 9, 30, tzinfo=datetime.UTC)


def certificate(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def test_the_ca_and_the_broker_certificate_are_made_once_and_kept(tmp_path):
    ca_file = broker_tls.write_broker_tls(tmp_path, now=ISSUED)
    made = {name: (tmp_path / name).read_bytes() for name in ("ca.crt", "ca.key", "broker.pem")}
    assert stat.S_IMODE((tmp_path / "ca.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "broker.pem").stat().st_mode) == 0o600
    broker = certificate(made["broker.pem"])
    assert broker.issuer == certificate(made["ca.crt"]).subject
    assert broker.not_valid_before_utc < ISSUED < broker.not_valid_after_utc
    sans = broker.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", "kafka"} <= set(sans.get_values_for_type(x509.DNSName))
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert made["broker.pem"].startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8 first: Kafka's PEM keystore

    assert broker_tls.write_broker_tls(tmp_path, now=ISSUED) == ca_file
    assert {name: (tmp_path / name).read_bytes() for name in made} == made


def test_a_new_host_gets_a_new_certificate_from_the_same_ca(tmp_path):
    broker_tls.write_broker_tls(tmp_path, now=ISSUED)
    ca = (tmp_path / "ca.crt").read_bytes()
    names = (*broker_tls.broker_names({}), "kafka.so-nn.gov.vn")
    assert broker_tls.broker_names({"BINHCHON_KAFKA_TLS_NAMES": " kafka.so-nn.gov.vn ,"}) == names
    broker_tls.write_broker_tls(tmp_path, names, now=ISSUED)
    assert (tmp_path / "ca.crt").read_bytes() == ca
    sans = certificate((tmp_path / "broker.pem").read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert "kafka.so-nn.gov.vn" in sans.get_values_for_type(x509.DNSName)


def test_a_deployments_own_ca_is_never_replaced(tmp_path):
    broker_tls.write_broker_tls(tmp_path, now=ISSUED)
    (tmp_path / "ca.key").unlink()  # the deployment's CA signs elsewhere
    broker_tls.write_broker_tls(tmp_path, now=ISSUED)  # every name there: nothing to do
    with pytest.raises(FileNotFoundError, match=r"ca\.key"):
        broker_tls.write_broker_tls(tmp_path, ("kafka.elsewhere",), now=ISSUED)
    (tmp_path / "ca.crt").unlink()
    with pytest.raises(FileExistsError):  # a certificate without its CA: not silently paired with a new one
        broker_tls.write_broker_tls(tmp_path, now=ISSUED)


def test_the_tools_properties_trust_the_ca_as_pem_and_check_the_host(tmp_path):
    write_credentials(tmp_path, ["auditor"])
    assert (tmp_path / "auditor.properties").read_text().splitlines()[:4] == [
        "security.protocol=SASL_SSL", "ssl.truststore.type=PEM", f"ssl.truststore.location={tmp_path}/ca.crt",
        "ssl.endpoint.identification.algorithm=https"]
    # compose's broker mounts the directory elsewhere: its own set names the CA where it sees it
    assert main(["credentials", str(tmp_path), "--mounted-at", "/run/binhchon/kafka-credentials/"]) == 0
    inside = (tmp_path / "container" / "admin.properties").read_text().splitlines()
    assert "ssl.truststore.location=/run/binhchon/kafka-credentials/ca.crt" in inside
    assert client_properties({}) == ""


def test_a_crash_while_the_ca_is_written_is_mended_by_the_next_run(tmp_path, monkeypatch):
    """The CA's key is written, then its certificate: a crash between the two (or in the middle of either) must not
    leave a directory every later run refuses (credentials.sh is run again at will)."""
    written = []
    real = broker_tls.os.fdopen

    def crash_after_the_key(fd, *args, **kwargs):  # the power cut: the key's file is there, the CA's is not
        if written:
            raise OSError("power cut")
        written.append(fd)
        return real(fd, *args, **kwargs)

    ca_file = crashed_then_run_again(tmp_path, monkeypatch, crash_after_the_key)
    broker = certificate((tmp_path / "broker.pem").read_bytes())
    assert broker.issuer == certificate(ca_file.read_bytes()).subject
    assert stat.S_IMODE((tmp_path / "ca.key").stat().st_mode) == 0o600


def test_a_half_written_ca_certificate_is_never_left_in_place(tmp_path, monkeypatch):
    """A file is whole or absent: the CA's certificate cut short by a crash would be trusted by no client, and kept
    (it exists) by every later run."""
    real = broker_tls.os.fdopen
    opened = []

    class Cut:
        def __init__(self, out):
            self.out = out

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.out.close()

        def write(self, data):
            self.out.write(data[:10])
            raise OSError("power cut")

    def cut_the_second(fd, *args, **kwargs):
        opened.append(fd)
        out = real(fd, *args, **kwargs)
        return Cut(out) if len(opened) == 2 else out

    ca_file = crashed_then_run_again(tmp_path, monkeypatch, cut_the_second)
    certificate(ca_file.read_bytes())


def crashed_then_run_again(tmp_path, monkeypatch, fdopen):
    """The first run cut short by ``fdopen`` (the power cut): no CA certificate left there, and the next run's."""
    monkeypatch.setattr(broker_tls.os, "fdopen", fdopen)
    with pytest.raises(OSError, match="power cut"):
        broker_tls.write_broker_tls(tmp_path, now=ISSUED)
    monkeypatch.undo()
    assert not (tmp_path / "ca.crt").exists()
    return broker_tls.write_broker_tls(tmp_path, now=ISSUED)
