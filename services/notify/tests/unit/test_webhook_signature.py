"""Webhook signatures as Standard Webhooks' own library checks them: the secret we hand out, and the plain
secrets of subscriptions made before it (their UTF-8 bytes are the key)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
import standardwebhooks

from notify.adapters.channels import new_secret, sign, signing_key

BODY = '{"specversion":"1.0","type":"round.opened","data":{"title":"Đánh giá OCOP"}}'.encode()
WHEN = datetime(2026, 11, 20, 2, 30, tzinfo=UTC)  # the timestamp signed; its library then checks it is recent


def test_a_new_secret_is_whsec_and_32_bytes_of_base64():
    secret = new_secret()
    assert secret.startswith("whsec_") and len(signing_key(secret)) == 32
    assert signing_key(secret) == base64.b64decode(secret.removeprefix("whsec_"))
    assert new_secret() != secret


@pytest.mark.parametrize("secret", ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "zN3w-legacy_token_urlsafe"],
                         ids=["whsec", "plain-before-standard-webhooks"])
def test_our_signature_is_the_libraries(secret):
    stamp = str(int(WHEN.timestamp()))
    ours = sign(secret, "msg_2Lh9", stamp, BODY)
    key = secret if secret.startswith("whsec_") else secret.encode()
    assert ours == standardwebhooks.Webhook(key).sign("msg_2Lh9", WHEN, BODY.decode())
    assert ours.startswith("v1,") and len(base64.b64decode(ours[3:])) == 32


def test_a_whsec_secret_that_is_not_base64_is_refused():
    with pytest.raises(ValueError, match="base64"):
        signing_key("whsec_not base64!")
