"""Notify's HTTP API: webhook subscriptions, recipients, inboxes, delivery logs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, EmailStr, Field

from binhchon_kit.auth import Principal, Role
from binhchon_kit.auth.fastapi import current_principal, require
from binhchon_kit.contracts.common import Text
from notify.service import Notify

router = APIRouter()
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
Staff = Annotated[Principal, Depends(require(Role.SECRETARIAT, Role.AUDITOR))]
Anyone = Annotated[Principal, Depends(current_principal)]


def service(request: Request) -> Notify:
    return request.app.state.notify  # type: ignore[no-any-return]


Service = Annotated[Notify, Depends(service)]


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


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    doc = dict(doc)
    doc.pop("body", None)
    doc["id"] = doc.pop("_id")
    return doc


@router.post("/subscriptions", status_code=201, tags=["webhooks"],
             summary="register an agency's webhook; the answer carries the signing secret, shown once")
async def subscribe(body: Subscription, who: Admin, svc: Service) -> dict[str, Any]:
    sub = await svc.subscribe(str(body.url), body.event_types, body.province_codes)
    return {"id": sub["_id"], "url": sub["url"], "event_types": sub["event_types"],
            "province_codes": sub["province_codes"], "secret": sub["secret"]}


@router.get("/subscriptions", tags=["webhooks"])
async def subscriptions(who: Admin, svc: Service) -> list[dict[str, Any]]:
    return [{k: v for k, v in _public(s).items() if k != "secret"} async for s in svc.db["subscriptions"].find({})]


@router.post("/recipients", status_code=201, tags=["recipients"],
             summary="a person told by role (e.g. the approving authority's office)")
async def add_recipient(body: RecipientBody, who: Admin, svc: Service) -> dict[str, Any]:
    doc = {"name": body.name, "email": str(body.email), "roles": [r.value for r in body.roles]}
    await svc.db["recipients"].replace_one({"_id": body.id}, doc, upsert=True)
    if Role.APPROVER.value in doc["roles"]:  # proposals that waited for an approver to tell are tried now
        await svc.waiting.facts_arrived(["approvers"])
        svc.wake.set()
    return {"id": body.id, **doc}


@router.get("/inbox/{recipient_id}", tags=["inbox"], summary="every message sent to one recipient")
async def inbox(recipient_id: str, who: Anyone, svc: Service) -> list[dict[str, Any]]:
    if who.subject != recipient_id and not who.has(Role.SECRETARIAT, Role.AUDITOR, Role.ADMIN):
        return []
    docs = await svc.db["deliveries"].find({"recipient_id": recipient_id}).to_list()
    return [_public(d) for d in sorted(docs, key=_in_story_order)]


@router.get("/dossiers/{dossier_id}/deliveries", tags=["inbox"], summary="the delivery log of one dossier")
async def deliveries(dossier_id: str, who: Staff, svc: Service) -> list[dict[str, Any]]:
    docs = await svc.db["deliveries"].find({"subject_id": dossier_id}).to_list()
    return [_public(d) for d in sorted(docs, key=_in_story_order)]


def _in_story_order(delivery: dict[str, Any]) -> tuple[Any, ...]:
    """In the order of the events they tell of: two events handled within one tick of notify's clock (or read
    out of order) still list as they happened; deliveries made before about_event_time was kept fall back."""
    return (delivery.get("about_event_time") or delivery["created_at"], delivery["created_at"], delivery["_id"])
