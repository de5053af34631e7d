"""One SMTP connection carries many mails (ADR 0054), and a connection that breaks loses no mail and sends none
twice: dropped by the server while idle (a reused connection fails at MAIL, before anything of the mail went, and
the mail goes at once on a new one), dropped in the middle of DATA (the attempt fails, the connection is not used
again, the service retries the mail), a server slow to answer (the send is cut at half the claim's lease, the
other mails go meanwhile on other connections). Real SMTP servers (aiosmtpd) in-process; the service on the
in-memory store, its clock injected."""

from __future__ import annotations

import asyncio
import email
from collections import Counter
from datetime import date, timedelta
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from binhchon_kit.contracts.common import Document, Level, Producer, Product, Programme
from binhchon_kit.contracts.intake import DossierReceived
from binhchon_kit.events import RecordedEvent
from binhchon_kit.settings import ServiceSettings
from binhchon_kit.testing.infra import free_port
from binhchon_kit.testing.memory import FixedClock, memory_runtime, recorded_at
from binhchon_kit.testing.samples import dossier_body
from notify.adapters.channels import DeliveryError, Email, Webhook
from notify.adapters.templates import Templates
from notify.service import Notify

from .test_notify_service import NOW

SENDER = "Văn phòng OCOP <ocop@example.vn>"


class Server:
    """Keeps each mail it accepted (its Message-ID), counts connections and QUITs. ``drop_mail_every``: the n-th
    MAIL of each connection is answered by closing it (a server that dropped an idle connection); ``drop_data``:
    Message-IDs whose DATA is answered by closing the connection, unaccepted, once each; ``stall``: Message-IDs
    whose DATA is answered only after this many seconds, with 451 (not accepted), once each."""

    def __init__(self, drop_mail_every: int = 0, drop_data: set[str] | None = None, stall: float = 0,
                 stalled: set[str] | None = None) -> None:
        self.accepted: list[str] = []
        self.connections = 0
        self.quits = 0
        self.drop_mail_every = drop_mail_every
        self.drop_data = set(drop_data or ())
        self.stall, self.stalled = stall, set(stalled or ())
        self.mails_on: dict[int, int] = {}
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
                          ) -> list[str]:
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        n = self.mails_on[id(session)] = self.mails_on.get(id(session), 0) + 1
        if self.drop_mail_every and n % self.drop_mail_every == 0:
            server.transport.close()
            return "421 closing"
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message_id = str(email.message_from_bytes(envelope.content, policy=default_policy)["Message-ID"])
        key = message_id.strip("<>").split("@")[0]
        if key in self.drop_data:
            self.drop_data.discard(key)
            server.transport.close()
            return "451 gone"
        if key in self.stalled:
            self.stalled.discard(key)
            await asyncio.sleep(self.stall)
            return "451 too slow"
        self.accepted.append(key)
        return "250 OK"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self.quits += 1
        return "221 Bye"


@pytest.fixture
def serve() -> Any:
    started: list[Server] = []

    def start(**kwargs: Any) -> Server:
        server = Server(**kwargs)
        server.controller.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.controller.stop()


