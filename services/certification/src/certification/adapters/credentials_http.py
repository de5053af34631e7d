"""The certificate as a W3C Verifiable Credential, the revocation list and the issuer's DID document (ADR 0032).

Included before ``http.router``: ``/certificates/{number}`` would otherwise take ``….vc.json`` as a number."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from binhchon_kit.auth.policy import PUBLIC
from binhchon_kit.ratelimit import RATE_LIMITED
from certification.adapters.http import Service
from certification.domain.errors import Refused
from certification.service import Certification
from certification.vc import credentials, status

router = APIRouter()
# a JSON-LD document of the media types the VC 2.0 and DID specifications register
VC, DID = "application/vc+ld+json", "application/did+ld+json"


def did_of(svc: Certification) -> str:
    return credentials.did_web(svc.public_url)


def status_url(svc: Certification, list_number: int) -> str:
    return f"{svc.public_url}/status/{list_number}.vc.json"


@router.get("/certificates/{number}.vc.json", tags=["public"], dependencies=[PUBLIC, RATE_LIMITED],
            response_class=JSONResponse, responses={200: {"content": {VC: {}}}},
            summary="the certificate as a W3C Verifiable Credential 2.0 (Open Badges 3.0, eddsa-rdfc-2022 proof, "
                    "revocation in a Bitstring Status List)")
async def certificate_credential(number: str, svc: Service) -> JSONResponse:
    state, _ = await svc.load(number)
    list_number, index = status.place(await status.position(svc.rt.db, state.stream))
    url = status_url(svc, list_number)
    credential = credentials.open_badge(
        await svc.shown(state.issued),  # a household's name opened, or erased (ADR 0048)
        credential_url=f"{svc.public_url}/certificates/{number}.vc.json", did=did_of(svc),
        status=credentials.status_entry(url, index), signer=svc.signer)
    return JSONResponse(credential, media_type=VC)


@router.get("/status/{list_number}.vc.json", tags=["public"], dependencies=[PUBLIC, RATE_LIMITED],
            response_class=JSONResponse, responses={200: {"content": {VC: {}}}},
            summary="a signed W3C Bitstring Status List credential: the revoked certificates' bits set")
async def status_list(list_number: int, svc: Service) -> JSONResponse:
    if not 0 <= list_number < await status.lists_in_use(svc.rt.db):
        raise Refused(f"no status list {list_number}", kind="not_found")
    revoked = await status.revoked_indexes(svc.rt.db, list_number)
    credential = credentials.status_list(status_url(svc, list_number), did=did_of(svc), revoked=revoked,
                                         signer=svc.signer)
    # a relying party reads it as it stands: a cached copy would hide a revocation
    return JSONResponse(credential, media_type=VC, headers={"cache-control": "no-cache"})


def _did_document(svc: Certification) -> dict[str, Any]:
    return credentials.did_document(did_of(svc), svc.signer)


@router.get("/.well-known/did.json", tags=["public"], dependencies=[PUBLIC], response_class=JSONResponse,
            responses={200: {"content": {DID: {}}}},
            summary="the issuer's did:web document (its public base URL has no path): the key that signs credentials")
async def did_document(svc: Service) -> JSONResponse:
    return JSONResponse(_did_document(svc), media_type=DID)


@router.get("/did.json", tags=["public"], dependencies=[PUBLIC], response_class=JSONResponse,
            responses={200: {"content": {DID: {}}}},
            summary="the issuer's did:web document when the public base URL has a path (did:web:host:path)")
async def did_document_under_path(svc: Service) -> JSONResponse:
    return JSONResponse(_did_document(svc), media_type=DID)
