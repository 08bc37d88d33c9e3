"""The codec's own verifier stays itsdangerous-compatible, and its cache stays honest.

Consent values are signed by itsdangerous and verified by consentguard's fast path; a
site upgrading either, or verifying cookies with plain itsdangerous elsewhere, must see
the same answers. Each test compares against ``URLSafeSerializer`` itself.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from conftest import NOW, SECRET, FrozenClock, make_registry
from hypothesis import given, settings
from hypothesis import strategies as st
from itsdangerous import BadData, URLSafeSerializer

from consentguard import ConsentGuard
from consentguard.consent import SALT, ConsentCodec

DAY = 86400


def serializer(*keys: str, salt: str = SALT) -> URLSafeSerializer:
    """itsdangerous configured as the codec documents (keys oldest first)."""
    return URLSafeSerializer(list(keys), salt=salt,
                             signer_kwargs={"digest_method": hashlib.sha256})


def codec(secret: Any = SECRET, clock: FrozenClock | None = None, **kwargs: Any) -> ConsentCodec:
    return ConsentCodec(make_registry(), secret, max_age=180 * DAY, refusal_max_age=180 * DAY,
                        clock=clock or FrozenClock(), **kwargs)


def payload(consent_id: str = "c-1", *,
            accepted: tuple[str, ...] = ("analytics",)) -> dict[str, Any]:
    revisions = make_registry().revisions
    return {"i": consent_id, "t": int(NOW), "a": {c: revisions[c] for c in accepted},
            "d": sorted({"functional", "analytics", "marketing"} - set(accepted)), "v": None}


def itsdangerous_loads(value: str, *keys: str) -> Any:
    try:
        return serializer(*keys).loads(value)
    except BadData:
        return None


# -- compatibility ---------------------------------------------------------------------------


def test_a_value_signed_by_itsdangerous_decodes() -> None:
    value = serializer(SECRET).dumps(payload("from-itsdangerous"))
    consent = codec().decode(value)
    assert consent is not None and consent.id == "from-itsdangerous"
    assert consent.accepted == frozenset({"analytics"})


def test_a_value_encoded_by_the_codec_verifies_with_itsdangerous() -> None:
    value = codec().encode(["analytics", "functional"], consent_id="ours")
    data = serializer(SECRET).loads(value)
    assert data["i"] == "ours" and set(data["a"]) == {"analytics", "functional"}


def test_a_compressed_payload_decodes() -> None:
    # A long, repetitive id makes itsdangerous zlib-compress the payload ("." prefix).
    value = serializer(SECRET).dumps(payload("x" * 300))
    assert value.startswith(".")
    consent = codec().decode(value)
    assert consent is not None and consent.id == "x" * 300


def test_the_codec_never_compresses_what_it_signs() -> None:
    # Compression would cost every new visitor a decompression; even a payload itsdangerous
    # would compress is signed plain, and plain itsdangerous still reads it.
    value = codec().encode(["analytics"], consent_id="x" * 300)
    assert not value.startswith(".")
    assert serializer(SECRET).loads(value)["i"] == "x" * 300
    consent = codec().decode(value)
    assert consent is not None and consent.id == "x" * 300


def test_a_payload_too_long_to_sign_plain_is_compressed() -> None:
    value = codec().encode(["analytics"], consent_id="x" * 3000)
    assert value.startswith(".") and len(value) < 4096  # a cookie browsers still keep
    consent = codec().decode(value)
    assert consent is not None and consent.id == "x" * 3000


@pytest.mark.parametrize("secret_key", [
    pytest.param(["new-key", SECRET], id="old-key-still-verifies"),
    pytest.param([SECRET, "old-key"], id="newest-key-verifies"),
])
def test_rotation_verifies_every_listed_key(secret_key: list[str]) -> None:
    value = serializer(SECRET).dumps(payload())
    assert codec(secret_key).decode(value) is not None


def test_rotation_signs_with_the_newest_key_only() -> None:
    value = codec(["new-key", "old-key"]).encode(["analytics"])
    assert itsdangerous_loads(value, "new-key") is not None
    assert itsdangerous_loads(value, "old-key") is None


@pytest.mark.parametrize("value", [
    pytest.param(serializer("another-key").dumps(payload()), id="unknown-key"),
    pytest.param(serializer(SECRET, salt="itsdangerous").dumps(payload()), id="other-salt"),
    pytest.param(URLSafeSerializer(SECRET, salt=SALT).dumps(payload()), id="sha1-signer"),
])
def test_values_signed_otherwise_do_not_decode(value: str) -> None:
    assert codec().decode(value) is None


def test_the_verifier_is_the_serializer_less_exceptions() -> None:
    good = codec().encode(["analytics"], consent_id="same")
    assert codec().verify(good) == serializer(SECRET).loads(good)


def _mutations(value: str) -> list[str]:
    payload_part, _, signature = value.rpartition(".")
    return [
        value[:-1], value + "A", value[1:], payload_part, "." + signature,
        payload_part + "." + signature[::-1], payload_part[:-2] + "." + signature,
        value.replace(".", "", 1), value + "." + signature, "", ".", "..",
        payload_part + "." + signature + "=", payload_part + ".*" + signature[1:],
    ]


@pytest.mark.parametrize("index", range(14))
def test_tampered_values_agree_with_itsdangerous(index: int) -> None:
    value = _mutations(codec().encode(["analytics"], consent_id="t"))[index]
    expected = itsdangerous_loads(value, SECRET)
    assert codec().verify(value) == expected
    assert (codec().decode(value) is None) == (expected is None)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_edit_of_a_signed_value_agrees_with_itsdangerous(data: st.DataObject) -> None:
    value = codec().encode(["analytics"], consent_id="h")
    position = data.draw(st.integers(0, len(value)))
    inserted = data.draw(st.text(alphabet="abcAZ09-_.=", max_size=3))
    removed = data.draw(st.integers(0, 3))
    edited = value[:position] + inserted + value[position + removed:]
    assert codec().verify(edited) == itsdangerous_loads(edited, SECRET)


def test_a_signed_payload_that_is_not_ours_is_no_consent() -> None:
    for foreign in ([1, 2], {"i": 1}, "text", None):
        assert codec().decode(serializer(SECRET).dumps(foreign)) is None


@pytest.mark.parametrize("value", ["é" + "a" * 10, "a" * 5000 + ".sig"])
def test_non_ascii_and_oversized_values_are_refused_before_any_work(value: str) -> None:
    assert codec().verify(value) is None


# -- the cache ----------------------------------------------------------------------------------


def test_expiry_is_checked_on_every_cache_hit() -> None:
    clock = FrozenClock()
    cg = codec(clock=clock)
    value = cg.encode(["analytics"])
    assert cg.decode(value) is not None
    clock.advance(180 * DAY)
    assert cg.decode(value) is None  # cached, yet expired
    assert cg.decode(value, now=NOW) is not None


def test_a_future_issued_value_becomes_valid_when_its_time_comes() -> None:
    clock = FrozenClock()
    cg = codec(clock=clock)
    value = cg.encode(["analytics"], now=NOW + 3600)
    assert cg.decode(value) is None  # issued an hour ahead: a clock gone wrong
    clock.advance(3600)
    assert cg.decode(value) is not None  # the cached entry is re-judged against the clock


def test_the_cache_keeps_recently_used_values() -> None:
    cg = codec(cache_size=2)
    first, second, third = (cg.encode(["analytics"], consent_id=f"v{i}") for i in range(3))
    cg.decode(first)
    cg.decode(second)
    cg.decode(first)  # used again: second is now the least recently used
    cg.decode(third)
    assert first in cg._cache and third in cg._cache and second not in cg._cache
    assert len(cg._cache) == 2


def test_visitors_with_the_same_choice_get_their_own_consent() -> None:
    cg = codec()
    a = cg.decode(cg.encode(["analytics"], consent_id="a", now=NOW))
    b = cg.decode(cg.encode(["analytics"], consent_id="b", now=NOW - DAY))
    assert a is not None and b is not None
    assert (a.id, b.id) == ("a", "b") and a.issued != b.issued
    assert a.accepted == b.accepted == frozenset({"analytics"})


def test_a_guard_decodes_with_the_fast_path() -> None:
    guard = ConsentGuard(make_registry(), secret_key=SECRET, clock=FrozenClock())
    value = serializer(SECRET).dumps(payload("via-guard", accepted=("marketing",)))
    consent = guard.decode_consent(value)
    assert consent is not None and consent.allows("marketing")
    assert json.loads(json.dumps(sorted(consent.refused))) == ["analytics", "functional"]


def test_a_decoded_consent_equals_one_built_by_hand() -> None:
    """The decoder builds Consent without its __init__: it must still be the same value."""
    from dataclasses import fields, replace

    guard = ConsentGuard(make_registry(), secret_key=SECRET, clock=FrozenClock())
    decoded = guard.decode_consent(guard.encode_consent(["analytics"]))
    assert decoded is not None
    rebuilt = replace(decoded)  # through __init__
    assert decoded == rebuilt and hash(decoded) == hash(rebuilt)
    assert {f.name for f in fields(decoded)} == set(vars(decoded))


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32-le", "utf-8-sig"])
def test_signed_payloads_in_other_encodings_are_refused_as_itsdangerous_does(
        encoding: str) -> None:
    from itsdangerous.encoding import base64_encode

    its = serializer(SECRET)
    body = json.dumps(payload()).encode(encoding)
    token = its.make_signer(SALT).sign(base64_encode(body)).decode()
    with pytest.raises(BadData):
        its.loads(token)
    assert codec().verify(token) is None and codec().decode(token) is None


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                 lambda inner: st.lists(inner, max_size=3)
                 | st.dictionaries(st.text(max_size=3), inner, max_size=3)).map(
        lambda v: json.dumps(v, separators=(",", ":"))),
    st.text(alphabet=' \t\n{}[]":,0123456789truefalsn\ufeffa', max_size=20),
))
def test_the_json_shortcut_reads_as_json_loads(text: str) -> None:
    from consentguard.consent import _json_loads

    try:
        want: Any = ("value", json.loads(text))
    except ValueError as error:
        want = ("error", type(error))
    try:
        got: Any = ("value", _json_loads(text))
    except ValueError as error:
        got = ("error", type(error))
    assert got == want


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=130), st.binary(max_size=300))
def test_the_precomputed_hmac_is_hmac_sha256(key: bytes, message: bytes) -> None:
    import hmac

    from consentguard.consent import _hmac_state

    inner_base, outer_base = _hmac_state(key)
    inner = inner_base.copy()
    inner.update(message)
    outer = outer_base.copy()
    outer.update(inner.digest())
    assert outer.digest() == hmac.new(key, message, hashlib.sha256).digest()


def test_a_registry_whose_consent_cookie_browsers_would_drop_is_refused_up_front() -> None:
    import random
    import string

    from consentguard import Category, Registry

    label = "".join(random.Random(1).choices(string.ascii_letters + string.digits, k=5000))
    registry = Registry([Category("essential", required=True),
                         Category("analytics")], [], version=label)  # incompressible
    with pytest.raises(ValueError, match=r"characters, more than the 4096 .* Fix: shorten"):
        ConsentCodec(registry, SECRET, max_age=DAY, refusal_max_age=DAY)
    # A realistic registry signs well within the limit.
    assert len(codec().encode(["*"])) < 1024
