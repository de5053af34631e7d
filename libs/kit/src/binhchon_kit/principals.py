"""Who may do what on the broker (docs/adr/0031): each service is a principal of its own, SASL/SCRAM-SHA-512.

- a service writes its own ``<service>.events``, ``log.checkpoints`` and the dead-letter topics of the topics it
  consumes; it reads only the topics it consumes, under its own consumer groups (``<service>.<handler>``);
- ``auditor`` reads every topic and writes none;
- ``admin`` is the broker's super user: it creates the topics and grants the ACLs (``ensure_topics``).

Credentials are a directory of ``<principal>.password`` files made on this machine (``write_credentials``), never
committed; the broker gets them as SCRAM users when its storage is formatted (infra/local/kafka.sh). A client
signs in with ``KAFKA_SASL_USERNAME`` and ``KAFKA_SASL_PASSWORD`` (or ``KAFKA_SASL_PASSWORD_FILE``), or, given only
``KAFKA_CREDENTIALS_DIR``, as its own principal from that directory. None of them set: PLAINTEXT, as a developer's
own broker without authentication expects.

The wire is encrypted (docs/adr/0055): beside the passwords, ``binhchon_kit.broker_tls`` makes a CA and the broker's
certificate; a client given ``KAFKA_SSL_CA_FILE``, or a credentials directory holding ``ca.crt``, speaks SASL_SSL
and trusts that CA only, the broker's host name checked.

aiokafka's admin client has no ACL call, so ``grant`` sends Kafka's CreateAcls (v1, KIP-290) itself: creating a
binding that exists already is a no-op, so granting is idempotent like creating the topics.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import for_code
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import Array, Int8, Int16, Int32, Schema, String
from faststream.security import BaseSecurity, SASLScram512

from binhchon_kit import broker_tls
from binhchon_kit.private_files import write_once, write_over
from binhchon_kit.topics import SERVICE_TOPICS, TOPIC_OWNERS, dead_letter_topic

ADMIN = "admin"
AUDITOR = "auditor"
SERVICES = tuple(TOPIC_OWNERS.values())
PRINCIPALS = (ADMIN, AUDITOR, *SERVICES)
CHECKPOINTS = "log.checkpoints"
# The topics each service's consumers subscribe to (services/*/src/*/main.py; test_broker_access checks them).
CONSUMES: dict[str, tuple[str, ...]] = {
    "intake": ("scoring.events",),
    "scoring": ("intake.events",),
    "certification": ("intake.events", "scoring.events", "notify.events"),
    "notify": ("intake.events", "scoring.events", "certification.events"),
}
MECHANISM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class Grant:
    """One ACL binding: ``principal`` may ``operation`` on a topic or group named ``name`` (or starting with it)."""

    principal: str
    operation: str  # read, write
    resource: str  # topic, group
    name: str
    prefixed: bool = False


def grants(topics: Iterable[str]) -> list[Grant]:
    """The bindings for ``topics`` (binhchon's topic names, possibly behind a test's prefix): who writes and who
    reads each; the groups and the auditor's reading do not depend on the topics."""
    by_base = _writers_and_readers()
    found: list[Grant] = []
    for topic in topics:
        # the longest base first: `intake.events.dlq` before `intake.events`
        base = next((b for b in sorted(by_base, key=len, reverse=True) if topic.endswith(b)), None)
        if base is None:
            continue
        writers, readers = by_base[base]
        found += [Grant(p, "write", "topic", topic) for p in writers]
        found += [Grant(p, "read", "topic", topic) for p in readers]
    # a service's groups: `<service>.<handler>`, and those of a second instance named `<service>-<what>` (a replay)
    found += [Grant(s, "read", "group", s, prefixed=True) for s in SERVICES]
    found += [Grant(AUDITOR, "read", "topic", "*"), Grant(AUDITOR, "read", "group", f"{AUDITOR}.", prefixed=True)]
    return found


