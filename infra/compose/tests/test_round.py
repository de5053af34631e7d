"""The compose deployment, run for real: `make compose-test` (and `make compose-test PROFILE=ha`).

The stack is started from docker-compose.yml with the images `make images` built (infra/compose/images.env),
under a project name of its own and on free host ports, so it never meets `make up` or another run. A whole
OCOP round is then played through the published ports only (the same round as `binhchon-demo`): dossiers in,
scored, proposed, approved, the certificate verifying on /verify, the producer's mails read back from the
mail catcher and parsed by Python's mail parser. Meanwhile services are killed with SIGKILL, the way a crash
or the kernel's OOM killer ends them: the restart policy must bring each back and it must catch up with
nothing lost. With PROFILE=ha (infra/compose/ha.yml) a Kafka broker is killed in the middle of the round too.
`docker compose down -v` runs at the end, and the fixture checks that no container, network or volume of the
project is left.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import secrets
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from binhchon_kit.auth.devtoken import ensure_keys
from binhchon_kit.testing.infra import free_port
from binhchon_tools.demo import Refused, auth_with, certificates, play_round, poll

ROOT = Path(__file__).resolve().parents[3]
IMAGES_ENV = ROOT / "infra" / "compose" / "images.env"
PROFILE = os.environ.get("BINHCHON_COMPOSE_PROFILE", "")
PRODUCER_MAIL = "htx.donghung@example.vn"  # binhchon_kit.testing.samples.dossier_body's contact
UP_SECONDS = 600
RESULTS = Path(os.environ.get("BINHCHON_CACHE", Path.home() / ".cache" / "binhchon")) / "compose-test.jsonl"


def report(**fields: Any) -> None:
    """One JSON line per measurement, printed and kept beside the image build times."""
    line = json.dumps({"profile": PROFILE or "default", **fields}, ensure_ascii=False)
    print(line)
    with RESULTS.open("a") as out:
        out.write(line + "\n")


@dataclass
class Deployment:
    project: str
    files: list[str]
    env: dict[str, str]
    urls: dict[str, str]

    def compose(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = ["docker", "compose", "-p", self.project, "--project-directory", str(ROOT), "--env-file",
               str(IMAGES_ENV)]
        for f in self.files:
            cmd += ["-f", f]
        result = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout, env=self.env)
        if check and result.returncode != 0:
            raise AssertionError(f"docker compose {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def containers(self, service: str) -> list[str]:
        return self.compose("ps", "-q", service).stdout.split()

    def inspect(self, container: str, template: str) -> str:
        return subprocess.run(["docker", "inspect", "-f", template, container], capture_output=True, text=True,
                              timeout=30, check=True).stdout.strip()

    def crash(self, service: str) -> Crash:
        """SIGKILL the first container of ``service`` from the host: a crash, so the restart policy applies.
        A watcher times how long until the container runs again and its health check passes."""
        container = self.containers(service)[0]
        crash = Crash(service, container, int(self.inspect(container, "{{.RestartCount}}")))
        os.kill(int(self.inspect(container, "{{.State.Pid}}")), 9)
        crash.watcher = threading.Thread(target=self._watch, args=(crash,), daemon=True)
        crash.watcher.start()
        return crash

    def _watch(self, crash: Crash, seconds: float = 300) -> None:
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            state = self.inspect(crash.container, "{{.RestartCount}} {{.State.Running}} "
                                 "{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}").split()
            if int(state[0]) > crash.restarts_before and state[1] == "true" and state[2] in ("healthy", "none"):
                crash.healthy_after = time.monotonic() - start
                return
            time.sleep(0.25)


@dataclass
class Crash:
    service: str
    container: str
    restarts_before: int
    healthy_after: float | None = None
    watcher: threading.Thread | None = None

    def back(self, seconds: float = 300) -> float:
        """Seconds from the kill until the container was restarted and healthy again."""
        assert self.watcher is not None
        self.watcher.join(seconds)
        assert self.healthy_after is not None, f"{self.service} ({self.container}) did not come back healthy"
        return self.healthy_after


def chosen_images() -> dict[str, str]:
    """What `make images` chose (infra/compose/images.env)."""
    pairs = (line.split("=", 1) for line in IMAGES_ENV.read_text().splitlines() if "=" in line and line[0] != "#")
    return {k: v for k, v in pairs}


def leftovers(project: str) -> dict[str, list[str]]:
    label = f"label=com.docker.compose.project={project}"
    found = {}
    for kind, cmd in {"containers": ["docker", "ps", "-aq"], "networks": ["docker", "network", "ls", "-q"],
                      "volumes": ["docker", "volume", "ls", "-q"]}.items():
        found[kind] = subprocess.run([*cmd, "--filter", label], capture_output=True, text=True, timeout=60,
                                     check=True).stdout.split()
    return {k: v for k, v in found.items() if v}


def keys_directory(path: Path) -> Path:
    """The token verification key (the dev key pair's public half) and a fresh certificate signing key,
    readable by the services' unprivileged user (uid 10001)."""
    path.mkdir(mode=0o755)
    path.chmod(0o755)
    (path / "public.pem").write_bytes(ensure_keys()[1].read_bytes())
    signing = Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption())
    (path / "cert-signing.pem").write_bytes(signing)
    for f in path.iterdir():
        f.chmod(0o644)
    return path


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    if not IMAGES_ENV.exists():
        pytest.fail(f"{IMAGES_ENV} is missing: run `make images` first (make compose-test does)")
    project = f"binhchon-ct-{secrets.token_hex(3)}"
    replicas = 2 if PROFILE == "ha" else 1
    ports = {name: free_port() for name in ("kafka", "kafka_2", "kafka_3", "mailpit_ui", "mailpit_smtp")}
    for service in ("intake", "scoring", "certification", "notify"):
        first = free_port()
        while replicas == 2 and not port_free(first + 1):
            first = free_port()
        ports[service] = first
    span = (lambda p: f"{p}-{p + 1}") if replicas == 2 else str
    env = {**os.environ, "COMPOSE_PROGRESS": "plain",
           "BINHCHON_AUTH_KEYS_DIR": str(keys_directory(tmp_path_factory.mktemp("compose") / "keys")),
           "BINHCHON_KAFKA_EXTERNAL_PORT": str(ports["kafka"]),
           "BINHCHON_KAFKA_2_EXTERNAL_PORT": str(ports["kafka_2"]),
           "BINHCHON_KAFKA_3_EXTERNAL_PORT": str(ports["kafka_3"]),
           "BINHCHON_MAILPIT_UI_PORT": str(ports["mailpit_ui"]),
           "BINHCHON_MAILPIT_SMTP_PORT": str(ports["mailpit_smtp"]),
           "BINHCHON_PUBLIC_BASE_URL": f"http://127.0.0.1:{ports['certification']}",
           "BINHCHON_INTAKE_PUBLIC_URL": f"http://127.0.0.1:{ports['intake']}"}
    for service in ("intake", "scoring", "certification", "notify"):
        env[f"BINHCHON_{service.upper()}_PORT"] = span(ports[service])
    files = [str(ROOT / "docker-compose.yml")]
    if PROFILE == "ha":
        files.append(str(ROOT / "infra" / "compose" / "ha.yml"))
        if chosen_images().get("BINHCHON_MONGO_IMAGE", "").startswith("mongo:"):  # a replica set needs MongoDB
            files.append(str(ROOT / "infra" / "compose" / "ha-mongo.yml"))
    elif PROFILE:
        pytest.fail(f"unknown PROFILE {PROFILE!r}: the default (empty) or ha")
    urls = {s: f"http://127.0.0.1:{ports[s]}" for s in ("intake", "scoring", "certification", "notify")}
    urls["mailpit"] = f"http://127.0.0.1:{ports['mailpit_ui']}"
    stack = Deployment(project, files, env, urls)
    start = time.monotonic()
    try:
        stack.compose("up", "-d", "--wait", "--wait-timeout", str(UP_SECONDS), "--pull", "never", "--no-build",
                      timeout=UP_SECONDS + 60)
        report(measure="up --wait (every container healthy)", seconds=round(time.monotonic() - start, 1),
               containers=len(stack.compose("ps", "-q").stdout.split()))
        yield stack
    finally:
        logs = stack.compose("logs", "--no-color", "--tail", "200", timeout=120, check=False).stdout
        (tmp_path_factory.getbasetemp() / f"{project}.log").write_text(logs)
        start = time.monotonic()
        stack.compose("down", "-v", "--remove-orphans", "--timeout", "30", timeout=300, check=False)
        report(measure="down -v", seconds=round(time.monotonic() - start, 1))
        left = leftovers(project)
        assert not left, f"docker compose down -v left {left} of project {project}"