class Seconds:
    """The channel's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.timeout(30)
async def test_many_mails_go_over_one_connection_closed_when_idle(serve: Any) -> None:
    server, seconds = serve(), Seconds()
    channel = Email("127.0.0.1", server.port, SENDER, idle_seconds=10, clock=seconds)
    for n in range(5):
        await channel.send(f"htx{n}@example.vn", "Hồ sơ đã được tiếp nhận", "Kính gửi,\n", "<p>Kính gửi,</p>", f"m{n}")
    assert server.accepted == [f"m{n}" for n in range(5)]
    assert (server.connections, channel.connections) == (1, 1)

    seconds.now += 9.9
    await channel.close_idle()  # not idle long enough
    assert server.quits == 0 and len(channel.idle) == 1
    seconds.now += 0.1
    await channel.close_idle()
    assert server.quits == 1 and channel.idle == []
    await channel.send("htx@example.vn", "Hồ sơ đã được tiếp nhận", "Kính gửi,\n", "<p>Kính gửi,</p>", "m5")
    assert server.connections == 2 and server.accepted[-1] == "m5"


@pytest.mark.timeout(30)
async def test_a_connection_is_left_after_its_mails_per_connection(serve: Any) -> None:
    server = serve()
    channel = Email("127.0.0.1", server.port, SENDER, per_connection=2, clock=Seconds())
    for n in range(5):
        await channel.send("htx@example.vn", "Hồ sơ đã được tiếp nhận", "Kính gửi,\n", "<p>Kính gửi,</p>", f"m{n}")
    assert server.connections == 3 and server.quits == 2 and len(server.accepted) == 5


@pytest.mark.timeout(30)
async def test_a_connection_the_server_dropped_while_idle_costs_no_mail(serve: Any) -> None:
    server = serve(drop_mail_every=2)  # every second mail on a connection finds it closed
    channel = Email("127.0.0.1", server.port, SENDER, clock=Seconds())
    for n in range(6):
        await channel.send("htx@example.vn", "Hồ sơ đã được tiếp nhận", "Kính gửi,\n", "<p>Kính gửi,</p>", f"m{n}")
    assert server.accepted == [f"m{n}" for n in range(6)]  # each once, in order, none failed
    assert server.connections == 6


@pytest.mark.timeout(30)
async def test_a_connection_dropped_during_data_fails_that_attempt_only(serve: Any) -> None:
    server = serve(drop_data={"m1"})
    channel = Email("127.0.0.1", server.port, SENDER, clock=Seconds())
    await channel.send("htx@example.vn", "Hồ sơ đã được tiếp nhận", "Kính gửi,\n", "<p>Kính gửi,</p>", "m0")
    with pytest.raises(DeliveryError):
        await channel.send("htx@example.vn", "Hồ sơ đã được tiếp nhận", "Kính gửi,\n", "<p>Kính gửi,</p>", "m1")
    assert channel.idle == []  # the broken connection is not used again
    await channel.send("htx@example.vn", "Hồ sơ đã được tiếp nhận", "Kính gửi,\n", "<p>Kính gửi,</p>", "m2")
    await channel.send("htx@example.vn", "Hồ sơ đã được tiếp nhận", "Kính gửi,\n", "<p>Kính gửi,</p>", "m1")
    assert server.accepted == ["m0", "m2", "m1"] and server.connections == 2


# ---- the service over a real SMTP server ---------------------------------------------------------------------

def receipt(n: int) -> RecordedEvent:
    body = dossier_body()
    dossier = f"dossier-conn-{n}"
    data = DossierReceived(
        dossier_id=dossier, round_id="round-1", round_code="BG-OCOP-2026-1", programme=Programme.OCOP,
        level=Level.PROVINCE, receipt_number=f"BG-OCOP-2026-1-{n:05d}", received_at=NOW,
        check_due_date=date(2026, 12, 7), producer=Producer.model_validate(body["producer"]),
        product=Product.model_validate(body["product"]),
        documents=[Document.model_validate(d) for d in body["documents"]])
    return recorded_at(NOW, "intake", dossier, data)


def service(server: Server, clock: FixedClock, lease: timedelta = timedelta(minutes=2)) -> Notify:
    runtime = memory_runtime(ServiceSettings(service_name="notify"), {}, clock)
    return Notify(runtime, Templates(None), Email("127.0.0.1", server.port, SENDER), Webhook(),
                  certification_url="https://chungnhan.example.vn", intake_url="https://hoso.example.vn",
                  max_attempts=5, backoff_seconds=1, lease=lease, clock=clock)


async def delivered(svc: Notify, clock: FixedClock, passes: int = 10) -> list[dict[str, Any]]:
    """Passes of the delivery loop, the clock moved past every backoff between them, until nothing is pending."""
    for _ in range(passes):
        await svc.deliver_due()
        pending = await svc.db["deliveries"].find({"status": "pending"}).to_list()
        if not pending:
            break
        clock.advance(timedelta(minutes=1))
    return await svc.db["deliveries"].find({}).to_list()


@pytest.mark.timeout(60)
async def test_connections_dropped_mid_batch_lose_no_mail_and_send_none_twice(serve: Any) -> None:
    clock = FixedClock(NOW)
    server = serve(drop_mail_every=3)
    svc = service(server, clock)
    events = [receipt(n) for n in range(12)]
    for event in events:
        await svc.on_event(event)
    keys = [d["_id"] for d in await svc.db["deliveries"].find({}).to_list()]
    server.drop_data = set(keys[2:4])  # two mails cut in the middle of DATA, never accepted

    deliveries = await delivered(svc, clock)

    assert Counter(server.accepted) == Counter({k: 1 for k in keys})  # every mail once
    assert {d["status"] for d in deliveries} == {"sent"}
    assert sorted(d["attempts"] for d in deliveries) == [1] * 10 + [2] * 2  # the two cut ones, once more
    sent = [e async for e in svc.rt.store.read_all()]
    assert sorted(e.data["delivery_id"] for e in sent) == sorted(keys)  # one outcome recorded for each
    assert {e.type for e in sent} == {"notification.sent"}
    await svc.email.close()


@pytest.mark.timeout(60)
async def test_a_slow_mail_server_holds_up_only_the_mail_it_is_slow_with(serve: Any) -> None:
    clock = FixedClock(NOW)
    server = serve(stall=3.0)
    svc = service(server, clock, lease=timedelta(seconds=2))  # a send is cut after 1 s
    for n in range(6):
        await svc.on_event(receipt(n))
    keys = [d["_id"] for d in await svc.db["deliveries"].find({}).to_list()]
    server.stalled = {keys[0]}

    assert await svc.deliver_due() == 6
    assert sorted(server.accepted) == sorted(keys[1:])  # the others went meanwhile
    [slow] = await svc.db["deliveries"].find({"_id": keys[0]}).to_list()
    assert slow["status"] == "pending" and "no answer within 1s" in slow["last_error"]

    deliveries = await delivered(svc, clock)
    assert Counter(server.accepted) == Counter({k: 1 for k in keys})
    assert {d["status"] for d in deliveries} == {"sent"}
    await svc.email.close()
