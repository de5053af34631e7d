"""The compose deployment, run for real: `make compose-test` (and `make compose-test PROFILE=ha`).

The stack is started from docker-compose.yml with the images `make images` built (infra/compose/images.env),
under a project name of its own and on free host ports, so it never meets `make up` or another run. A whole
OCOP round is then played through the published ports only (the same round as `binhchon-demo`): dossiers in,
scored, proposed, approved, the certificate verifying on /verify, the producer's mails read back from the
mail catcher and parsed by Python's mail parser. Meanwhile services are killed with SIGKILL, the way a crash
or the kernel's OOM killer ends them: the restart policy must bring each back and it must catch up with
nothing lost. With PROFILE=ha (infra/compose/ha.yml) a Kafka broker is killed in the middle of the round too.
Then the history is backed up and restored the way infra/compose/README.md tells ops to (services stopped, the
store dumped, the brokers' volumes archived, everything deleted, restored into an empty deployment): every
certificate still verifies, every topic holds what it held, and the restored services take new commands.
The broker and the store are locked (docs/adr/0044): every client signs in as a principal with a password made
for this run only (infra/compose/credentials.sh), and the round runs that way; a forged `result.approved` produced
to scoring's topic with another service's password is refused by the broker, and a service's own store user
cannot read another service's database.
`docker compose down -v` runs at the end, and the fixture checks that no container, network or volume of the
project is left.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import os
import re
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
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import ClusterAuthorizationFailedError, KafkaConnectionError, TopicAuthorizationFailedError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from binhchon_kit.auth.devtoken import ensure_keys, mint
from binhchon_kit.personal import MasterKey
from binhchon_kit.principals import AUDITOR, client_options
from binhchon_kit.testing.infra import free_port
from binhchon_kit.testing.samples import round_body
from binhchon_kit.trust import PRODUCERS_DIR, write_keys
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

    def output(self, *args: str, stdin: bytes | None = None, timeout: float = 600) -> bytes:
        """What a compose command printed, as bytes (a dump); fails with its error output otherwise."""
        cmd = ["docker", "compose", "-p", self.project, "--project-directory", str(ROOT), "--env-file",
               str(IMAGES_ENV), *(a for f in self.files for a in ("-f", f)), *args]
        result = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout, env=self.env)
        assert result.returncode == 0, f"docker compose {' '.join(args)}: {result.stderr.decode()[-3000:]}"
        return result.stdout

    def kafka(self, principal: str = AUDITOR) -> dict[str, Any]:
        """The compose broker's published listener, signed in as ``principal`` (SASL/SCRAM) with this run's
        password: aiokafka's keyword arguments."""
        return {"bootstrap_servers": f"127.0.0.1:{self.env['BINHCHON_KAFKA_EXTERNAL_PORT']}",
                **client_options(principal, credentials_dir=str(Path(self.env["BINHCHON_CREDENTIALS_DIR"]) / "kafka"),
                                 env={})}

    def brokers(self) -> list[str]:
        return [s for s in self.compose("config", "--services").stdout.split() if s.startswith("kafka") and
                s != "kafka-init"]

    def containers(self, service: str) -> list[str]:
        return self.compose("ps", "-q", service).stdout.split()

    def inspect(self, container: str, template: str) -> str:
        return subprocess.run(["docker", "inspect", "-f", template, container], capture_output=True, text=True,
                              timeout=30, check=True).stdout.strip()

    def volume_tar(self, broker: str, archive: Path, *, restore: bool = False) -> None:
        """Archive a stopped broker's data volume into ``archive`` (or unpack it back), with the broker image's
        own tar, as root, keeping owners."""
        volume = f"{self.project}_{'kafka-data' if broker == 'kafka' else broker + '-data'}"
        image = chosen_images()["BINHCHON_KAFKA_IMAGE"]
        tar = ["-xzf" if restore else "-czf", f"/backup/{archive.name}"]
        subprocess.run(["docker", "run", "--rm", "--user", "0", "--entrypoint", "tar", "-v",
                        f"{volume}:/data{'' if restore else ':ro'}", "-v", f"{archive.parent}:/backup", image,
                        "-C", "/data", *tar, *([] if restore else ["."])], check=True, capture_output=True,
                       timeout=600)

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


SERVICES = ("intake", "scoring", "certification", "notify")


