"""The producer binding's rules (ADR 0037), without a store: who may move it where, and the ids it gives."""

from __future__ import annotations

import pytest

from intake.domain import bindings, dossiers
from intake.domain.bindings import Binding, Status
from intake.domain.errors import Refused

ROUND = "round-7b6c8b1e-2f5b-5b8a-9a55-0d7b1d5f2a10"


def binding(status: Status) -> Binding:
    return Binding(bindings.binding_id_for("htx", "2400123456"), 1, status, "htx", "2400123456")


def test_one_account_and_one_number_make_one_binding_whatever_the_case():
    assert bindings.binding_id_for("htx", " 0100abc/gcn") == bindings.binding_id_for("htx", "0100ABC/GCN")
    assert bindings.binding_id_for("htx", "2400123456") != bindings.binding_id_for("other", "2400123456")


def test_an_unverified_accounts_dossier_never_takes_the_producers_own_id():
    own = dossiers.dossier_id_for(ROUND, "2400123456", "Mật ong rừng Lục Nam")
    mine = dossiers.unverified_dossier_id_for(ROUND, "2400123456", "Mật ong rừng Lục Nam", "competitor")
    assert mine != own
    assert mine != dossiers.unverified_dossier_id_for(ROUND, "2400123456", "Mật ong rừng Lục Nam", "htx")
    # the same account filing the same product again (respelled) collides with itself
    assert mine == dossiers.unverified_dossier_id_for(ROUND, "2400123456", " MẬT ONG rừng lục nam", "competitor")


def test_the_first_filing_requests_and_later_ones_record_nothing():
    asked = bindings.request(None, applicant_id="htx", registration_number="2400123456 ", producer_name="HTX",
                             dossier_id="dossier-x")
    assert asked is not None and asked.registration_number == "2400123456"
    assert bindings.request(binding(Status.REQUESTED), applicant_id="htx", registration_number="2400123456",
                            producer_name="HTX", dossier_id="dossier-y") is None


@pytest.mark.parametrize("status", [Status.REQUESTED, Status.REFUSED])
def test_verified_from_requested_or_refused(status):
    verified = bindings.verify(binding(status), applicant_id="htx", registration_number="2400123456", note="ok")
    assert verified.binding_id == binding(status).id


def test_verified_once():
    with pytest.raises(Refused) as refused:
        bindings.verify(binding(Status.VERIFIED), applicant_id="htx", registration_number="2400123456")
    assert refused.value.detail == {"current_status": "verified"}


@pytest.mark.parametrize("status", [Status.REQUESTED, Status.VERIFIED])
def test_refused_from_requested_or_verified(status):
    assert bindings.refuse(binding(status), reason="Không có giấy ủy quyền").reason == "Không có giấy ủy quyền"


def test_refused_once():
    with pytest.raises(Refused):
        bindings.refuse(binding(Status.REFUSED), reason="x")
