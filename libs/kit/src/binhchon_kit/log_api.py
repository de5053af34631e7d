"""The log's HTTP face every service serves (ADR 0022): its signed checkpoints, the public keys that verify them,
and the inclusion and consistency proofs auditors check them with.

The keys are public (anyone holding a checkpoint may check it); the rest is for the auditor role, which also
asks for a checkpoint now (before and after an audit, say): recording one changes no history, it only signs it.
"""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path
from typing import Annotated, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import APIRouter, Depends, HTTPException, Query, Request, status

from binhchon_kit.auth.fastapi import require
from binhchon_kit.auth.policy import PUBLIC
from binhchon_kit.auth.roles import Role
from binhchon_kit.auth.tokens import Principal
from binhchon_kit.checkpoints import Checkpoints, LogDamaged, ProofUnavailable
from binhchon_kit.errors import Refused
from binhchon_kit.signing import _b64, key_id

router = APIRouter(prefix="/log", tags=["log"])
Auditor = Annotated[Principal, Depends(require(Role.AUDITOR))]
DAMAGED = {"description": "the log contradicts its last checkpoint or lacks a leaf: nothing is signed or proved; "
                          "`detail` names the damage, `reason` is `log_damaged`"}


class LogUnavailable(Refused):
    """A damaged log (``LogDamaged``) answered as the services answer every error (``detail`` and the fields
    naming what it is about, here ``reason: log_damaged`` and the ``origin``), with 503 rather than 500: the
    service is sound and says exactly what is wrong; it cannot sign or prove until the log is repaired."""

    @property
    def status(self) -> int:
        return status.HTTP_503_SERVICE_UNAVAILABLE


def _unavailable(log: Checkpoints, damage: LogDamaged) -> LogUnavailable:
    return LogUnavailable(str(damage), kind="unavailable", reason="log_damaged", origin=log.origin)


def _log(request: Request) -> Checkpoints:
    checkpoints: Checkpoints | None = request.app.state.runtime.checkpoints
    if checkpoints is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this service keeps no signed log (no database)")
    return checkpoints


@router.get("/jwks.json", summary="the public keys that verify the log's checkpoints: the current one, then the "
            "retired ones (a checkpoint names its key by `key_id`)", dependencies=[PUBLIC])
async def jwks(request: Request) -> dict[str, Any]:
    current = _log(request).signer.jwk()
    retired = retired_jwks(request.app.state.runtime.settings.log_retired_public_key_files)
    return {"keys": [current, *(k for k in retired if k["kid"] != current["kid"])]}


def retired_jwks(files: str) -> list[dict[str, str]]:
    """The JWKs of the retired log keys named by ``LOG_RETIRED_PUBLIC_KEY_FILES`` (PEM public keys, comma-separated):
    a rotation keeps the checkpoints the old key signed verifiable. A file that is not an Ed25519 public key
    fails the request loudly rather than silently dropping a key auditors need."""
    keys = []
    for name in (f.strip() for f in files.split(",") if f.strip()):
        public = serialization.load_pem_public_key(Path(name).read_bytes())
        if not isinstance(public, Ed25519PublicKey):
            raise ValueError(f"{name} is not an Ed25519 public key")
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        keys.append({"kty": "OKP", "crv": "Ed25519", "x": _b64(raw), "kid": key_id(public), "alg": "EdDSA",
                     "use": "sig"})
    return keys


@router.get("/checkpoints", summary="every signed checkpoint of this service's log, oldest first",
            responses={401: {"description": "no or invalid bearer token"}, 403: {"description": "not an auditor"}})
async def checkpoints(request: Request, _auditor: Auditor) -> list[dict[str, Any]]:
    return [c.model_dump() for c in await _log(request).checkpoints()]


@router.get("/checkpoints/latest", summary="the latest signed checkpoint",
            responses={401: {"description": "no or invalid bearer token"}, 403: {"description": "not an auditor"},
                       404: {"description": "no checkpoint recorded yet"}})
async def latest(request: Request, _auditor: Auditor) -> dict[str, Any]:
    _, checkpoint = await _log(request).latest()
    if checkpoint is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no checkpoint recorded yet")
    return checkpoint.model_dump()


@router.post("/checkpoints", status_code=201, summary="sign the log as it is now and record the checkpoint",
             responses={401: {"description": "no or invalid bearer token"}, 403: {"description": "not an auditor"},
                        409: {"description": "another checkpoint was being recorded: ask again"},
                        503: DAMAGED})
async def record(request: Request, _auditor: Auditor) -> dict[str, Any]:
    log = _log(request)
    try:
        recorded = await log.record(full_check=True)  # an auditor asks: every signed leaf re-read
    except LogDamaged as exc:
        raise _unavailable(log, exc) from exc
    assert recorded is not None  # only ``only_if_grown`` records nothing
    return recorded.data


@router.get("/proofs/inclusion", summary="the audit path of an event in the tree of a checkpoint's size",
            responses={401: {"description": "no or invalid bearer token"}, 403: {"description": "not an auditor"},
                       404: {"description": "no such event in the tree of that size"}, 503: DAMAGED})
async def inclusion(request: Request, _auditor: Auditor, event_id: Annotated[str, Query()],
                    tree_size: Annotated[int, Query(ge=1)]) -> dict[str, Any]:
    log = _log(request)
    return await _proof(log, log.inclusion(event_id, tree_size))


@router.get("/proofs/consistency", summary="the proof that the tree of `first` events is a prefix of that of `second`",
            responses={401: {"description": "no or invalid bearer token"}, 403: {"description": "not an auditor"},
                       404: {"description": "the log has not reached that size"}, 503: DAMAGED})
async def consistency(request: Request, _auditor: Auditor, first: Annotated[int, Query(ge=0)],
                      second: Annotated[int, Query(ge=0)]) -> dict[str, Any]:
    log = _log(request)
    return await _proof(log, log.consistency(first, second))


async def _proof(log: Checkpoints, answer: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """A proof, or why there is none: 404 for a size or event the log has not reached, 503 naming the damage
    when the log lacks a leaf below its size (the auditor's finding, not a bad request, and never a 500)."""
    try:
        return await answer
    except ProofUnavailable as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except LogDamaged as exc:
        raise _unavailable(log, exc) from exc