def port_free(port: int) -> bool:
    import socket
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def producer_mails(mailpit: str, seconds: float = 120, until: Any = None) -> list[email.message.EmailMessage]:
    """The producer's mails as a mail client reads them: raw RFC 5322 from the catcher, parsed by Python's
    email package (the `default` policy decodes RFC 2047 headers and the transfer encodings)."""
    with httpx.Client(base_url=mailpit, timeout=30) as catcher:
        def arrived() -> list[email.message.EmailMessage] | None:
            found = catcher.get("/api/v1/search", params={"query": f"to:{PRODUCER_MAIL}", "limit": 500}).json()
            mails = [email.message_from_bytes(catcher.get(f"/api/v1/message/{m['ID']}/raw").content,
                                              policy=email.policy.default)
                     for m in found.get("messages", [])]
            return mails if until is None or until(mails) else None
        return poll("the producer's mails in the catcher", arrived, seconds)  # type: ignore[no-any-return]


def test_a_whole_round_through_the_published_ports_survives_crashes(deployment: Deployment) -> None:
    auth = auth_with(ensure_keys()[0].read_bytes())
    run = uuid.uuid4().hex[:4].upper()
    # notify dies before the first dossier comes in: its mails must still go out when it is back
    crashed = [deployment.crash("notify")]

    def mid_round() -> None:
        # certification dies just before the authority decides; in ha a broker goes down with it
        crashed.extend(deployment.crash(s) for s in ("certification", *(("kafka-2",) if PROFILE == "ha" else ())))

    start = time.monotonic()
    with httpx.Client(base_url=deployment.urls["intake"], timeout=60) as intake, \
            httpx.Client(base_url=deployment.urls["scoring"], timeout=60) as scoring, \
            httpx.Client(base_url=deployment.urls["certification"], timeout=60) as certification:
        try:
            played = play_round(intake, scoring, auth, run, before_approval=mid_round)
            issued = certificates(certification, auth, played, expected=1, seconds=240)
        except Refused as refused:
            pytest.fail(str(refused))
    report(measure="round: submitted to certificate verified", seconds=round(time.monotonic() - start, 1))

    assert [c["product_name"] for c in issued] == ["Chè Tân Cương"]
    number = issued[0]["number"]
    page = httpx.get(f"{deployment.urls['certification']}/verify/{number}", timeout=30)
    assert page.status_code == 200 and "Chè Tân Cương" in page.text

    # every mail the producer is owed, each at least once (a crash may repeat one, never lose one): a receipt
    # per dossier (and one for the escalated dossier in the national round), an acceptance and a result per
    # dossier, and the certificate of the one product recognised at province level
    owed = {"Giấy biên nhận hồ sơ số": len(played.dossiers) + 1, "Hồ sơ đã được tiếp nhận hợp lệ": len(played.dossiers),
            "Kết quả đánh giá sản phẩm": len(played.dossiers), f"Giấy chứng nhận số {number}": 1}

    def delivered(mails: list[email.message.EmailMessage]) -> dict[str, int]:
        subjects = {str(m["subject"]) for m in mails}
        return {kind: sum(kind in s for s in subjects) for kind in owed}

    mails = producer_mails(deployment.urls["mailpit"], seconds=240, until=lambda m: delivered(m) == owed)
    report(measure="producer mails", count=len(mails), subjects=sorted(str(m["subject"]) for m in mails))
    certificate_mail = next(m for m in mails if f"Giấy chứng nhận số {number}" in str(m["subject"]))
    body = certificate_mail.get_body(preferencelist=("plain",))
    assert body is not None and "Chè Tân Cương" in body.get_content()
    assert PRODUCER_MAIL in str(certificate_mail["to"])

    for crash in crashed:
        report(measure=f"{crash.service} killed (SIGKILL) until restarted and healthy", seconds=round(crash.back(), 1))