def _writers_and_readers() -> dict[str, tuple[list[str], list[str]]]:
    table: dict[str, tuple[list[str], list[str]]] = {t: ([], []) for t in SERVICE_TOPICS}
    table.update({dead_letter_topic(t): ([], []) for t in SERVICE_TOPICS})
    for topic, owner in TOPIC_OWNERS.items():
        table[topic][0].append(owner)
        table[topic][1].append(owner)  # its own history: `restore-from-topic` rebuilds a lost store from it (ADR 0047)
    for service in SERVICES:
        table[CHECKPOINTS][0].append(service)
        table[CHECKPOINTS][1].append(service)  # its checkpoints, read back by a restore (checkpoints are public)
        for topic in CONSUMES[service]:
            table[topic][1].append(service)
            table[dead_letter_topic(topic)][0].append(service)  # its own dead letters of what it consumes
    return table


# --- credentials ---------------------------------------------------------------------------------------------


def write_credentials(directory: Path, names: Iterable[str] = PRINCIPALS) -> Path:
    """A password file per principal (0600, in a 0700 directory), made once: an existing one is kept; the broker's
    CA and certificate (``broker_tls``), made once too. Beside them ``<principal>.properties``, the same sign-in for
    Kafka's own tools and Java clients (``--command-config``), trusting this directory's ``ca.crt``."""
    names = tuple(names)
    write_password_files(directory, names)
    ca_file = broker_tls.write_broker_tls(directory)
    write_properties(directory, names, ca_location=str(ca_file))
    return directory


def write_properties(directory: Path, names: Iterable[str], *, ca_location: str, into: Path | None = None) -> Path:
    """``<principal>.properties`` for each of ``names`` into ``into`` (default ``directory``), from the passwords
    in ``directory``, the CA's path given as the reader sees it: a container mounting the directory elsewhere
    (compose's broker: ``/run/binhchon/kafka-credentials``) reads a set of its own, written beside."""
    into = into or directory
    into.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in names:
        write_over(into / f"{name}.properties",
                   client_properties(client_options(name, credentials_dir=str(directory), env={}),
                                     ca_file=ca_location).encode())
    return into


def write_password_files(directory: Path, names: Iterable[str]) -> Path:
    """A ``<name>.password`` file per principal (0600, in a 0700 directory), made once: an existing one is kept."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    directory.chmod(0o700)
    for name in names:
        file = directory / f"{name}.password"
        # hex: nothing SCRAM's, kafka-storage's or a URL's syntax mis-reads
        write_once(file, secrets.token_hex(24).encode())
    return directory


def client_properties(options: Mapping[str, Any], *, ca_file: str = "") -> str:
    """aiokafka's sign-in ``options`` as a Java client's properties (Kafka's tools: ``--command-config``); over TLS
    (``options`` with an ``ssl_context``) trusting ``ca_file`` only, as PEM, the host name checked (Java's default,
    written out so that no one reads it as off)."""
    if not options:
        return ""
    lines = [f"security.protocol={options['security_protocol']}"]
    if options.get("ssl_context") is not None:
        if not ca_file:
            raise ValueError("a TLS client's properties need the CA file its truststore is")
        lines += ["ssl.truststore.type=PEM", f"ssl.truststore.location={ca_file}",
                  "ssl.endpoint.identification.algorithm=https"]
    if "sasl_mechanism" in options:
        lines += [f"sasl.mechanism={options['sasl_mechanism']}",
                  "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
                  f'username="{options["sasl_plain_username"]}" password="{options["sasl_plain_password"]}";']
    return "\n".join(lines) + "\n"


def principal_of(name: str) -> str:
    """The broker principal a process named ``name`` signs in as: a service's second instance (``notify-replay``,
    a replay beside the live one) is still that service; any other name is its own (and has no password)."""
    if name in PRINCIPALS:
        return name
    return next((s for s in SERVICES if name.startswith(f"{s}-")), name)


@dataclass(frozen=True, slots=True)
class SignIn:
    """Who a client signs in as and which CA it trusts: SCRAM-SHA-512 when ``username``, TLS when ``ca_file``."""

    username: str = ""
    password: str = ""
    ca_file: str = ""


def sign_in(principal: str = "", *, username: str = "", password: str = "", password_file: str = "",
            credentials_dir: str = "", ca_file: str = "", env: Mapping[str, str] | None = None) -> SignIn:
    """An explicit user first, else ``principal`` from the credentials directory; the environment's
    KAFKA_SASL_* / KAFKA_SSL_CA_FILE / KAFKA_CREDENTIALS_DIR fill what is not given. The CA: ``ca_file``, else
    the credentials directory's ``ca.crt`` if there. No user and no CA: PLAINTEXT."""
    env = os.environ if env is None else env
    username = username or env.get("KAFKA_SASL_USERNAME", "")
    password = password or env.get("KAFKA_SASL_PASSWORD", "")
    password_file = password_file or env.get("KAFKA_SASL_PASSWORD_FILE", "")
    credentials_dir = credentials_dir or env.get("KAFKA_CREDENTIALS_DIR", "")
    ca_file = ca_file or env.get("KAFKA_SSL_CA_FILE", "")
    if not ca_file and credentials_dir and (Path(credentials_dir) / broker_tls.CA_FILE).is_file():
        ca_file = str(Path(credentials_dir) / broker_tls.CA_FILE)
    if not username and credentials_dir and principal:
        principal = principal_of(principal)
        username, password_file = principal, str(Path(credentials_dir) / f"{principal}.password")
    if username and not password:
        if not password_file:
            raise ValueError(f"Kafka user {username!r} has no password (KAFKA_SASL_PASSWORD or _FILE)")
        password = Path(password_file).read_text().strip()
    return SignIn(username, password if username else "", ca_file)


