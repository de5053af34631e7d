"""Our FerretDB build inserts one document into an existing collection as one autocommit statement, where stock
FerretDB runs BEGIN, INSERT, COMMIT (infra/local/patch_ferretdb.py, docs/adr/0016, build b6); and writes each
updated document back as one autocommit UPDATE, where stock FerretDB wraps it in BEGIN and COMMIT (build b8).

PostgreSQL logs every statement of this test's own cluster, so the tests see what FerretDB sent: one INSERT and no
transaction for a single document; the stock transaction for a new collection and for a batch. A duplicate `_id`
or a duplicate key of a unique index must still be MongoDB's E11000, with nothing stored; an update refused by a
unique index must fail as it did and change nothing.
"""

from __future__ import annotations

import re
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pymongo
import pytest
from pymongo.errors import BulkWriteError, DuplicateKeyError

from binhchon_kit.testing.infra import REPO, NativeFerretDB, NativePostgres

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

# what PostgreSQL logs of each statement FerretDB sends (simple or extended protocol)
# what stock FerretDB answers an update a unique index refuses (checked on b7: the same)
REFUSED_UPDATE = (1, "OperationFailure")
STATEMENT = re.compile(r"LOG:  (?:statement|execute [^:]*): (.*)")


class Server:
    def __init__(self, client: pymongo.MongoClient[dict[str, Any]], log: Path) -> None:
        self.db = client.single_insert
        self.log = log

    def statements(self, action: Callable[[], Any]) -> list[str]:
        """The statements PostgreSQL received while ``action`` ran (logged before each is executed, so all of
        them are in the log once FerretDB has answered), lower-cased, first word only."""
        start = self.log.stat().st_size
        action()
        with self.log.open("rb") as log:
            log.seek(start)
            text = log.read().decode(errors="replace")
        return [m.group(1).split()[0].lower() for m in STATEMENT.finditer(text)]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    # under the checkout's .run, as the session's stack: PostgreSQL's user must be able to reach it
    base: Path = REPO / ".run" / f"test-single-insert-{uuid.uuid4().hex[:8]}"
    postgres = NativePostgres(base / "postgres")
    ferretdb = NativeFerretDB(base / "ferretdb", postgres=postgres)
    postgres.start()
    try:
        postgres.psql("ALTER SYSTEM SET log_statement = 'all';")
        postgres.psql("SELECT pg_reload_conf();")
        ferretdb.start()  # its connections are opened after the reload: they log every statement
        try:
            yield Server(pymongo.MongoClient(ferretdb.url), postgres.dir / "postgres.log")
        finally:
            ferretdb.stop(postgres=False)
    finally:
        postgres.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_a_single_document_into_an_existing_collection_is_one_statement(server: Server):
    coll = server.db[f"one_{uuid.uuid4().hex[:6]}"]
    created = server.statements(lambda: coll.insert_one({"_id": "a", "n": 1}))
    assert "insert" in created
    assert "begin" in created  # the collection's creation path is FerretDB's own

    sent = server.statements(lambda: coll.insert_one({"_id": "b", "n": 2}))

    assert sent == ["insert"]
    assert list(coll.find({}, sort=[("_id", 1)])) == [{"_id": "a", "n": 1}, {"_id": "b", "n": 2}]


def test_a_batch_keeps_the_transaction(server: Server):
    coll = server.db[f"batch_{uuid.uuid4().hex[:6]}"]
    coll.insert_one({"_id": "first"})

    sent = server.statements(lambda: coll.insert_many([{"_id": f"d{i}"} for i in range(3)]))

    assert sent == ["begin", "insert", "commit"]
    assert coll.count_documents({}) == 4


def test_a_duplicate_id_is_e11000_and_stores_nothing(server: Server):
    name = f"dup_{uuid.uuid4().hex[:6]}"
    coll = server.db[name]
    coll.insert_one({"_id": "a", "n": 1})

    with pytest.raises(DuplicateKeyError) as raised:
        coll.insert_one({"_id": "a", "n": 2})

    assert raised.value.code == 11000
    assert raised.value.details == {"index": 0, "code": 11000,
                                    "errmsg": f"E11000 duplicate key error collection: single_insert.{name}"}
    assert list(coll.find()) == [{"_id": "a", "n": 1}]