async def topic_sizes(kafka: dict[str, Any]) -> dict[str, int]:
    """How many messages each service topic holds (end offsets, summed over partitions)."""
    consumer = AIOKafkaConsumer(**kafka)
    await consumer.start()
    try:
        sizes = {}
        for topic in (f"{s}.events" for s in SERVICES):
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            if not partitions:
                await consumer.topics()  # refresh metadata once
                partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            sizes[topic] = sum((await consumer.end_offsets(partitions)).values())
        return sizes
    finally:
        await consumer.stop()


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
    """The token verification key (the dev key pair's public half), a fresh certificate signing key, each service's
    fresh log key and the public keys consumers trust (ADR 0026), readable by the services' unprivileged user
    (uid 10001)."""
    path.mkdir(mode=0o755)
    path.chmod(0o755)
    (path / "public.pem").write_bytes(ensure_keys()[1].read_bytes())
    (path / "cert-signing.pem").write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    write_keys(path)
    # intake's personal-data master key, one for every replica, and notify's token to ask intake for keys (ADR 0035)
    MasterKey.write_new(path / "personal-data-master.key")
    for reader in ("notify", "scoring", "certification"):  # scoring and certification: ADR 0048
        (path / f"{reader}-service.token").write_text(mint(ensure_keys()[0].read_bytes(), subject=reader,
                                                           roles=["service"], hours=6))
    for f in [*path.iterdir(), *(path / PRODUCERS_DIR).iterdir()]:
        f.chmod(0o755 if f.is_dir() else 0o644)
    return path


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    if not IMAGES_ENV.exists():
        pytest.fail(f"{IMAGES_ENV} is missing: run `make images` first (make compose-test does)")
    project = f"binhchon-ct-{secrets.token_hex(3)}"
    # this run's passwords, made the way ops make them (never the ones of a deployment on this host)
    credentials = tmp_path_factory.mktemp("compose") / "credentials"
    subprocess.run([str(ROOT / "infra" / "compose" / "credentials.sh"), str(credentials)], check=True, timeout=120)
    replicas = 2 if PROFILE == "ha" else 1
    # the portal is one replica in either profile: its sessions live in its memory (docs/adr/0049)
    ports = {name: free_port() for name in ("kafka", "kafka_2", "kafka_3", "mailpit_ui", "mailpit_smtp", "portal")}
    for service in ("intake", "scoring", "certification", "notify"):
        first = free_port()
        while replicas == 2 and not port_free(first + 1):
            first = free_port()
        ports[service] = first
    span = (lambda p: f"{p}-{p + 1}") if replicas == 2 else str
    env = {**os.environ, "COMPOSE_PROGRESS": "plain",
           "BINHCHON_AUTH_KEYS_DIR": str(keys_directory(tmp_path_factory.mktemp("compose") / "keys")),
           "BINHCHON_CREDENTIALS_DIR": str(credentials),
           "BINHCHON_KAFKA_EXTERNAL_PORT": str(ports["kafka"]),
           "BINHCHON_KAFKA_2_EXTERNAL_PORT": str(ports["kafka_2"]),
           "BINHCHON_KAFKA_3_EXTERNAL_PORT": str(ports["kafka_3"]),
           "BINHCHON_MAILPIT_UI_PORT": str(ports["mailpit_ui"]),
           "BINHCHON_MAILPIT_SMTP_PORT": str(ports["mailpit_smtp"]),
           "BINHCHON_PORTAL_PORT": str(ports["portal"]),
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
    urls["portal"] = f"http://127.0.0.1:{ports['portal']}"
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
        RESULTS.with_name(f"{project}.log").write_text(logs)  # kept beside the results: pytest rotates its tmp
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

    # the portal behind its published port: it reaches the four services on the compose network, and production's
    # sign-in is the identity provider's only (no development sign-in in compose, docs/adr/0049)
    # once the services killed above are back (in ha a broker with them: they rejoin it in their own time)
    ready = poll("the portal to reach the four services", lambda: (
        r if (r := httpx.get(f"{deployment.urls['portal']}/readyz", timeout=30)).status_code == 200 else None),
        seconds=180)
    assert ready.json()["checks"] == {s: "ok" for s in ("intake", "scoring", "certification", "notify")}
    assert httpx.get(f"{deployment.urls['portal']}/dang-nhap/thu-nghiem", timeout=30).status_code == 404

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


FORGED = json.dumps({"specversion": "1.0", "type": "result.approved", "source": "/binhchon/scoring",
                     "id": "forged-compose-1", "actorid": "attacker", "hash": "f" * 64}).encode()


async def produce(kafka: dict[str, Any], topic: str, *, idempotent: bool = True) -> None:
    producer = AIOKafkaProducer(**kafka, enable_idempotence=idempotent, acks="all", request_timeout_ms=15000)
    await producer.start()
    try:
        await producer.send_and_wait(topic, FORGED, key=b"dossier-forged")
    finally:
        await producer.stop()


def test_the_broker_refuses_a_forged_result_approved_from_another_principal(deployment: Deployment) -> None:
    """The probe's critical finding, against the compose broker: a made-up `result.approved` produced to scoring's
    topic. Every other service's own password signs in and is refused the write; the auditor may write nowhere;
    a client without credentials is not even let in. Nothing lands on the topic."""
    before = asyncio.run(topic_sizes(deployment.kafka()))["scoring.events"]
    refused = []
    for principal in ("intake", "certification", "notify"):
        with pytest.raises(TopicAuthorizationFailedError):
            asyncio.run(produce(deployment.kafka(principal), "scoring.events"))
        refused.append(principal)
    with pytest.raises(ClusterAuthorizationFailedError):  # not even an idempotent producer's id
        asyncio.run(produce(deployment.kafka(AUDITOR), "scoring.events"))
    with pytest.raises(TopicAuthorizationFailedError):
        asyncio.run(produce(deployment.kafka(AUDITOR), "scoring.events", idempotent=False))
    anonymous = {"bootstrap_servers": deployment.kafka()["bootstrap_servers"]}
    with pytest.raises(KafkaConnectionError):
        asyncio.run(produce(anonymous, "scoring.events"))
    assert asyncio.run(topic_sizes(deployment.kafka()))["scoring.events"] == before
    report(measure="forged result.approved on scoring.events refused", principals=[*refused, AUDITOR, "anonymous"])


# Run inside a service's container, with only what that container has: its own store password (a secret) and the
# settings compose gives it. Prints what it could and could not do, as JSON.
STORE_PROBE = """
import json, os
from pymongo import MongoClient
from pymongo.errors import PyMongoError
from binhchon_kit.store_principals import service_url
me, other = os.environ["PROBE_SERVICE"], os.environ["PROBE_OTHER"]
def attempt(url, database):
    client = MongoClient(url, serverSelectionTimeoutMS=10000)
    try:
        return {"read": client[database]["events"].find_one() is not None}
    except PyMongoError as failure:  # OperationFailure: unauthorised, or no user to run the query as
        return {"refused": type(failure).__name__, "message": str(failure)[-300:]}
    finally:
        client.close()
url = os.environ["MONGODB_URL"]
signed_in = service_url(url, me, os.environ["MONGODB_CREDENTIALS_DIR"], os.environ["MONGODB_AUTH_MECHANISM"],
                        os.environ["MONGODB_AUTH_SOURCE"])
print(json.dumps({"own": attempt(signed_in, "binhchon_" + me), "other": attempt(signed_in, "binhchon_" + other),
                  "anonymous": attempt(url, "binhchon_" + me),
                  "passwords": sorted(os.listdir(os.environ["MONGODB_CREDENTIALS_DIR"]))}))
"""


def test_a_service_reads_its_own_database_and_no_other(deployment: Deployment) -> None:
    """Each service is its own store user (docs/adr/0039): inside intake's container, with intake's password, intake's
    events read and scoring's refused; without signing in, nothing; and the container holds no other password."""
    for service, other in (("intake", "scoring"), ("scoring", "certification")):
        container = deployment.containers(service)[0]
        result = subprocess.run(["docker", "exec", "-e", f"PROBE_SERVICE={service}", "-e", f"PROBE_OTHER={other}",
                                 container, "python", "-c", STORE_PROBE], capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, result.stderr[-3000:]
        probe = json.loads(result.stdout.strip().splitlines()[-1])
        report(measure=f"{service}'s store user", **probe)
        assert probe["own"] == {"read": True}, probe  # the round above left events in every service's store
        # PostgreSQL's words under FerretDB (every role sees the schemas, for FerretDB's catalogue: ADR 0039, so the
        # table refuses), MongoDB's own on mongo:8.0; anonymous: no user to run the query as
        assert re.search(r"permission denied for (table|schema) |not authorized on binhchon_",
                         probe["other"].get("message", "")), probe
        assert re.search(r"password authentication failed|no password|requires authentication",
                         probe["anonymous"].get("message", "")), probe
        assert probe["passwords"] == [f"{service}.password"], probe


def test_the_history_survives_a_backup_and_a_restore(deployment: Deployment, tmp_path: Path) -> None:
    """infra/compose/README.md's backup and restore, run as written (after the round above)."""
    public = deployment.urls["certification"]
    registry = httpx.get(f"{public}/registry.json", params={"limit": 100}, timeout=30).json()["items"]
    assert registry, "nothing to back up: the round above left no certificate"
    auditor = deployment.kafka(AUDITOR)  # reads every topic, writes none
    sizes = asyncio.run(topic_sizes(auditor))
    mongodb = chosen_images()["BINHCHON_MONGO_IMAGE"].startswith("mongo:")
    start = time.monotonic()

    deployment.compose("stop", *SERVICES)
    if mongodb:
        dump = deployment.output("exec", "-T", "mongo", "mongodump", "--archive", "--gzip")
    else:
        dump = deployment.output("exec", "-T", "mongo", "pg_dump", "-h", "/data/db/postgresql", "-U", "binhchon",
                                 "-Fc", "ferretdb")
    brokers = deployment.brokers()
    deployment.compose("stop", *brokers)
    for broker in brokers:
        deployment.volume_tar(broker, tmp_path / f"{broker}-data.tgz")
    report(measure="backup (services stopped, store dumped, broker volumes archived)",
           seconds=round(time.monotonic() - start, 1), store_bytes=len(dump),
           broker_bytes=sum((tmp_path / f"{b}-data.tgz").stat().st_size for b in brokers))

    start = time.monotonic()
    deployment.compose("down", "-v", "--timeout", "30", timeout=300)
    deployment.compose("up", "-d", "--wait", "--pull", "never", "--no-build", "mongo", timeout=600)
    deployment.compose("create", "--pull", "never", "--no-build", *brokers)
    for broker in brokers:
        deployment.volume_tar(broker, tmp_path / f"{broker}-data.tgz", restore=True)
    if mongodb:
        deployment.output("exec", "-T", "mongo", "mongorestore", "--archive", "--gzip", "--drop", stdin=dump)
    else:
        deployment.output("exec", "-T", "mongo", "pg_restore", "-h", "/data/db/postgresql", "-U", "binhchon",
                          "-d", "ferretdb", "--clean", "--if-exists", stdin=dump)
        deployment.compose("restart", "mongo")  # FerretDB reads its catalogue at start
    deployment.compose("up", "-d", "--wait", "--wait-timeout", str(UP_SECONDS), "--pull", "never", "--no-build",
                       timeout=UP_SECONDS + 60)
    report(measure="restore into an empty deployment, up to every container healthy",
           seconds=round(time.monotonic() - start, 1))

    assert asyncio.run(topic_sizes(auditor)) == sizes
    assert httpx.get(f"{public}/registry.json", params={"limit": 100}, timeout=30).json()["items"] == registry
    for item in registry:
        page = httpx.get(f"{public}/verify/{item['number']}", timeout=30)
        assert page.status_code == 200 and item["product_name"] in page.text
    # the restored services take commands, and their events go out after the restored ones
    auth = auth_with(ensure_keys()[0].read_bytes())
    sec = auth("thuky-1", "secretariat")
    r = httpx.post(f"{deployment.urls['intake']}/rounds", headers=sec, timeout=30,
                   json=round_body(f"OCOP-RESTORED-{uuid.uuid4().hex[:4].upper()}", level="province",
                                   rulebook_id="ocop-2023"))
    assert r.status_code == 201, r.text
    round_id = r.json()["round_id"]
    poll("the new round's event on the restored topic", lambda: asyncio.run(
        topic_holds(auditor, "intake.events", round_id.encode())), 120)


async def topic_holds(kafka: dict[str, Any], topic: str, needle: bytes) -> bool:
    consumer = AIOKafkaConsumer(topic, **kafka, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=3000)
        return any(needle in (m.value or b"") for messages in batches.values() for m in messages)
    finally:
        await consumer.stop()
