"""Each service is a principal of the store (docs/adr/0039): its own user, its own database only.

A private FerretDB-on-PostgreSQL (the roles are the cluster's, so these tests make their own cluster), locked as
``make up`` locks it: the grants ``binhchon_kit.store_principals`` writes, FerretDB without a default user.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

from binhchon_kit.principals import SERVICES
from binhchon_kit.settings import ServiceSettings
from binhchon_kit.store_principals import (
    STORE_PRINCIPALS,
    database_of,
    end_sessions_sql,
    grants_sql,
    read_passwords,
    redacted,
    signed_in_url,
    write_password_files,
)
from binhchon_kit.testing.infra import REPO, NativeFerretDB, NativePostgres

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def store() -> Iterator[tuple[NativeFerretDB, Path]]:
    # under the checkout, not /tmp/pytest-of-…: that one is closed to the server's user
    workdir = REPO / ".run" / f"store-access-{uuid.uuid4().hex[:8]}"
    ferret = NativeFerretDB(workdir / "ferretdb", postgres=NativePostgres(workdir / "postgres"))
    credentials = write_password_files(workdir / "credentials", STORE_PRINCIPALS)
    try:
        ferret.start()
        # a database made before the store was locked, by the administrator: the grants hand it to its service
        with MongoClient(ferret.url, serverSelectionTimeoutMS=10_000) as admin:
            admin[database_of("notify")]["deliveries"].insert_one({"_id": "before-the-lock", "to": "hoa@example.vn"})
        ferret.postgres.psql(grants_sql(read_passwords(credentials)))
        # every service keeps something of its own: reading a collection that does not exist touches no table
        for service in SERVICES:
            settings = ServiceSettings(service_name=service, mongodb_url=ferret.anonymous_url,
                                       mongodb_credentials_dir=str(credentials))
            with client(settings.store_url()) as mongo:
                mongo[database_of(service)]["probe"].insert_one({"_id": f"{service}-kept", "by": service})
        yield ferret, credentials
    finally:
        ferret.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def client(url: str) -> MongoClient[dict[str, object]]:
    return MongoClient(url, serverSelectionTimeoutMS=10_000)


def as_service(store: tuple[NativeFerretDB, Path], service: str) -> MongoClient[dict[str, object]]:
    ferret, credentials = store
    settings = ServiceSettings(service_name=service, mongodb_url=ferret.anonymous_url,
                               mongodb_credentials_dir=str(credentials))
    return client(settings.store_url())


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_reads_and_writes_its_own_database_and_no_other(store: tuple[NativeFerretDB, Path],
                                                                  service: str) -> None:
    with as_service(store, service) as mongo:
        own = mongo[database_of(service)]["probe"]
        own.insert_one({"_id": f"{service}-{uuid.uuid4().hex}", "by": service})
        assert own.count_documents({"by": service}) >= 1
        for other in (s for s in SERVICES if s != service):
            with pytest.raises(OperationFailure, match="permission denied"):
                mongo[database_of(other)]["probe"].find_one({})
            with pytest.raises(OperationFailure, match="permission denied"):
                mongo[database_of(other)]["probe"].insert_one({"by": service})


def test_a_second_instance_signs_in_as_its_service(store: tuple[NativeFerretDB, Path]) -> None:
    ferret, credentials = store
    replay = ServiceSettings(service_name="notify-replay", mongodb_url=ferret.anonymous_url,
                             mongodb_credentials_dir=str(credentials))
    with client(replay.store_url()) as mongo:
        assert mongo[database_of("notify")]["deliveries"].find_one({"_id": "before-the-lock"}) is not None


def test_a_database_made_before_the_lock_is_handed_to_its_service(store: tuple[NativeFerretDB, Path]) -> None:
    with as_service(store, "notify") as mongo:
        deliveries = mongo[database_of("notify")]["deliveries"]
        assert deliveries.find_one({"_id": "before-the-lock"}) == {"_id": "before-the-lock", "to": "hoa@example.vn"}
        deliveries.update_one({"_id": "before-the-lock"}, {"$set": {"status": "sent"}})


def test_no_one_gets_in_without_signing_in_or_with_a_wrong_password(store: tuple[NativeFerretDB, Path]) -> None:
    ferret, _ = store
    for url in (ferret.anonymous_url, signed_in_url(ferret.anonymous_url, "intake", "not-the-password")):
        with client(url) as mongo:
            with pytest.raises(PyMongoError):
                mongo[database_of("intake")]["probe"].find_one({})
            with pytest.raises(PyMongoError):
                mongo[database_of("intake")]["probe"].insert_one({"by": "nobody"})


def test_the_auditor_reads_every_service_and_writes_none(store: tuple[NativeFerretDB, Path]) -> None:
    for service in SERVICES:
        with as_service(store, service) as mongo:
            mongo[database_of(service)]["audited"].insert_one({"_id": uuid.uuid4().hex, "by": service})
    with as_service(store, "auditor") as mongo:
        for service in SERVICES:
            assert mongo[database_of(service)]["audited"].count_documents({"by": service}) >= 1
            with pytest.raises(OperationFailure, match="permission denied"):
                mongo[database_of(service)]["audited"].insert_one({"by": "auditor"})


def test_a_rotated_password_replaces_the_old_one(store: tuple[NativeFerretDB, Path]) -> None:
    ferret, credentials = store
    old = (credentials / "scoring.password").read_text()
    (credentials / "scoring.password").unlink()
    write_password_files(credentials, ["scoring"])
    # what `stack.sh rotate-store scoring` runs
    ferret.postgres.psql(grants_sql(read_passwords(credentials)) + end_sessions_sql("scoring"))
    with as_service(store, "scoring") as mongo:
        assert mongo[database_of("scoring")]["probe"].find_one({}) is not None
    with client(signed_in_url(ferret.anonymous_url, "scoring", old)) as stale, pytest.raises(PyMongoError):
        stale[database_of("scoring")]["probe"].find_one({})


def test_an_unknown_principal_is_a_clear_error(store: tuple[NativeFerretDB, Path]) -> None:
    ferret, credentials = store
    settings = ServiceSettings(service_name="portal", mongodb_url=ferret.anonymous_url,
                               mongodb_credentials_dir=str(credentials))
    with pytest.raises(ValueError, match="portal"):
        settings.store_url()


@pytest.mark.parametrize("first", ["intake", "auditor"])
def test_a_restarted_store_serves_every_service_whoever_signs_in_first(store: tuple[NativeFerretDB, Path],
                                                                       first: str) -> None:
    """FerretDB loads its one catalogue of databases with the first client's rights: every service's must be in it,
    or FerretDB later tries to create an existing database again (``relation … already exists``)."""
    ferret, _ = store
    ferret.stop(postgres=False)
    ferret.start()
    with as_service(store, first) as mongo:
        mongo.list_database_names()
    for service in SERVICES:
        with as_service(store, service) as mongo:
            kept = mongo[database_of(service)]["probe"]
            kept.create_index("by")
            assert kept.find_one({"_id": f"{service}-kept"}) is not None
            mongo[database_of(service)][f"new_{first}"].insert_one({"by": service})


def test_a_password_never_reaches_the_banner() -> None:
    url = signed_in_url("mongodb://127.0.0.1:27017/", "binhchon", "s3cr3t")
    assert "s3cr3t" not in redacted(url) and "binhchon:***@127.0.0.1:27017" in redacted(url)
    assert redacted("mongodb://127.0.0.1:27017/") == "mongodb://127.0.0.1:27017/"
