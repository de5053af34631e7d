"""The broker's wire encrypted (docs/adr/0055): a local CA, the broker's certificate, and clients trusting it only.

``write_broker_tls(directory)`` makes, beside the principals' passwords (``binhchon_kit.principals``), never
committed, each once:

- ``ca.crt``: the certificate authority every client trusts, and nothing else (public);
- ``ca.key``: its private key (0600), kept only to issue the broker a new certificate when it must name a new host;
- ``broker.pem``: the broker's private key (PKCS#8) followed by its certificate (0600), what Kafka reads as a PEM
  keystore (``ssl.keystore.type=PEM``). It names ``127.0.0.1``, ``localhost`` and compose's brokers (``kafka``,
  ``kafka-2``, ``kafka-3``), plus any of ``BINHCHON_KAFKA_TLS_NAMES`` (comma-separated: an external host name).

An existing certificate that names every wanted host is kept; one that lacks a name is issued again by the same CA
(clients keep trusting it). A deployment with a CA of its own puts its ``ca.crt`` and ``broker.pem`` there and no
``ca.key``: nothing is then made.

``context(ca_file)`` is the clients' side: the CA alone as trust anchor, hostname checked, TLS 1.2 at least.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from binhchon_kit.private_files import write_over

CA_FILE = "ca.crt"
CA_KEY = "ca.key"
BROKER_PEM = "broker.pem"
# the native stack's broker (127.0.0.1), a client on the host (localhost), compose's brokers (their service names)
BROKER_NAMES = ("127.0.0.1", "localhost", "kafka", "kafka-2", "kafka-3")
CA_YEARS, BROKER_DAYS = 10, 825  # 825 days: what browsers and most TLS stacks still accept for a leaf


def broker_names(env: dict[str, str] | None = None) -> tuple[str, ...]:
    """The hosts the broker's certificate names: the defaults and BINHCHON_KAFKA_TLS_NAMES'."""
    extra = (os.environ if env is None else env).get("BINHCHON_KAFKA_TLS_NAMES", "")
    return tuple(dict.fromkeys([*BROKER_NAMES, *(n.strip() for n in extra.split(",") if n.strip())]))


def context(ca_file: str | Path) -> ssl.SSLContext:
    """A client's TLS context: ``ca_file`` the only trusted CA (not the system's), the broker's name checked."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_file))  # cafile given: no system CAs
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname, ctx.verify_mode = True, ssl.CERT_REQUIRED
    return ctx


def write_broker_tls(directory: Path, names: Iterable[str] | None = None, *,
                     now: datetime.datetime | None = None) -> Path:
    """Make what is missing of ``ca.crt``, ``ca.key`` and ``broker.pem`` in ``directory``; returns ``ca.crt``."""
    names = tuple(names) if names is not None else broker_names()
    now = now or datetime.datetime.now(datetime.UTC)  # a certificate's validity is the real clock's, not a service's
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca_file, ca_key_file, broker_file = directory / CA_FILE, directory / CA_KEY, directory / BROKER_PEM
    if not ca_file.exists():
        if broker_file.exists():
            raise FileExistsError(f"{broker_file} is there but not the CA that issued it ({ca_file})")
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "binhchon"),
                          x509.NameAttribute(NameOID.COMMON_NAME, "binhchon broker CA")])
        cert = (_builder(name, name, key.public_key(), now, datetime.timedelta(days=365 * CA_YEARS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                             crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        write_over(ca_key_file, _pkcs8(key))
        write_over(ca_file, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    if broker_file.exists() and set(names) <= _names_in(broker_file):
        return ca_file
    if not ca_key_file.exists():
        raise FileNotFoundError(f"{broker_file} must name {', '.join(names)}, and {ca_key_file} is not here to "
                                "issue it (a CA of the deployment's own: issue it there)")
    ca_key = serialization.load_pem_private_key(ca_key_file.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca = x509.load_pem_x509_certificate(ca_file.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (_builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]), ca.subject, key.public_key(),
                     now, datetime.timedelta(days=BROKER_DAYS))
            .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    # the broker also connects to itself (inter-broker): CLIENT_AUTH is harmless, and the chain ends at the CA
    write_over(broker_file, _pkcs8(key) + cert.public_bytes(serialization.Encoding.PEM))
    return ca_file


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey,
             now: datetime.datetime, valid: datetime.timedelta) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + valid))


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _names_in(pem: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(pem.read_bytes())  # the first certificate of the file, after the key
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {*sans.get_values_for_type(x509.DNSName), *(str(a) for a in sans.get_values_for_type(x509.IPAddress))}


def _pkcs8(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