def test_a_duplicate_key_of_a_unique_index_is_e11000_and_stores_nothing(server: Server):
    name = f"uniq_{uuid.uuid4().hex[:6]}"
    coll = server.db[name]
    coll.create_index([("event_id", 1)], unique=True)
    coll.insert_one({"_id": "s/1", "event_id": "e1"})

    with pytest.raises(DuplicateKeyError) as raised:
        coll.insert_one({"_id": "s/2", "event_id": "e1"})

    assert raised.value.details == {"index": 0, "code": 11000,
                                    "errmsg": f"E11000 duplicate key error collection: single_insert.{name}"}
    assert coll.find_one({"_id": "s/2"}) is None
    assert coll.count_documents({}) == 1
    coll.insert_one({"_id": "s/2", "event_id": "e2"})  # the refused insert left nothing behind that blocks it
    assert coll.count_documents({}) == 2


def test_one_of_eight_racing_inserts_of_the_same_id_wins(server: Server):
    coll = server.db[f"race_{uuid.uuid4().hex[:6]}"]
    coll.insert_one({"_id": "other"})
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def insert(writer: int) -> None:
        barrier.wait()
        try:
            coll.insert_one({"_id": "s/0000000001", "writer": writer})
            outcomes.append("won")
        except DuplicateKeyError:
            outcomes.append("duplicate")

    threads = [threading.Thread(target=insert, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(outcomes) == ["duplicate"] * 7 + ["won"]
    assert coll.count_documents({"_id": "s/0000000001"}) == 1


def test_an_ordered_batch_with_a_duplicate_stops_there_as_before(server: Server):
    coll = server.db[f"ordered_{uuid.uuid4().hex[:6]}"]
    coll.insert_one({"_id": "b"})

    with pytest.raises(BulkWriteError) as raised:
        coll.insert_many([{"_id": "a"}, {"_id": "b"}, {"_id": "c"}])

    assert raised.value.details["nInserted"] == 1
    assert [e["index"] for e in raised.value.details["writeErrors"]] == [1]
    assert sorted(d["_id"] for d in coll.find()) == ["a", "b"]


def test_a_single_document_update_is_its_read_and_one_statement(server: Server):
    coll = server.db[f"upd_{uuid.uuid4().hex[:6]}"]
    coll.insert_many([{"_id": "s/1", "mark": "s/1", "n": 1}, {"_id": "s/2", "mark": "s/2", "n": 2}])

    sent = server.statements(lambda: coll.update_one({"_id": "s/1"}, {"$unset": {"mark": ""}}))

    assert sent == ["select", "update"]
    assert list(coll.find({}, sort=[("_id", 1)])) == [{"_id": "s/1", "n": 1}, {"_id": "s/2", "mark": "s/2", "n": 2}]
    nothing = server.statements(lambda: coll.update_one({"_id": "s/1"}, {"$unset": {"mark": ""}}))
    assert nothing == ["select"]  # unchanged: nothing written, as before
    found = server.statements(lambda: coll.find_one_and_update({"_id": "s/2"}, {"$inc": {"n": 1}}))
    assert found == ["select", "update"]
    assert coll.find_one({"_id": "s/2"}) == {"_id": "s/2", "mark": "s/2", "n": 3}


def test_an_update_of_several_documents_writes_each_in_its_own_statement(server: Server):
    coll = server.db[f"many_{uuid.uuid4().hex[:6]}"]
    coll.insert_many([{"_id": f"s/{i}", "mark": f"s/{i}"} for i in range(1, 5)])

    sent = server.statements(lambda: coll.update_many({"_id": {"$gte": "s/1", "$lte": "s/3"}},
                                                      {"$unset": {"mark": ""}}))

    assert sent == ["select", "update", "update", "update"]
    assert list(coll.find({}, sort=[("_id", 1)])) == [{"_id": "s/1"}, {"_id": "s/2"}, {"_id": "s/3"},
                                                      {"_id": "s/4", "mark": "s/4"}]


def test_an_update_refused_by_a_unique_index_changes_nothing(server: Server):
    coll = server.db[f"uupd_{uuid.uuid4().hex[:6]}"]
    coll.create_index([("event_id", 1)], unique=True)
    coll.insert_many([{"_id": "a", "event_id": "e1"}, {"_id": "b", "event_id": "e2"}])

    with pytest.raises(pymongo.errors.OperationFailure) as raised:
        coll.update_one({"_id": "b"}, {"$set": {"event_id": "e1"}})

    assert (raised.value.code, type(raised.value).__name__) == REFUSED_UPDATE
    assert list(coll.find({}, sort=[("_id", 1)])) == [{"_id": "a", "event_id": "e1"}, {"_id": "b", "event_id": "e2"}]
    coll.update_one({"_id": "b"}, {"$set": {"event_id": "e3"}})  # the refused update held nothing back
    assert coll.find_one({"_id": "b"}) == {"_id": "b", "event_id": "e3"}
