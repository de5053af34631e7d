"""Value types shared by several event contracts."""

from __future__ import annotations

import unicodedata
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, EmailStr, Field, StringConstraints


def _nfc(value: object) -> object:
    # Vietnamese can arrive decomposed (NFD, from macOS and some IMEs); store and compare one form only.
    # A before-validator, so that length limits count the composed form whatever the keyboard sent.
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), BeforeValidator(_nfc)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000), BeforeValidator(_nfc)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9._-]{1,40}$")]


class Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Programme(StrEnum):
    OCOP = "OCOP"
    CNNTTB = "CNNTTB"


class Level(StrEnum):
    COMMUNE = "commune"
    DISTRICT = "district"
    PROVINCE = "province"
    REGION = "region"
    NATIONAL = "national"


class ProducerKind(StrEnum):
    ENTERPRISE = "enterprise"
    COOPERATIVE = "cooperative"
    COOPERATIVE_GROUP = "cooperative_group"
    HOUSEHOLD = "household"


class Area(Value):
    """Where a round runs: a province, optionally narrowed to a district (codes from the GSO list)."""

    province_code: Code
    district_code: Code | None = None
    region: Text | None = Field(default=None, description="for regional CNNTTB rounds: North, Central, South")


class Address(Value):
    street: Text | None = None
    commune: Text
    commune_code: Code | None = None
    district: Text | None = None
    district_code: Code | None = None
    province: Text
    province_code: Code


Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9 .-]{8,20}$")]


class Contact(Value):
    person: Text
    phone: Phone
    email: EmailStr | None = None


RegistrationNumber = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9./-]{3,40}$")]
"""A producer's business or cooperative registration number: the producer's identity (a name never is)."""


class Producer(Value):
    kind: ProducerKind
    name: Text
    registration_number: RegistrationNumber
    address: Address
    contact: Contact


class Product(Value):
    name: Text
    product_group: Text = Field(description="a product group of the round's rulebook")
    description: LongText = ""
    sample_count: int = Field(ge=0, le=1000)


class Document(Value):
    kind: Text = Field(description="e.g. registration_form, business_plan, business_registration, quality_declaration")
    file_name: Text
    size_bytes: int = Field(gt=0, le=200 * 1024 * 1024)
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


AuthorityId = Annotated[str, StringConstraints(
    pattern=r"^(national|(region|province|district|commune|district-of-province|commune-of-province):"
            r"[A-Za-z0-9._-]{1,40})$")]
"""A competent authority's stable id, from a round's level and area (binhchon_kit.authorities, ADR 0029)."""


class DecisionReference(Value):
    """A competent authority's decision (quyết định): number, date, signer and authority."""

    number: Text
    date: date
    signer: Text
    authority: Text = Field(description="the authority's name, as its round names it")
    authority_id: AuthorityId | None = Field(
        default=None, description="the authority's id (e.g. province:24); none on decisions recorded before "
                                  "authorities had ids")
