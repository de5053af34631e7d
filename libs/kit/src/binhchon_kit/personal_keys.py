"""Where the data subjects' keys live (ADR 0035): intake's key store, and the client other services ask it with.

The store is one collection in its owner's database: ``_id`` the kid, ``subject`` (``producer:<registration>``),
``wrapped`` (the data key under the master key). Erasing a subject replaces its documents by tombstones (the kid
alone): what was sealed with them is unreadable from then on, wherever a copy of the event is.

A subject's live key is found by ``_id`` ranges (issue 14): FerretDB answers ``{subject: …}`` by reading every key
ever made, once per submission. Beside each key, ``personal_keys_by_subject`` holds ``<subject>|<kid>`` (written
first: a key a crash left without it would be one its subject's lookups miss, not one an erasure misses, for
``kids`` still asks by ``subject``, rarely); keys made before it get theirs once, at start (``setup``).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from binhchon_kit import key_range
from binhchon_kit.contracts.intake import PersonalDataErased
from binhchon_kit.events import RecordedEvent
from binhchon_kit.personal import (
    KeysUnavailable,
    MasterKey,
    new_data_key,
    new_kid,
    open_copies_with,
    sealed_kids,
    valid_kid,
)

if TYPE_CHECKING:
    from binhchon_kit.runtime import Runtime

log = logging.getLogger("binhchon.personal")

COLLECTION = "personal_keys"


def master_key_from_settings(key_file: str) -> MasterKey:
    """PERSONAL_DATA_MASTER_KEY_FILE, else a development key made once on this machine (a warning: a key here is
    only as safe as this home directory)."""
    if key_file:
        return MasterKey.from_file(key_file)
    from binhchon_kit.auth.devtoken import key_dir

    log.warning("no PERSONAL_DATA_MASTER_KEY_FILE: personal data keys wrapped with a development master key")
    return MasterKey.from_file(MasterKey.write_new(Path(key_dir()) / "personal-data-master-dev.key"))


UNWRAPPED_KEPT = 1024  # past this many unwrapped keys in memory, the expired ones are dropped


class SubjectKeys:
    """The key store. Only its owning service holds one; others use ``KeyClient``."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]], master: MasterKey, *, ttl: float = 30,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.keys = collection
        self.master = master
        # keys unwrapped lately, kept ``ttl`` seconds so that a list's pages do not unwrap the same key again and
        # again (ADR 0048); dropped at once by this process's erasures, and never holding an erased key longer
        # than ``ttl`` where another process erased it
        self.ttl = ttl
        self.clock = clock
        self._unwrapped: dict[str, tuple[float, bytes]] = {}
        self.by_subject = by_subject(collection)

    async def setup(self) -> None:
        await self.keys.create_index("subject")
        await key_range.fill_entries(self.by_subject, self.keys, {"subject": {"$exists": True}},
                                     lambda doc: _entry(doc["subject"], doc["_id"]))

    async def for_subject(self, subject: str) -> tuple[str, bytes]:
        """The subject's live key (kid, key), made on first use: of its keys, the least kid. Two first uses at
        once may both make one; the subject then has two keys, each opening what it sealed: harmless, and erasure
        deletes both."""
        for entry in await key_range.with_prefix(self.by_subject, f"{subject}|"):
            if entry.get("subject") != subject:  # another subject's, whose name goes on past a "|"
                continue
            found = await self.keys.find_one({"_id": entry["kid"]})
            if found is not None and "wrapped" in found:  # not erased, nor an entry whose key a crash left unmade
                return found["_id"], self.master.unwrap(found["_id"], found["wrapped"])
        kid, key = new_kid(), new_data_key()
        await key_range.add_entry(self.by_subject, _entry(subject, kid))
        try:
            await self.keys.insert_one({"_id": kid, "subject": subject, "wrapped": self.master.wrap(kid, key)})
        except DuplicateKeyError:  # a kid drawn twice: 128 random bits, never in practice
            return await self.for_subject(subject)
        return kid, key

    async def key(self, kid: str) -> bytes | None:
        """The key ``kid`` names; None once erased (or never made)."""
        return (await self.many([kid])).get(kid)

    async def many(self, kids: Collection[str]) -> dict[str, bytes | None]:
        """The keys ``kids`` name, each None once erased (or never made): those not unwrapped lately in one
        ``$in`` query, each unwrapped once per ``ttl``."""
        now = self.clock()
        if len(self._unwrapped) > UNWRAPPED_KEPT:  # expired keys leave memory, not only when asked for again
            self._unwrapped = {k: hit for k, hit in self._unwrapped.items() if now - hit[0] < self.ttl}
        found: dict[str, bytes | None] = {}
        wanted = []
        for kid in dict.fromkeys(kids):
            if not valid_kid(kid):
                found[kid] = None
            elif (hit := self._unwrapped.get(kid)) is not None and now - hit[0] < self.ttl:
                found[kid] = hit[1]
            else:
                found[kid] = None
                wanted.append(kid)
        if wanted:
            async for doc in self.keys.find({"_id": {"$in": wanted}}):
                if "wrapped" in doc:
                    key = self.master.unwrap(doc["_id"], doc["wrapped"])
                    found[doc["_id"]] = key
                    self._unwrapped[doc["_id"]] = (now, key)
            for kid in wanted:
                if found[kid] is None:
                    self._unwrapped.pop(kid, None)
        return found

    async def erased(self, kid: str) -> bool:
        """Whether ``kid`` named a key that was erased (its tombstone: the id alone, nothing else)."""
        return valid_kid(kid) and await self.keys.find_one({"_id": kid, "erased": True}) is not None

    async def kids(self, subject: str) -> list[str]:
        return sorted([doc["_id"] async for doc in self.keys.find({"subject": subject}, {"_id": 1})])

    async def erase(self, subject: str) -> list[str]:
        """Delete every key of ``subject``; the kids that were deleted. Its entries go first, also those whose key
        a crash left unmade (a crash before the tombstones leaves its keys to the erasure's next run, by
        ``subject``)."""
        kids = await self.kids(subject)
        for entry in await key_range.with_prefix(self.by_subject, f"{subject}|"):
            if entry.get("subject") == subject:
                await self.by_subject.delete_one({"_id": entry["_id"]})
        await self.forget(kids)
        return kids

    async def forget(self, kids: list[str]) -> None:
        """Delete keys by id (also: replaying erasures recorded after a backup the store was restored from). Each
        leaves a tombstone, its random id alone, so that asking for it answers "erased" rather than "unknown"."""
        for kid in kids:
            self._unwrapped.pop(kid, None)
        await tombstone(self.keys, kids)


