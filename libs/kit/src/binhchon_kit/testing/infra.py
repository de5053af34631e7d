"""Real Kafka and a real MongoDB-protocol server for tests, found in this order:

1. ``KAFKA_BOOTSTRAP_SERVERS`` and ``MONGODB_URL`` from the environment;
2. where a Docker engine answers and has the images ``make images`` builds (``binhchon/kafka``,
   ``binhchon/ferretdb``): one container of each, on free ports, removed at the end;
3. where an engine answers and a registry gives them: testcontainers (Kafka in KRaft mode, MongoDB);
4. the native stack of ``infra/local`` (Apache Kafka on the JVM; FerretDB on PostgreSQL from Debian's packages),
   installed on first use, each on free ports.

If none can be had the tests fail, saying how to get one; they never skip. ``Infra.origin`` says which was used
(pytest prints it in its header).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from binhchon_kit.principals import client_options, write_credentials
from binhchon_kit.store_principals import signed_in_url

REPO = Path(__file__).resolve().parents[5]
LOCAL = REPO / "infra" / "local"


@dataclass
class Infra:
    kafka: str
    mongodb: str
    origin: str
    # the broker's credentials (a <principal>.password each, binhchon_kit.principals); None: a PLAINTEXT broker
    kafka_credentials: Path | None = None

    def kafka_client(self, principal: str = "admin") -> dict[str, Any]:
        """aiokafka's sign-in arguments as ``principal`` (admin: the super user a test forges and inspects with)."""
        if self.kafka_credentials is None:
            return client_options(principal)  # the environment's, if it gave any
        return client_options(principal, credentials_dir=str(self.kafka_credentials), env={})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_port_pair() -> int:
    """A port p with p+1 free too (the broker listens on p, its controller on p+1)."""
    for _ in range(50):
        p = free_port()
        with contextlib.suppress(OSError), socket.socket() as s:
            s.bind(("127.0.0.1", p + 1))
            return p
    raise RuntimeError("no two consecutive free ports")


# The images testcontainers runs for the suite. Where an engine answers but no registry does (an air-gapped data
# centre, these machines), they cannot be had: the suite then runs on the native stack instead (issue 11).
TEST_IMAGES = ("confluentinc/cp-kafka:7.7.1", "mongo:8.0")
PULL_SECONDS = 120

Runner = Callable[..., "subprocess.CompletedProcess[bytes]"]


def images_ready(images: tuple[str, ...] = TEST_IMAGES, run: Runner = subprocess.run,
                 pull_seconds: float = PULL_SECONDS) -> str | None:
    """None when the engine has every image (pulling what it lacks, within ``pull_seconds``); otherwise why not."""
    for image in images:
        try:
            if run(["docker", "image", "inspect", image], capture_output=True, timeout=30).returncode == 0:
                continue
            if run(["docker", "pull", image], capture_output=True, timeout=pull_seconds).returncode == 0:
                continue
        except subprocess.TimeoutExpired:
            return f"{image} is not on the engine and did not arrive within {pull_seconds:.0f}s"
        except OSError as exc:
            return f"docker could not be run: {exc}"
        return f"{image} is not on the engine and no registry gave it"
    return None


