"""Notify's HTTP API: webhook subscriptions, recipients, inboxes, delivery logs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, EmailStr, Field

from binhchon_kit.auth import Principal, Role
from binhchon_kit.auth.fastapi import require
from binhchon_kit.auth.policy import ANY, Scope, allow, narrowed
from binhchon_kit.contracts.common import Text
from binhchon_kit.paging import After, Limit, Total, no_offset
from notify.domain.published import PUBLISHED, is_published
from notify.service import Notify
from notify.views import Views, subscription

router = APIRouter()
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
# an agency manages its own webhooks (another's reads as absent); an admin sees and manages every agency's
Agency = Annotated[Principal, allow({Role.AGENCY: narrowed("own subscriptions"), Role.ADMIN: ANY})]
Agencies = Annotated[Principal, allow(Role.AGENCY)]  # what any agency may read: the published types
Staff = Annotated[Principal, Depends(require(Role.SECRETARIAT, Role.AUDITOR))]


async def _own_inbox(request: Request, who: Principal) -> bool:
    return bool(request.path_params["recipient_id"] == who.subject)


# Access (ADR 0030): everyone signed in reads their own inbox (the recipient id is their token's subject); the
# secretariat and auditors read anyone's.
OWN_INBOX = Scope("own inbox", _own_inbox)
InboxReader = Annotated[Principal, allow({**{role: OWN_INBOX for role in Role}, Role.SECRETARIAT: ANY,
                                          Role.AUDITOR: ANY})]


async def service(request: Request) -> Notify:
    return request.app.state.notify  # type: ignore[no-any-return]


Service = Annotated[Notify, Depends(service)]


async def views(request: Request) -> Views:
    return request.app.state.views  # type: ignore[no-any-return]


Read = Annotated[Views, Depends(views)]
# lists page by `after` (ADR 0015); an `offset` is answered with a 422 saying so
Paged = [Depends(no_offset)]


class Subscription(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: AnyHttpUrl = Field(description="https, to a public address (checked when registered and before every "
                            "delivery, after DNS resolution); redirects are not followed")
    event_types: list[str] = Field(default=[], max_length=50,
                                   description="empty: every published type (`GET /published-events`)")
    province_codes: list[str] = Field(default=[], max_length=100, description="empty: every province")


def owner_of(who: Principal) -> str | None:
    """Whose subscriptions a caller sees and manages: an agency its own, an admin everyone's (None)."""
    return None if who.has(Role.ADMIN) else who.subject


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
is retried with backoff; after the last attempt the delivery fails (`notification.failed`).

The CloudEvent carries the event's `id`, `source`, `type`, `subject` and `time`, and only the fields of its data
published to agencies (`GET /published-events`); judges' sheets and personal data are never sent. `url` must be
https and reach a public address: loopback, private, link-local, unique-local, multicast, CGNAT, metadata
addresses (IPv4-mapped too) are refused with a 422 naming `url` and why, and again at every delivery after the
name is resolved (the connection goes to the address checked). Redirects are not followed. The delivery log
says a failed attempt's status class (`answered 5xx`), never what the far end answered."""


@router.post("/subscriptions", status_code=201, tags=["webhooks"], description=SUBSCRIBE,
             summary="register the calling agency's webhook; the answer carries the signing secret (whsec_…), "
                     "shown once")
async def subscribe(body: Subscription, who: Agency, svc: Service) -> dict[str, Any]:
    sub = await svc.subscribe(str(body.url), body.event_types, body.province_codes, owner=who.subject)
    return {**subscription(sub), "secret": sub["secret"]}


@router.get("/subscriptions", tags=["webhooks"], dependencies=Paged,
            summary="the caller's webhooks (an admin: every agency's), oldest first, without their secrets")
async def subscriptions(who: Agency, read: Read, after: After = None, limit: Limit = 100, total: Total = False
                        ) -> dict[str, Any]:
    return (await read.subscriptions(owner_of(who), after, limit, total)).body()


@router.post("/subscriptions/{subscription_id}/pause", tags=["webhooks"],
             summary="stop deliveries: nothing is queued while paused, and what was queued is cancelled")
async def pause(subscription_id: str, who: Agency, svc: Service) -> dict[str, Any]:
    return subscription(await svc.pause(subscription_id, owner_of(who)))


@router.post("/subscriptions/{subscription_id}/resume", tags=["webhooks"],
             summary="deliver again, the events from now on")
async def resume(subscription_id: str, who: Agency, svc: Service) -> dict[str, Any]:
    return subscription(await svc.pause(subscription_id, owner_of(who), paused=False))


@router.delete("/subscriptions/{subscription_id}", status_code=204, tags=["webhooks"],
               summary="delete a webhook and its secret; what was queued for it is cancelled, its log kept")
async def unsubscribe(subscription_id: str, who: Agency, svc: Service) -> Response:
    await svc.unsubscribe(subscription_id, owner_of(who))
    return Response(status_code=204)


@router.get("/published-events", tags=["webhooks"],
            summary="the event types a webhook may carry, and the fields of each (nested: the fields of an object)")
async def published_events(who: Agencies) -> dict[str, Any]:
    return {"types": {t: fields for t, fields in PUBLISHED.items() if is_published(t)}}


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
