"""The native store of infra/local (FerretDB on PostgreSQL) survives a crash that leaves its lock files behind.

It runs its own PostgreSQL and FerretDB on free ports, whatever store the other tests share: it kills them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest
from pymongo import MongoClient

from binhchon_kit.testing.infra import REPO, NativeFerretDB, NativePostgres

pytestmark = pytest.mark.integration
# PostgreSQL refuses to run as root; started as root, infra/local/postgres.sh runs it as this user
SERVER_USER = os.environ.get("BINHCHON_PG_USER", "binhchon")


@pytest.fixture
def store() -> Iterator[NativeFerretDB]:
    # under the checkout, not /tmp/pytest-of-…: that one is closed to the server's user
    workdir = REPO / ".run" / f"native-{uuid.uuid4().hex[:8]}"
    ferret = NativeFerretDB(workdir / "ferretdb", postgres=NativePostgres(workdir / "postgres"))
    try:
        yield ferret
    finally:
        ferret.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def postmaster_pid(postgres: NativePostgres) -> int:
    return int((postgres.data / "postmaster.pid").read_text().splitlines()[0])


def live_process_of_the_server_user() -> subprocess.Popen[bytes]:
    if os.geteuid() == 0:
        cmd = ["setpriv", f"--reuid={SERVER_USER}", f"--regid={SERVER_USER}", "--clear-groups", "sleep", "120"]
    else:
        cmd = ["sleep", "120"]
    return subprocess.Popen(cmd)


def test_documents_survive_a_crash_whose_pid_was_reused_since(store: NativeFerretDB) -> None:
    store.start()
    if os.geteuid() == 0:
        assert os.stat(f"/proc/{postmaster_pid(store.postgres)}").st_uid != 0, "PostgreSQL must not run as root"
    with MongoClient(store.url) as client:
        client["native"]["receipts"].insert_one({"_id": "r-1", "số": "OCOP-BG-2026-1-00001"})

    # the machine goes down hard: nothing shuts down cleanly, postmaster.pid and ferretdb.pid stay
    os.kill(int((store.dir / "ferretdb.pid").read_text()), signal.SIGKILL)
    os.kill(postmaster_pid(store.postgres), signal.SIGKILL)
    time.sleep(0.5)
    # after the restart another live process holds the pid the lock file names (PostgreSQL alone refuses
    # then: "lock file postmaster.pid already exists")
    squatter = live_process_of_the_server_user()
    try:
        lock = store.postgres.data / "postmaster.pid"
        lines = lock.read_text().splitlines()
        lock.write_text("\n".join([str(squatter.pid), *lines[1:]]) + "\n")

        store.start()

        with MongoClient(store.url) as client:
            assert client["native"]["receipts"].find_one({"_id": "r-1"}) == {
                "_id": "r-1", "số": "OCOP-BG-2026-1-00001"}
        assert squatter.poll() is None, "the process that reused the pid is left alone"
    finally:
        squatter.kill()
        squatter.wait()


def test_a_second_start_is_a_no_op_and_stop_start_keeps_data(store: NativeFerretDB) -> None:
    store.start()
    first = postmaster_pid(store.postgres)
    store.start()
    assert postmaster_pid(store.postgres) == first
    with MongoClient(store.url) as client:
        client["native"]["rounds"].insert_one({"_id": "round-1"})
    store.stop()
    assert not (store.postgres.data / "postmaster.pid").exists()
    store.start()
    with MongoClient(store.url) as client:
        assert client["native"]["rounds"].count_documents({}) == 1
