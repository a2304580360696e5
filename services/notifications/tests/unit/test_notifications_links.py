"""Signed action links: they carry their claims intact, stop at their expiry, survive key rotation, and
any token that is not exactly one this service signed is refused as InvalidLink, whatever its shape."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import string
import urllib.parse
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from estate_notifications.application.links import (
    INVALID_DETAIL,
    ExpiredLink,
    InvalidLink,
    LinkClaims,
    LinkSigner,
    hash_token,
    link_secret_from,
    new_feed_token,
)

SECRET = b"k" * 48
OTHER_SECRET = b"o" * 48
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
EXPIRES = datetime(2027, 3, 3, 9, 0, tzinfo=UTC)
ALPHABET = string.ascii_letters + string.digits + "-_"


def claims(**changes: Any) -> LinkClaims:
    values: dict[str, Any] = {
        "alert_id": uuid.UUID("0b7f6c2e-5d1a-4c1e-9f0a-2b3c4d5e6f70"),
        "contract_id": uuid.UUID("8e1d2c3b-4a59-4687-8796-a5b4c3d2e1f0"),
        "recipient_email": "firstname.lastname@somecouncil.gov.uk",
        "recipient_role": "contract_owner",
        "expires_at": EXPIRES,
        "purpose": "act",
    }
    values.update(changes)
    return LinkClaims(**values)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(payload: Any, secret: bytes = SECRET) -> str:
    """A correctly signed token for any payload, to reach the checks made after the signature."""
    body = b64(json.dumps(payload).encode())
    signature = b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())
    return f"{body}.{signature}"


def good_payload(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "a": uuid.uuid4().hex,
        "c": uuid.uuid4().hex,
        "e": "owner@council.gov.uk",
        "k": "1",
        "p": "act",
        "r": "contract_owner",
        "x": int(EXPIRES.timestamp()),
    }
    payload.update(changes)
    return payload


def other_char(char: str) -> str:
    return "A" if char != "A" else "B"


# --- round trip and format ---------------------------------------------------------------------------


def test_a_signed_link_verifies_to_the_same_claims() -> None:
    signer = LinkSigner(SECRET)
    original = claims()

    assert signer.verify(signer.sign(original), now=NOW) == original


def test_a_non_ascii_recipient_round_trips() -> None:
    signer = LinkSigner(SECRET)
    original = claims(recipient_email="zoë.müller@council.gov.uk", recipient_role="budget holder")

    assert signer.verify(signer.sign(original), now=NOW) == original


def test_the_token_is_url_safe_short_and_two_unpadded_parts() -> None:
    token = LinkSigner(SECRET).sign(claims())

    assert urllib.parse.quote(token, safe="") == token
    assert len(token) < 300
    body, signature = token.split(".")
    assert set(body + signature) <= set(ALPHABET)
    assert len(signature) == 43  # 32 bytes of HMAC-SHA256, unpadded


def test_the_payload_is_compact_sorted_json_with_key_id_and_purpose() -> None:
    token = LinkSigner(SECRET, key_id="7").sign(claims())
    body = token.split(".")[0]
    text = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    payload = json.loads(text)

    assert text == json.dumps(payload, sort_keys=True, separators=(",", ":"))
    assert payload["k"] == "7"
    assert payload["p"] == "act"
    assert payload["x"] == int(EXPIRES.timestamp())


def test_signing_is_deterministic() -> None:
    signer = LinkSigner(SECRET)

    assert signer.sign(claims()) == signer.sign(claims())


def test_expiry_is_kept_to_the_whole_second_and_returned_in_utc() -> None:
    signer = LinkSigner(SECRET)
    london_summer = timezone(timedelta(hours=1))
    expires = datetime(2027, 7, 1, 10, 0, 0, 999_999, tzinfo=london_summer)

    verified = signer.verify(signer.sign(claims(expires_at=expires)), now=NOW)

    assert verified.expires_at == datetime(2027, 7, 1, 9, 0, 0, tzinfo=UTC)
    assert verified.expires_at.utcoffset() == timedelta(0)


def test_claims_need_an_aware_expiry_and_a_known_purpose() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        claims(expires_at=datetime(2027, 3, 3, 9, 0))
    with pytest.raises(ValueError, match="purpose"):
        claims(purpose="delete")


def test_verify_needs_an_aware_now() -> None:
    signer = LinkSigner(SECRET)

    with pytest.raises(ValueError, match="timezone-aware"):
        signer.verify(signer.sign(claims()), now=datetime(2027, 3, 1, 12, 0))


# --- expiry ------------------------------------------------------------------------------------------


def test_a_link_works_until_the_second_before_its_expiry() -> None:
    signer = LinkSigner(SECRET)

    assert signer.verify(signer.sign(claims()), now=EXPIRES - timedelta(seconds=1)) == claims()


def test_a_link_has_expired_at_its_expiry_in_london_winter_time() -> None:
    signer = LinkSigner(SECRET)
    token = signer.sign(claims())

    with pytest.raises(ExpiredLink) as caught:
        signer.verify(token, now=EXPIRES)

    assert caught.value.detail == (
        "This link expired on 3 March 2027 at 09:00. "
        "Sign in to Estate to acknowledge the alert or record the decision."
    )
    assert str(caught.value) == caught.value.detail
    assert caught.value.expired_at == EXPIRES
    assert isinstance(caught.value, InvalidLink)


def test_the_expiry_is_told_in_london_summer_time() -> None:
    signer = LinkSigner(SECRET)
    token = signer.sign(claims(expires_at=datetime(2027, 7, 1, 8, 30, tzinfo=UTC)))

    with pytest.raises(ExpiredLink, match=r"expired on 1 July 2027 at 09:30\."):
        signer.verify(token, now=datetime(2027, 8, 1, tzinfo=UTC))


def test_a_forged_expired_token_is_invalid_not_expired() -> None:
    token = LinkSigner(OTHER_SECRET).sign(claims())

    with pytest.raises(InvalidLink) as caught:
        LinkSigner(SECRET).verify(token, now=EXPIRES + timedelta(days=1))

    assert type(caught.value) is InvalidLink


# --- tampering and keys ------------------------------------------------------------------------------


def test_changing_any_character_invalidates_the_token() -> None:
    signer = LinkSigner(SECRET)
    token = signer.sign(claims())
    dot = token.index(".")

    for position in range(len(token)):
        if position == dot:
            continue
        for replacement in {other_char(token[position]), "-" if token[position] != "-" else "_"}:
            tampered = token[:position] + replacement + token[position + 1 :]
            with pytest.raises(InvalidLink) as caught:
                signer.verify(tampered, now=NOW)
            assert type(caught.value) is InvalidLink, position
            assert caught.value.detail == INVALID_DETAIL


def test_another_spelling_of_the_same_signature_bytes_is_refused() -> None:
    # 43 base64 characters hold 258 bits for 256: the last character's low two bits are padding, so
    # decoding alone would accept four spellings of one signature.
    signer = LinkSigner(SECRET)
    token = signer.sign(claims())
    signature = token.split(".")[1]

    def decoded(text: str) -> bytes:
        return base64.urlsafe_b64decode(text + "=")

    same_bytes = [
        c for c in ALPHABET if c != signature[-1] and decoded(signature[:-1] + c) == decoded(signature)
    ]

    assert len(same_bytes) == 3
    for c in same_bytes:
        with pytest.raises(InvalidLink):
            signer.verify(token[:-1] + c, now=NOW)


def test_truncated_extended_or_spliced_tokens_are_invalid() -> None:
    signer = LinkSigner(SECRET)
    token = signer.sign(claims())
    other = signer.sign(claims(recipient_email="someone.else@council.gov.uk"))
    body, signature = token.split(".")
    other_body, other_signature = other.split(".")

    for bad in (
        token[:-1],
        token[1:],
        token + "A",
        "A" + token,
        f"{other_body}.{signature}",
        f"{body}.{other_signature}",
        f"{body}.{signature}.{signature}",
        f"{body}={signature}",
        f"{body}.{signature}=",
        f"{body} .{signature}",
        token.upper(),
    ):
        with pytest.raises(InvalidLink):
            signer.verify(bad, now=NOW)


def test_a_token_signed_with_another_secret_is_invalid() -> None:
    token = LinkSigner(OTHER_SECRET).sign(claims())

    with pytest.raises(InvalidLink):
        LinkSigner(SECRET).verify(token, now=NOW)


def test_a_token_with_an_unknown_key_id_is_invalid() -> None:
    token = LinkSigner(SECRET, key_id="2").sign(claims())

    with pytest.raises(InvalidLink) as caught:
        LinkSigner(SECRET, key_id="1").verify(token, now=NOW)

    assert caught.value.reason == "unknown key id"


def test_after_rotation_links_signed_with_the_previous_key_still_verify() -> None:
    old_signer = LinkSigner(OTHER_SECRET, key_id="1")
    new_signer = LinkSigner(SECRET, key_id="2", previous={"1": OTHER_SECRET})
    old_token = old_signer.sign(claims())
    new_token = new_signer.sign(claims())

    assert new_signer.verify(old_token, now=NOW) == claims()
    assert new_signer.verify(new_token, now=NOW) == claims()
    # New links are signed with the new key, which the old deployment does not know.
    with pytest.raises(InvalidLink):
        old_signer.verify(new_token, now=NOW)


def test_a_previous_key_id_does_not_let_another_secret_sign() -> None:
    rotated = LinkSigner(SECRET, key_id="2", previous={"1": OTHER_SECRET})
    forged = LinkSigner(b"x" * 48, key_id="1").sign(claims())

    with pytest.raises(InvalidLink):
        rotated.verify(forged, now=NOW)


def test_a_signer_refuses_empty_secrets_and_conflicting_key_ids() -> None:
    with pytest.raises(ValueError, match="empty"):
        LinkSigner(b"")
    with pytest.raises(ValueError, match="empty"):
        LinkSigner(SECRET, key_id="")
    with pytest.raises(ValueError, match="empty"):
        LinkSigner(SECRET, key_id="2", previous={"1": b""})
    with pytest.raises(ValueError, match="both"):
        LinkSigner(SECRET, key_id="1", previous={"1": OTHER_SECRET})
    # Listing the current secret among the previous ones under its own id is harmless.
    assert LinkSigner(SECRET, key_id="1", previous={"1": SECRET}).verify(
        LinkSigner(SECRET).sign(claims()), now=NOW
    )


# --- malformed tokens --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "",
        ".",
        "..",
        "a",
        "a.b",
        "a.b.c",
        ".abc",
        "abc.",
        "!!!.???",
        "ab$c.def",
        "a b.cd",
        "é.é",
        "\x00.\x00",
        "A.AAAA",  # one base64 character cannot encode a byte
        b64(b"not json at all") + "." + b64(b"x" * 32),
        b64(b"\xff\xfe\xfd") + "." + b64(b"x" * 32),
        b64(b"[1, 2, 3]") + "." + b64(b"x" * 32),
        b64(b'"a string"') + "." + b64(b"x" * 32),
        b64(b"null") + "." + b64(b"x" * 32),
        b64(b"{}") + "." + b64(b"x" * 32),
        b64(b'{"k": 1}') + "." + b64(b"x" * 32),
        b64(b'{"k": "1"}') + "." + b64(b"x" * 32),
        b64(b"[" * 700) + "." + b64(b"x" * 32),
        "A" * 5000 + "." + "B" * 43,
    ],
)
def test_garbage_is_invalid(token: str) -> None:
    with pytest.raises(InvalidLink) as caught:
        LinkSigner(SECRET).verify(token, now=NOW)

    assert type(caught.value) is InvalidLink
    assert caught.value.detail == INVALID_DETAIL


def test_non_strings_are_invalid() -> None:
    for token in (None, b"a.b", 123):
        with pytest.raises(InvalidLink):
            LinkSigner(SECRET).verify(token, now=NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize("missing", ["a", "c", "e", "r", "p", "x"])
def test_a_signed_payload_missing_a_field_is_invalid(missing: str) -> None:
    payload = good_payload()
    del payload[missing]

    with pytest.raises(InvalidLink):
        LinkSigner(SECRET).verify(forge(payload), now=NOW)


@pytest.mark.parametrize(
    "changes",
    [
        {"a": "not-a-uuid"},
        {"c": "0123"},
        {"a": 12345},
        {"c": None},
        {"e": ""},
        {"e": ["owner@council.gov.uk"]},
        {"r": 7},
        {"r": ""},
        {"p": "delete"},
        {"p": None},
        {"x": "2027-03-03T09:00:00Z"},
        {"x": 1.5e9},
        {"x": True},
        {"x": 10**30},
        {"x": -(10**30)},
        {"k": 1},
    ],
)
def test_a_signed_payload_with_a_malformed_field_is_invalid(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidLink) as caught:
        LinkSigner(SECRET).verify(forge(good_payload(**changes)), now=NOW)

    assert type(caught.value) is InvalidLink


def test_a_correctly_forged_payload_is_accepted_so_the_field_tests_reach_their_checks() -> None:
    payload = good_payload()

    verified = LinkSigner(SECRET).verify(forge(payload), now=NOW)

    assert verified.alert_id.hex == payload["a"]
    assert verified.recipient_email == payload["e"]


# --- secrets and feed tokens -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "short", "x" * 31, "   " + "x" * 31 + "\n"])
def test_a_short_link_secret_is_refused_with_how_to_make_one(value: str) -> None:
    with pytest.raises(ValueError) as caught:
        link_secret_from(value)

    message = str(caught.value)
    assert "at least 32 characters" in message
    assert 'python -c "import secrets; print(secrets.token_urlsafe(48))"' in message
    if value.strip():
        assert value.strip() not in message  # the (short) secret itself is not echoed


def test_a_long_enough_link_secret_is_its_utf8_bytes_without_surrounding_whitespace() -> None:
    assert link_secret_from("x" * 32) == b"x" * 32
    assert link_secret_from(" é" + "x" * 31 + "\n") == ("é" + "x" * 31).encode()


def test_a_feed_token_is_hashed_to_sha256_hex() -> None:
    token = "abc-_123"

    assert hash_token(token) == hashlib.sha256(b"abc-_123").hexdigest()
    assert len(hash_token(token)) == 64
    assert hash_token(token) != hash_token(token + "x")


def test_new_feed_tokens_are_random_and_url_safe() -> None:
    tokens = {new_feed_token() for _ in range(50)}

    assert len(tokens) == 50
    for token in tokens:
        assert len(token) == 43
        assert set(token) <= set(ALPHABET)