async def tombstone(collection: AsyncCollection[dict[str, Any]], kids: list[str]) -> list[str]:
    """Replace the keys ``kids`` names by tombstones (their random ids alone), whether they are there, erased
    already or missing (idempotent); the ids that still held a key. Needs no master key: deleting opens nothing.
    Their entries by subject go first: a tombstone links its kid to nobody."""
    held = await collection.find({"_id": {"$in": kids}, "wrapped": {"$exists": True}}, {"_id": 1, "subject": 1}
                                 ).to_list()
    for doc in held:
        if "subject" in doc:
            await by_subject(collection).delete_one({"_id": f"{doc['subject']}|{doc['_id']}"})
    for kid in kids:
        await collection.replace_one({"_id": kid}, {"_id": kid, "erased": True}, upsert=True)
    return sorted(doc["_id"] for doc in held)


def _entry(subject: str, kid: str) -> dict[str, Any]:
    return {"_id": f"{subject}|{kid}", "subject": subject, "kid": kid}


def by_subject(collection: AsyncCollection[dict[str, Any]]) -> AsyncCollection[dict[str, Any]]:
    """Where ``collection``'s keys are found by subject: ``<subject>|<kid>``."""
    return collection.database[f"{collection.name}_by_subject"]


class KeyClient:
    """A subject's key asked of the key store's service over HTTP with this service's token, kept ``ttl`` seconds
    (an erasure reaches a cached key at most that late; the ``personal_data.erased`` event drops it sooner).
    An erased key (410) is remembered as erased."""

    def __init__(self, base_url: str, token: Callable[[], str], *, ttl: float = 60,
                 transport: httpx.AsyncBaseTransport | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.ttl = ttl
        self.transport = transport
        self.clock = clock
        self._cache: dict[str, tuple[float, bytes | None]] = {}
        # whether this process hears erasures now (its every-replica subscriber positioned, ADR 0048): until then,
        # and while its consumers are down, a key is asked for at each use and kept by no cache, since an erasure
        # recorded meanwhile would not reach it
        self.caching: Callable[[], bool] = lambda: True
        # one client for the process's life: a client per key built a TLS context (the CA bundle read and parsed)
        # and a connection each time, a quarter of notify's CPU in bench/pipeline.py (py-spy, 2026-11-29)
        self._http: httpx.AsyncClient | None = None

    async def key(self, kid: str) -> bytes | None:
        if not valid_kid(kid):
            return None
        now, caching = self.clock(), self.caching()
        if (hit := self._cache.get(kid)) is not None and (hit[1] is None or (caching and now - hit[0] < self.ttl)):
            return hit[1]
        answer = await self.client().get(f"/personal-keys/{kid}", headers={"Authorization": f"Bearer {self.token()}"})
        if answer.status_code in (404, 410):
            self._cache[kid] = (now, None)
            return None
        answer.raise_for_status()
        key = base64.urlsafe_b64decode(answer.json()["key"] + "==")
        if (heard := self._cache.get(kid)) is not None and heard[1] is None:
            return None  # erased while intake answered (``drop`` ran meanwhile): the tombstone stands
        if caching:
            self._cache[kid] = (now, key)
        return key

    def client(self) -> httpx.AsyncClient:
        """The process's client, built on first use; a service builds it as it starts (its TLS context, the CA
        bundle read and parsed, is no cost for a request to pay)."""
        if self._http is None:
            self._http = httpx.AsyncClient(base_url=self.base_url, transport=self.transport, timeout=10,
                                           trust_env=False)
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def drop(self, kids: list[str]) -> None:
        """Keys erased: never opened again by this process."""
        for kid in kids:
            self._cache[kid] = (self.clock(), None)


def token_from_file(path: str) -> Callable[[], str]:
    """The service's bearer token, read at each use (ops replace the file before it expires)."""
    return lambda: Path(path).read_text().strip()


class CopiesOpener:
    """What a service that holds no key store shows of the sealed copies it carries (a household business's name
    and registration number, ADR 0048): each opened with the key asked of intake (``KeyClient``), or ``[đã xoá]``
    once erased. Without a key client (no ``INTAKE_SERVICE_TOKEN_FILE``) nothing opens: shown as erased, with a
    warning once."""

    def __init__(self, key_client: KeyClient | None) -> None:
        self.key_client = key_client
        self._warned = False

    def hear_erasures(self, runtime: Runtime, name: str = "erasures") -> None:
        """``personal_data.erased`` handled by every replica of the service (``on_erased``), not by the one its
        consumer group would pick; keys cached only while the service's consumers are started and positioned
        (``runtime.broker_ready``), so that no replica keeps a key an erasure it did not hear would have dropped."""
        runtime.consumers.handle("intake.events", {PersonalDataErased}, name, self.on_erased, every_replica=True)
        if self.key_client is not None:
            self.key_client.caching = lambda: runtime.broker_ready

    async def __call__(self, data: Any) -> Any:
        """``data`` (a document, a list of them, an event's data) with every sealed copy in it opened."""
        kids = sealed_kids(data)
        if not kids:
            return data
        keys: dict[str, bytes | None] = dict.fromkeys(kids)
        try:
            if self.key_client is not None:
                # a page's copies at once, not one round trip to intake after another (a registry page of
                # households, its keys not cached yet, waited for each in turn)
                client, wanted = self.key_client, sorted(kids)
                keys = dict(zip(wanted, await asyncio.gather(*(client.key(kid) for kid in wanted)), strict=True))
        except OSError as exc:  # the token file is not there (yet): as without one
            self._warn(f"the service token file cannot be read ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            raise KeysUnavailable(f"intake's key store did not answer ({type(exc).__name__})") from exc
        if self.key_client is None:
            self._warn("no INTAKE_SERVICE_TOKEN_FILE to ask intake for keys")
        return open_copies_with(data, keys)

    async def on_erased(self, event: RecordedEvent) -> None:
        """``personal_data.erased`` on intake's topic: the erased keys dropped from this process's cache at once,
        as intake's own cache drops them (ADR 0048), rather than shown for up to ``ttl`` more."""
        erased = event.model()
        assert isinstance(erased, PersonalDataErased)
        if self.key_client is not None:
            self.key_client.drop(erased.kids)

    def _warn(self, why: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning("a household's sealed name and number are shown as erased: %s", why)

    async def aclose(self) -> None:
        if self.key_client is not None:
            await self.key_client.aclose()


def key_client_from_settings(intake_url: str, token_file: str) -> KeyClient | None:
    """The key client of a service's settings (INTAKE_URL, INTAKE_SERVICE_TOKEN_FILE); None without a token."""
    return KeyClient(intake_url, token_from_file(token_file)) if token_file else None
