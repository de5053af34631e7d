"""Notify's HTTP API: webhook subscriptions, recipients, inboxes, delivery logs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, EmailStr, Field

from binhchon_kit.auth import Principal, Role
from binhchon_kit.auth.fastapi import require
from binhchon_kit.auth.policy import ANY, Scope, allow
from binhchon_kit.contracts.common import Text
from binhchon_kit.paging import After, Limit, Total, no_offset
from notify.service import Notify
from notify.views import Views

router = APIRouter()
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
Staff = Annotated[Principal, Depends(require(Role.SECRETARIAT, Role.AUDITOR))]


async def _own_inbox(request: Request, who: Principal) -> bool:
    return bool(request.path_params["recipient_id"] == who.subject)


# Access (ADR 0030): everyone signed in reads their own inbox (the recipient id is their token's subject); the
# secretariat and auditors read anyone's.
OWN_INBOX = Scope("own inbox", _own_inbox)
InboxReader = Annotated[Principal, allow({**{role: OWN_INBOX for role in Role}, Role.SECRETARIAT: ANY,
                                          Role.AUDITOR: ANY})]


def service(request: Request) -> Notify:
    return request.app.state.notify  # type: ignore[no-any-return]


Service = Annotated[Notify, Depends(service)]


def views(request: Request) -> Views:
    return request.app.state.views  # type: ignore[no-any-return]


Read = Annotated[Views, Depends(views)]
# lists page by `after` (ADR 0015); an `offset` is answered with a 422 saying so
Paged = [Depends(no_offset)]


class Subscription(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: AnyHttpUrl
    event_types: list[str] = Field(default=[], description="empty: every event type")
    province_codes: list[str] = Field(default=[], description="empty: every province")


class RecipientBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Text
    name: Text
    email: EmailStr
    roles: list[Role]


SUBSCRIBE = """Every event matching the filters is POSTed to `url` as a Standard Webhooks delivery
(https://www.standardwebhooks.com): the CloudEvent in the HTTP binding's structured mode
(`content-type: application/cloudevents+json`), with headers `webhook-id` (the same on every retry: deduplicate
on it), `webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of
"<webhook-id>.<webhook-timestamp>.<raw body>">`. The answer's `secret` (`whsec_` then base64 of 32 random bytes)
is shown once: give it as it is to a Standard Webhooks library (`Webhook(secret).verify(body, headers)`), which
keys the HMAC with its decoded base64 part and refuses a timestamp more than five minutes away. A non-2xx answer
is retried with backoff; after the last attempt the delivery fails (`notification.failed`)."""


@router.post("/subscriptions", status_code=201, tags=["webhooks"], description=SUBSCRIBE,
             summary="register an agency's webhook; the answer carries the signing secret (whsec_…), shown once")
async def subscribe(body: Subscription, who: Admin, svc: Service) -> dict[str, Any]:
    sub = await svc.subscribe(str(body.url), body.event_types, body.province_codes)
    return {"id": sub["_id"], "url": sub["url"], "event_types": sub["event_types"],
            "province_codes": sub["province_codes"], "secret": sub["secret"]}


@router.get("/subscriptions", tags=["webhooks"], dependencies=Paged, summary="the webhooks, oldest first")
async def subscriptions(who: Admin, read: Read, after: After = None, limit: Limit = 100, total: Total = False
                        ) -> dict[str, Any]:
    return (await read.subscriptions(after, limit, total)).body()


@router.post("/recipients", status_code=201, tags=["recipients"],
             summary="a person told by role (e.g. the approving authority's office)")
async def add_recipient(body: RecipientBody, who: Admin, svc: Service) -> dict[str, Any]:
    return await svc.add_recipient(body.id, body.name, str(body.email), [r.value for r in body.roles])


@router.get("/inbox/{recipient_id}", tags=["inbox"], dependencies=Paged,
            summary="every message sent to one recipient, in the order of the events they tell of, page by page")
async def inbox(recipient_id: str, who: InboxReader, read: Read, after: After = None, limit: Limit = 100,
                total: Total = False) -> dict[str, Any]:
    return (await read.inbox(recipient_id, after, limit, total)).body()


@router.get("/dossiers/{dossier_id}/deliveries", tags=["inbox"], dependencies=Paged,
            summary="the delivery log of one dossier, in the order of the events it tells of, page by page")
async def deliveries(dossier_id: str, who: Staff, read: Read, after: After = None, limit: Limit = 100,
                     total: Total = False) -> dict[str, Any]:
    return (await read.deliveries(dossier_id, after, limit, total)).body()