def pinned_versions() -> dict[str, str]:
    """infra/local/versions.env, the one place the infrastructure's versions are pinned."""
    pairs = (line.split("=", 1) for line in (LOCAL / "versions.env").read_text().splitlines()
             if "=" in line and not line.lstrip().startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


def local_images() -> tuple[str, str]:
    """The Kafka and MongoDB-protocol images ``make images`` builds here (infra/images/kafka, ferretdb)."""
    v = pinned_versions()
    return f"binhchon/kafka:{v['KAFKA_VERSION']}", f"binhchon/ferretdb:{v['FERRETDB_VERSION']}-{v['FERRETDB_BUILD']}"


def images_present(images: tuple[str, ...], run: Runner = subprocess.run) -> bool:
    """Whether the engine has every image already (never pulls: these are built, not downloaded)."""
    try:
        return all(run(["docker", "image", "inspect", image], capture_output=True, timeout=30).returncode == 0
                   for image in images)
    except (OSError, subprocess.TimeoutExpired):
        return False


class LocalImageStack:
    """One broker and one FerretDB-on-PostgreSQL container from the locally built images, on free host ports.

    The broker is configured like the native one (infra/local/kafka.sh): KRaft, one node, no implicit topics,
    history kept; it advertises the published port, so clients on the host reach it as on the native stack.
    """

    def __init__(self, kafka_image: str, mongo_image: str, run: Runner = subprocess.run) -> None:
        self.kafka_image, self.mongo_image, self.run = kafka_image, mongo_image, run
        self.name = f"binhchon-test-{secrets.token_hex(3)}"
        self.kafka_port, self.mongo_port = free_port(), free_port()
        self.started: list[str] = []

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.mongo_port}/"

    def _docker(self, *args: str, timeout: float = 120) -> str:
        result = self.run(["docker", *args], capture_output=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)} failed: {result.stderr.decode(errors='replace')[-2000:]}")
        return str(result.stdout.decode().strip())

    def start(self, seconds: float = 240) -> None:
        p = self.kafka_port
        broker = {
            "CLUSTER_ID": "bInHcHoNtEsTcLuStErIdA", "KAFKA_NODE_ID": "1",
            "KAFKA_PROCESS_ROLES": "broker,controller", "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
            "KAFKA_LISTENERS": f"PLAINTEXT://:{p},CONTROLLER://:9093",
            "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://127.0.0.1:{p}",
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER", "KAFKA_INTER_BROKER_LISTENER_NAME": "PLAINTEXT",
            "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false", "KAFKA_LOG_RETENTION_MS": "-1", "KAFKA_NUM_PARTITIONS": "6",
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1", "KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS": "6",
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1", "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
            "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
            "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1", "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        }
        labels = ["--label", "org.binhchon.test=1", "--rm", "-d"]
        self.started.append(self._docker(
            "run", *labels, "--name", f"{self.name}-kafka", "-p", f"127.0.0.1:{p}:{p}",
            *(f"--env={k}={v}" for k, v in broker.items()),
            "--health-cmd", f"/opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server localhost:{p}",
            "--health-interval", "2s", "--health-timeout", "20s", "--health-retries", "60", self.kafka_image))
        self.started.append(self._docker(
            "run", *labels, "--name", f"{self.name}-ferretdb", "-p", f"127.0.0.1:{self.mongo_port}:27017",
            "--health-cmd", "/usr/local/bin/ferretdb-ready", "--health-interval", "1s", "--health-retries", "120",
            self.mongo_image))
        deadline = time.monotonic() + seconds
        for container in self.started:
            while (status := self._docker("inspect", "-f", "{{.State.Health.Status}}", container)) != "healthy":
                if time.monotonic() > deadline or status == "unhealthy":
                    logs = self.run(["docker", "logs", "--tail", "40", container], capture_output=True, timeout=30)
                    raise RuntimeError(f"{container} is {status} after {seconds:.0f} s:\n"
                                       f"{(logs.stdout + logs.stderr).decode(errors='replace')}")
                time.sleep(0.5)

    def stop(self) -> None:
        for container in self.started:
            self.run(["docker", "rm", "-f", "-v", container], capture_output=True, timeout=120)
        self.started.clear()


def docker_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class NativeKafka:
    """A broker of our own, which a fault test may stop and start again; with ``credentials`` (a directory of
    password files) it takes only SASL/SCRAM sign-ins and enforces binhchon's ACLs (docs/adr/0031)."""

    def __init__(self, directory: Path, port: int | None = None, credentials: Path | None = None) -> None:
        self.dir = directory
        self.port = port or free_port_pair()
        self.credentials = credentials

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        _run([str(LOCAL / "kafka.sh"), "start", str(self.dir), str(self.port)],
             {"BINHCHON_KAFKA_CREDENTIALS": str(self.credentials)} if self.credentials else None)

    def stop(self) -> None:
        _run([str(LOCAL / "kafka.sh"), "stop", str(self.dir)])


class NativePostgres:
    """A PostgreSQL cluster of our own (FerretDB's storage), which a fault test may stop and start again.

    ``settings``: more lines for its configuration at each start (``BINHCHON_PG_SETTINGS`` of postgres.sh)."""

    def __init__(self, directory: Path, port: int | None = None, settings: str = "") -> None:
        self.dir = directory
        self.port = port or free_port()
        self.settings = settings

    @property
    def data(self) -> Path:
        return self.dir / "data"

    def start(self) -> None:
        _run([str(LOCAL / "postgres.sh"), "start", str(self.dir), str(self.port)],
             {"BINHCHON_PG_SETTINGS": self.settings} if self.settings else None)

    def stop(self) -> None:
        _run([str(LOCAL / "postgres.sh"), "stop", str(self.dir)])

    @property
    def owner_password(self) -> str:
        """The cluster owner's password (postgres.sh made it at initdb): the store's administrator."""
        return (self.dir / "password").read_text().strip()

    def psql(self, sql: str) -> None:
        """Run ``sql`` as the cluster's owner (roles and grants: binhchon_kit.store_principals)."""
        result = subprocess.run([str(LOCAL / "postgres.sh"), "psql", str(self.dir)], input=sql, capture_output=True,
                                text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"psql failed ({result.returncode}):\n{result.stderr[-3000:]}")


class NativeFerretDB:
    """FerretDB on its PostgreSQL backend: ``start`` starts PostgreSQL, then FerretDB; ``stop`` the reverse.

    ``flags`` are passed to FerretDB (a second server over the same PostgreSQL, e.g. ``--test-disable-pushdown``
    as a reference; stop it with ``stop(postgres=False)``).
    """

    def __init__(self, directory: Path, port: int | None = None, postgres: NativePostgres | None = None,
                 flags: tuple[str, ...] = ()) -> None:
        self.dir = directory
        self.port = port or free_port()
        self.postgres = postgres or NativePostgres(directory.with_name(f"{directory.name}-postgres"))
        self.flags = flags

    @property
    def anonymous_url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    @property
    def url(self) -> str:
        """Signed in as the store's administrator (the cluster's owner): FerretDB lets no one in without a user
        (docs/adr/0039), and the tests make databases of every service's under names of their own."""
        return signed_in_url(self.anonymous_url, "binhchon", self.postgres.owner_password)

    def start(self) -> None:
        self.postgres.start()
        _run([str(LOCAL / "ferretdb.sh"), "start", str(self.dir), str(self.port), str(self.postgres.dir)],
             {"BINHCHON_FERRETDB_FLAGS": " ".join(self.flags)} if self.flags else None)

    def stop(self, *, postgres: bool = True) -> None:
        try:
            _run([str(LOCAL / "ferretdb.sh"), "stop", str(self.dir)])
        finally:
            if postgres:
                self.postgres.stop()


@contextlib.contextmanager
def private_store(name: str, pg_settings: str = "") -> Iterator[NativeFerretDB]:
    """A store of a test's own, to stop and start (an outage) without touching the suite's: its PostgreSQL and
    FerretDB under the checkout's .run (not /tmp/pytest-of-…, which is closed to the server's user), removed after.
    ``pg_settings``: more lines for its PostgreSQL's configuration (binhchon_kit.testing.table_reads)."""
    workdir = REPO / ".run" / name
    store = NativeFerretDB(workdir / "ferretdb", postgres=NativePostgres(workdir / "postgres", settings=pg_settings))
    store.start()
    try:
        yield store
    finally:
        store.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _run(cmd: list[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                            env={**os.environ, **env} if env else None)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr[-3000:]}")


HOW_TO = (
    "binhchon's integration tests need a real Kafka broker and a real MongoDB-protocol server. Either set "
    "KAFKA_BOOTSTRAP_SERVERS and MONGODB_URL, or run a Docker engine (testcontainers), or let "
    "infra/local/install.sh install Apache Kafka (needs java 17+ and mvn), PostgreSQL (Debian's postgresql-15, "
    "installed by apt-get when run as root) and FerretDB (needs go)."
)


@contextlib.contextmanager
def provide(workdir: Path) -> Iterator[Infra]:
    env_kafka, env_mongo = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("MONGODB_URL")
    if env_kafka and env_mongo:
        yield Infra(env_kafka, env_mongo, "environment")
        return
    # The containers of the locally built images speak PLAINTEXT with no ACLs (compose's broker is not yet locked,
    # ADR 0031): the suite runs on the native, locked stack, engine or not; compose-test runs the images.
    # BINHCHON_TEST_INFRA=containers asks for them anyway (the broker-access tests then fail, saying why).
    why_native = "the native stack is the locked one (BINHCHON_TEST_INFRA=containers for the images)"
    if os.environ.get("BINHCHON_TEST_INFRA") == "containers" and docker_answers():
        built = local_images()
        if images_present(built):
            stack = LocalImageStack(*built)
            try:
                stack.start()
                yield Infra(stack.bootstrap, stack.url, f"containers of the locally built images {', '.join(built)}")
            finally:
                stack.stop()
            return
        missing = images_ready()
        if missing is None:
            from testcontainers.kafka import KafkaContainer
            from testcontainers.mongodb import MongoDbContainer

            with KafkaContainer(TEST_IMAGES[0]).with_kraft() as container, MongoDbContainer(TEST_IMAGES[1]) as mongo:
                yield Infra(container.get_bootstrap_server(), mongo.get_connection_url(), "testcontainers")
            return
        why_native = f"a container engine answers, but {missing} and {built[0]} was not built here (make images)"
    kafka = NativeKafka(workdir / "kafka", credentials=write_credentials(workdir / "kafka-credentials"))
    ferret = NativeFerretDB(workdir / "ferretdb", postgres=NativePostgres(workdir / "postgres"))
    try:
        kafka.start()
        ferret.start()
    except Exception as exc:
        kafka.stop()
        ferret.stop()
        raise RuntimeError(f"{HOW_TO}\n\nThe native stack did not start: {exc}") from exc
    try:
        yield Infra(kafka.bootstrap, ferret.url, f"native (infra/local, SASL/SCRAM and ACLs): {why_native}",
                    kafka.credentials)
    finally:
        kafka.stop()
        ferret.stop()