def client_options(principal: str = "", *, username: str = "", password: str = "", password_file: str = "",
                   credentials_dir: str = "", ca_file: str = "", env: Mapping[str, str] | None = None
                   ) -> dict[str, Any]:
    """aiokafka's keyword arguments to sign in as ``sign_in`` says: SASL_SSL whenever a CA is known, {} for
    PLAINTEXT (no user, no CA)."""
    given = sign_in(principal, username=username, password=password, password_file=password_file,
                    credentials_dir=credentials_dir, ca_file=ca_file, env=env)
    tls: dict[str, Any] = {"ssl_context": broker_tls.context(given.ca_file)} if given.ca_file else {}
    if not given.username:
        return {"security_protocol": "SSL", **tls} if tls else {}
    return {"security_protocol": "SASL_SSL" if tls else "SASL_PLAINTEXT", **tls, "sasl_mechanism": MECHANISM,
            "sasl_plain_username": given.username, "sasl_plain_password": given.password}


def scram(options: Mapping[str, Any]) -> BaseSecurity | None:
    """The same sign-in for FastStream's KafkaBroker (which takes it as a security object, not as arguments)."""
    tls = options.get("ssl_context")
    if "sasl_mechanism" not in options:  # no user: TLS alone, or PLAINTEXT
        return BaseSecurity(tls, use_ssl=True) if tls is not None else None
    return SASLScram512(options["sasl_plain_username"], options["sasl_plain_password"], ssl_context=tls,
                        use_ssl=tls is not None)


# --- CreateAcls (Kafka's protocol, API key 30) ----------------------------------------------------------------

RESOURCE = {"topic": 2, "group": 3}
PATTERN = {False: 3, True: 4}  # LITERAL, PREFIXED
OPERATION = {"read": 3, "write": 4}
ALLOW = 3


class CreateAclsResponse_v1(Response):  # type: ignore[misc]  # aiokafka ships no types
    API_KEY = 30
    API_VERSION = 1
    SCHEMA = Schema(("throttle_time_ms", Int32),
                    ("results", Array(("error_code", Int16), ("error_message", String("utf-8")))))


class CreateAclsRequest_v1(RequestStruct):  # type: ignore[misc]
    API_KEY = 30
    API_VERSION = 1
    RESPONSE_TYPE = CreateAclsResponse_v1
    SCHEMA = Schema(("creations", Array(
        ("resource_type", Int8), ("resource_name", String("utf-8")), ("resource_pattern_type", Int8),
        ("principal", String("utf-8")), ("host", String("utf-8")), ("operation", Int8),
        ("permission_type", Int8))))


