"""The system under fault: its own broker and store, the four services as processes, a mail catcher.

Each fault test gets a System of its own (ADR 0041): a broker and a FerretDB-on-PostgreSQL that no other test
uses, so killing them hurts nobody else, and a history that holds only this test's flow, so the checker can
account for every event in it. The services are started from their console scripts, as a deployment starts them,
and killed with SIGKILL (no shutdown code runs) when a fault asks for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from binhchon_kit.auth.devtoken import ensure_keys, mint
from binhchon_kit.personal import MasterKey
from binhchon_kit.principals import ADMIN, client_options, write_credentials
from binhchon_kit.testing.infra import REPO, NativeFerretDB, NativeKafka, NativePostgres, free_port
from binhchon_kit.topics import all_topics, ensure_topics
from binhchon_kit.trust import PRODUCERS_DIR, write_keys

SERVICES = ("intake", "scoring", "certification", "notify")
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    message_id: str  # notify's delivery key (``<key>@binhchon``): what makes a mail the same mail


@dataclass
class MailCatcher:
    """An SMTP server that keeps every message's recipient, subject and Message-ID; ``delay`` seconds before it
    answers DATA make it the slow mail server a crash mid-send needs."""

    delay: float = 0.0
    mails: list[Mail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0  # DATA commands being answered right now: notify is mid-send

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.in_flight += 1
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            with self.lock:
                for to in envelope.rcpt_tos:
                    self.mails.append(Mail(to, str(message["subject"]), str(message["message-id"]).strip("<>")
                                           .removesuffix("@binhchon")))
            return "250 OK"
        finally:
            with self.lock:
                self.in_flight -= 1

    def caught(self) -> list[Mail]:
        with self.lock:
            return list(self.mails)


class System:
    """Kafka, FerretDB on PostgreSQL, the four services (``replicas`` of each) and a mail catcher."""

    def __init__(self, workdir: Path, replicas: int = 1, smtp_delay: float = 0.0) -> None:
        self.dir = workdir
        self.replicas = replicas
        self.run = uuid.uuid4().hex[:6]
        self.prefix = f"f{self.run}."
        self.credentials = write_credentials(workdir / "kafka-credentials")
        self.kafka = NativeKafka(workdir / "kafka", credentials=self.credentials)
        self.store = NativeFerretDB(workdir / "ferretdb", postgres=NativePostgres(workdir / "postgres"))
        self.catcher = MailCatcher(delay=smtp_delay)
        self.smtp = Controller(self.catcher, hostname="127.0.0.1", port=free_port())
        self.keys = workdir / "keys"
        self.ports = {(s, r): free_port() for s in SERVICES for r in range(replicas)}
        self.databases = {s: f"{s}_{self.run}" for s in SERVICES}
        self.processes: dict[tuple[str, int], subprocess.Popen[bytes]] = {}
        self.restarts: list[dict[str, Any]] = []  # what a fault did to the services: kill→ready seconds

    # ---- the parts -------------------------------------------------------------------------------------------

    def start(self) -> None:
        self.keys.mkdir(parents=True, exist_ok=True)
        self.token_key, self.public_key = ensure_keys(self.keys / "auth")
        (self.keys / "cert-signing.pem").write_bytes(Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        write_keys(self.keys)  # each service's log key, and the public keys each trusts (ADR 0026)
        # intake's personal-data master key, shared by its replicas, and notify's token to ask it for keys (ADR 0035)
        MasterKey.write_new(self.keys / "personal-data-master.key")
        (self.keys / "notify-service.token").write_text(
            mint(self.token_key.read_bytes(), subject="notify", roles=["service"], hours=6))
        self.kafka.start()
        self.store.start()
        asyncio.run(ensure_topics(self.kafka.bootstrap, all_topics(self.prefix), partitions=3,
                                  security=self.client("admin")))
        self.smtp.start()
        for s in SERVICES:
            for r in range(self.replicas):
                self.start_service(s, r, wait=False)
        for s in SERVICES:
            for r in range(self.replicas):
                self._first_ready(s, r)

    def _first_ready(self, service: str, replica: int) -> None:
        """Ready on its port; a port another process took since ``free_port`` found it (the machine is shared)
        is traded for a new one, before anyone knows the old."""
        for _ in range(3):
            try:
                self.wait_ready(service, replica)
                return
            except AssertionError:
                if "address already in use" not in self.log(service, replica).read_text()[-2000:]:
                    raise
                self.processes[(service, replica)].wait(30)
                self.ports[(service, replica)] = free_port()
                self.start_service(service, replica, wait=False)
        self.wait_ready(service, replica)

    def stop(self) -> None:
        for p in self.processes.values():
            if p.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
        for p in self.processes.values():
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        with contextlib.suppress(Exception):
            self.smtp.stop()
        try:
            self.kafka.stop()
        finally:
            self.store.stop()

    def client(self, principal: str = ADMIN) -> dict[str, Any]:
        """aiokafka's sign-in as ``principal`` on this system's broker."""
        return client_options(principal, credentials_dir=str(self.credentials), env={})

    @property
    def bootstrap(self) -> str:
        return self.kafka.bootstrap

    @property
    def mongodb(self) -> str:
        return self.store.url

    def url(self, service: str, replica: int = 0) -> str:
        return f"http://127.0.0.1:{self.ports[(service, replica)]}"

    def urls(self, service: str) -> list[str]:
        return [self.url(service, r) for r in range(self.replicas)]

    # ---- the services ----------------------------------------------------------------------------------------

    def env(self, service: str, replica: int) -> dict[str, str]:
        common = {"MONGODB_URL": self.mongodb, "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
                  "KAFKA_TOPIC_PREFIX": self.prefix, "KAFKA_CREDENTIALS_DIR": str(self.credentials),
                  "AUTH_PUBLIC_KEYS_FILE": str(self.public_key),
                  "EVENT_PRODUCER_KEYS_DIR": str(self.keys / PRODUCERS_DIR), "LOG_LEVEL": "WARNING",
                  "MONGODB_DATABASE": self.databases[service], "HTTP_PORT": str(self.ports[(service, replica)]),
                  "LOG_SIGNING_KEY_FILE": str(self.keys / f"log-signing-{service}.pem"),
                  "PUBLIC_REQUESTS_PER_MINUTE": "0"}
        own = {"intake": {"PERSONAL_DATA_MASTER_KEY_FILE": str(self.keys / "personal-data-master.key")},
               "certification": {"CERT_SIGNING_KEY_FILE": str(self.keys / "cert-signing.pem"),
                                 "PUBLIC_BASE_URL": self.url("certification")},
               "notify": {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.smtp.port), "NOTIFY_POLL_SECONDS": "0.5",
                          "CERTIFICATION_PUBLIC_URL": self.url("certification"),
                          "INTAKE_PUBLIC_URL": self.url("intake"), "INTAKE_URL": self.url("intake"),
                          "INTAKE_SERVICE_TOKEN_FILE": str(self.keys / "notify-service.token")}}
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "MONGODB_"))}
        return {**clean, **common, **own.get(service, {})}

    def log(self, service: str, replica: int = 0) -> Path:
        return self.dir / f"{service}-{replica}.log"

    def start_service(self, service: str, replica: int = 0, wait: bool = True) -> None:
        with self.log(service, replica).open("ab") as log:
            self.processes[(service, replica)] = subprocess.Popen(
                [str(BIN / f"binhchon-{service}")], env=self.env(service, replica), stdout=log,
                stderr=subprocess.STDOUT, cwd=REPO)
        if wait:
            self.wait_ready(service, replica)

    def wait_ready(self, service: str, replica: int = 0, seconds: float = 180) -> float:
        started = time.monotonic()
        deadline = started + seconds
        while True:
            process = self.processes[(service, replica)]
            assert process.poll() is None, f"{service} exited: {self.log(service, replica).read_text()[-3000:]}"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url(service, replica)}/readyz", timeout=5).status_code == 200:
                    return time.monotonic() - started
            assert time.monotonic() < deadline, \
                f"{service} not ready: {self.log(service, replica).read_text()[-3000:]}"
            time.sleep(0.3)

    def kill(self, service: str, replica: int = 0) -> None:
        """SIGKILL: no shutdown code, no flush, whatever was in flight is cut."""
        process = self.processes[(service, replica)]
        os.kill(process.pid, signal.SIGKILL)
        process.wait(30)

    def kill_and_restart(self, service: str, replica: int = 0, *, when_killed: Callable[[], None] | None = None
                         ) -> float:
        """Kill, start again at once; seconds from the kill to ready. ``when_killed``: called once the process is
        dead, before it starts again (what it cut short is then still to be seen)."""
        killed = time.monotonic()
        self.kill(service, replica)
        if when_killed is not None:
            when_killed()
        self.start_service(service, replica, wait=False)
        self.wait_ready(service, replica)
        seconds = time.monotonic() - killed
        self.restarts.append({"service": service, "replica": replica, "kill_to_ready_s": round(seconds, 1)})
        return seconds

    def stop_services(self) -> None:
        """SIGTERM to every service, as an operator stops them; waited for."""
        for p in self.processes.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.processes.values():
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(30)

    def start_services(self) -> None:
        for key in self.processes:
            self.start_service(*key, wait=False)
        for key in self.processes:
            self.wait_ready(*key)

    # ---- the infrastructure's faults -------------------------------------------------------------------------

    def kill_broker(self) -> None:
        pid = int((self.kafka.dir / "kafka.pid").read_text().strip())
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid)

    def kill_store(self) -> None:
        """SIGKILL of FerretDB, the server every service talks to (PostgreSQL behind it stays)."""
        pid = int((self.store.dir / "ferretdb.pid").read_text().strip())
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid)


def _wait_gone(pid: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        # a zombie of a process we did not wait for is gone for every purpose that matters here
        with contextlib.suppress(FileNotFoundError):
            if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                return
        time.sleep(0.1)
    raise AssertionError(f"pid {pid} still alive {seconds} s after SIGKILL")