class CreateAclsRequest(Request[CreateAclsRequest_v1]):  # type: ignore[misc]
    API_KEY = 30

    def __init__(self, creations: list[tuple[int, str, int, str, str, int, int]]) -> None:
        self.creations = creations

    def build(self, request_struct_class: type[CreateAclsRequest_v1]) -> CreateAclsRequest_v1:
        return request_struct_class(self.creations)


class DescribeAclsResponse_v1(Response):  # type: ignore[misc]
    API_KEY = 29
    API_VERSION = 1
    SCHEMA = Schema(("throttle_time_ms", Int32), ("error_code", Int16), ("error_message", String("utf-8")),
                    ("resources", Array(
                        ("resource_type", Int8), ("resource_name", String("utf-8")), ("pattern_type", Int8),
                        ("acls", Array(("principal", String("utf-8")), ("host", String("utf-8")),
                                       ("operation", Int8), ("permission_type", Int8))))))


class DescribeAclsRequest_v1(RequestStruct):  # type: ignore[misc]
    API_KEY = 29
    API_VERSION = 1
    RESPONSE_TYPE = DescribeAclsResponse_v1
    SCHEMA = Schema(("resource_type_filter", Int8), ("resource_name_filter", String("utf-8")),
                    ("pattern_type_filter", Int8), ("principal_filter", String("utf-8")),
                    ("host_filter", String("utf-8")), ("operation", Int8), ("permission_type", Int8))


class DescribeAclsRequest(Request[DescribeAclsRequest_v1]):  # type: ignore[misc]
    API_KEY = 29

    def build(self, request_struct_class: type[DescribeAclsRequest_v1]) -> DescribeAclsRequest_v1:
        return request_struct_class(1, None, 1, None, None, 1, 1)  # ANY resource, pattern, operation, permission


def _binding(resource_type: int, name: str, pattern: int, principal: str, operation: int) -> tuple[Any, ...]:
    return resource_type, name, pattern, principal, operation


async def grant(admin: AIOKafkaAdminClient, bindings: list[Grant], *, timeout: float = 30.0) -> None:
    """Create the ACL bindings (existing ones are left as they are) and wait until the broker enforces them;
    raises the broker's error if one fails."""
    creations = [(RESOURCE[g.resource], g.name, PATTERN[g.prefixed], f"User:{g.principal}", "*",
                  OPERATION[g.operation], ALLOW) for g in bindings]
    # the admin client has no ACL call: its connection sends the request (the broker forwards it to the controller)
    node = admin._client.get_random_node()
    response = await admin._client.send(node, CreateAclsRequest(creations))
    for (code, message), binding in zip(response.results, bindings, strict=True):
        if code:
            raise for_code(code)(f"{binding}: {message}")
    # The controller has committed them; the broker applies them from its copy of the metadata a moment later.
    # A client arriving in between would be refused (an idempotent producer's id first), so wait for that copy.
    wanted = {_binding(r, n, p, who, op) for r, n, p, who, _, op, _ in creations}
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        described = await admin._client.send(node, DescribeAclsRequest())
        if described.error_code:
            raise for_code(described.error_code)(described.error_message)
        seen = {_binding(r, n, p, acl[0], acl[2]) for r, n, p, acls in described.resources for acl in acls}
        if wanted <= seen:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"the broker does not enforce {len(wanted - seen)} of the ACLs after {timeout:.0f}s")
        await asyncio.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Make the broker's credentials: a password file per principal, "
                                     "the broker's CA and certificate, the tools' properties files.")
    parser.add_argument("command", choices=["credentials"])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--mounted-at", default="", help="where a container mounts DIRECTORY: a second set of "
                        "properties files, in DIRECTORY/container, naming the CA by that path")
    args = parser.parse_args(argv)
    write_credentials(args.directory)
    if args.mounted_at:
        write_properties(args.directory, PRINCIPALS, ca_location=f"{args.mounted_at.rstrip('/')}/{broker_tls.CA_FILE}",
                         into=args.directory / "container")
    print(f"[principals] {', '.join(PRINCIPALS)}: passwords, the broker's CA and certificate in {args.directory}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
