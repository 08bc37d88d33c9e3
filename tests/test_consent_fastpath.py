"""The codec's own verifier answers as itsdangerous does, and its memo never shows.

Consent values are signed by itsdangerous and verified by consentguard's own check; a
site upgrading either, or verifying cookies with plain itsdangerous elsewhere, must see
the same answers. Each property compares against ``URLSafeSerializer`` itself, and
against :func:`expected`, the consent rules written out plainly. The memo is tested
through public calls only: what it must never change, and what it must never keep.
"""

from __future__ import annotations

import gc
import hashlib
import json
import tracemalloc
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from itsdangerous import BadData, URLSafeSerializer
from itsdangerous.encoding import base64_encode
from support import NOW, SECRET, FrozenClock, make_registry

from consentguard import Consent, ConsentGuard, Registry
from consentguard.consent import SALT, ConsentCodec

DAY = 86400
MAX_AGE, REFUSAL_MAX_AGE = 180 * DAY, 30 * DAY
REGISTRY = make_registry(version="2026-04-20")
OPTIONAL = ("functional", "analytics", "marketing")


def serializer(*keys: str, salt: str = SALT) -> URLSafeSerializer:
    """itsdangerous configured as the codec documents (keys oldest first)."""
    return URLSafeSerializer(list(keys), salt=salt,
                             signer_kwargs={"digest_method": hashlib.sha256})


def codec(secret: Any = SECRET, *, registry: Registry = REGISTRY,
          clock: FrozenClock | None = None, **kwargs: Any) -> ConsentCodec:
    return ConsentCodec(registry, secret, max_age=MAX_AGE, refusal_max_age=REFUSAL_MAX_AGE,
                        clock=clock or FrozenClock(), **kwargs)


def payload(consent_id: str = "c-1", *, accepted: tuple[str, ...] = ("analytics",),
            issued: int = int(NOW)) -> dict[str, Any]:
    """A payload as the codec writes it, for ``REGISTRY``."""
    return {"i": consent_id, "t": issued,
            "a": {c: REGISTRY.revisions[c] for c in sorted(accepted)},
            "d": sorted(set(OPTIONAL) - set(accepted)), "v": REGISTRY.version}


def itsdangerous_loads(value: str, *keys: str) -> Any:
    try:
        return serializer(*keys).loads(value)
    except BadData:
        return None


def _utc(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, timezone.utc)


def expected(data: Any, now: float, registry: Registry = REGISTRY) -> Consent | None:
    """The consent a verified payload holds at ``now``, by the rules the codec documents."""
    if not isinstance(data, dict):
        return None
    consent_id, issued, accepted_at, refused, version = (
        data.get(k) for k in ("i", "t", "a", "d", "v"))
    if not (isinstance(consent_id, str) and type(issued) is int and 0 <= issued < 2**33
            and isinstance(accepted_at, dict)
            and all(isinstance(v, str) for v in accepted_at.values())
            and isinstance(refused, list) and all(isinstance(r, str) for r in refused)
            and (version is None or isinstance(version, str))):
        return None
    optional = {c.name for c in registry.categories if not c.required}
    chosen = set(accepted_at) & optional
    if version == registry.version:  # current: a category whose revision changed lapses
        accepted = {c for c in chosen if accepted_at[c] == registry.revisions[c]}
        refusals = set(refused) & optional
    else:  # another version of the policy: every choice lapses, refusals too
        accepted, refusals = set(), set()
    lifetime = MAX_AGE if chosen else REFUSAL_MAX_AGE
    if not issued - 300 <= now < issued + lifetime:  # issued in the future, or expired
        return None
    return Consent(id=consent_id, issued=_utc(issued), expires=_utc(issued + lifetime),
                   accepted=frozenset(accepted), refused=frozenset(refusals),
                   required=registry.required, stale=frozenset(chosen - accepted),
                   undecided=frozenset(optional - set(accepted_at) - refusals),
                   version=version, revisions=accepted_at)


# -- compatibility with itsdangerous -------------------------------------------------------


def test_a_value_signed_by_itsdangerous_decodes() -> None:
    value = serializer(SECRET).dumps(payload("from-itsdangerous"))
    consent = codec().decode(value)
    assert consent is not None and consent.id == "from-itsdangerous"
    assert consent.accepted == frozenset({"analytics"})


def test_a_value_encoded_by_the_codec_verifies_with_itsdangerous() -> None:
    value = codec().encode(["analytics", "functional"], consent_id="ours")
    data = serializer(SECRET).loads(value)
    assert data["i"] == "ours" and set(data["a"]) == {"analytics", "functional"}
    assert codec().verify(value) == data


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
    assert codec().verify(value) is None and codec().decode(value) is None


KEYS = st.text(min_size=1, max_size=40)
IDS = st.text(max_size=30)
ISSUED = st.integers(int(NOW) - MAX_AGE - DAY, int(NOW) + DAY)


@settings(max_examples=100)
@given(st.lists(KEYS, min_size=1, max_size=3, unique=True), st.data())
def test_whatever_itsdangerous_signs_with_a_listed_key_decodes(keys: list[str],
                                                               data: st.DataObject) -> None:
    """Rotation: every key of the list verifies, whichever signed."""
    signer = data.draw(st.sampled_from(keys))
    accepted = data.draw(st.lists(st.sampled_from(OPTIONAL), unique=True))
    issued = data.draw(ISSUED)
    body = payload(data.draw(IDS), accepted=tuple(accepted), issued=issued)
    value = serializer(signer).dumps(body)
    assert codec(keys).verify(value) == body
    assert codec(keys).decode(value, now=NOW) == expected(body, NOW)


@settings(max_examples=100)
@given(st.lists(KEYS, min_size=1, max_size=3, unique=True), KEYS, IDS)
def test_a_value_signed_with_a_key_not_listed_never_verifies(keys: list[str], other: str,
                                                             consent_id: str) -> None:
    """A retired key (re-signed with an old key), or a guessed one."""
    if other in keys:
        return
    value = serializer(other).dumps(payload(consent_id))
    assert codec(keys).verify(value) is None and codec(keys).decode(value) is None


@settings(max_examples=50)
@given(st.text(max_size=30))
def test_a_value_signed_for_another_purpose_never_verifies(salt: str) -> None:
    """Another salt: the same key signing the app's session, say."""
    if salt == SALT:
        return
    value = serializer(SECRET, salt=salt).dumps(payload())
    assert codec().verify(value) is None and codec().decode(value) is None


PADDING_TRICKS = ["=", "==", "===", ".", "*", " ", "\n", "-", "_", "A"]


@settings(max_examples=400)
@given(st.data())
def test_an_edited_value_verifies_only_if_itsdangerous_reads_it_alike(
        data: st.DataObject) -> None:
    """Forged, truncated, extended, padded, non-ASCII: whatever itsdangerous refuses, the
    codec refuses; what the codec reads, itsdangerous reads the same."""
    value = codec().encode(data.draw(st.lists(st.sampled_from(OPTIONAL), unique=True)),
                           consent_id=data.draw(IDS))
    start = data.draw(st.integers(0, len(value)))
    end = data.draw(st.integers(start, min(len(value), start + 4)))
    inserted = data.draw(st.one_of(
        st.text(alphabet="abcAZ09-_.=", max_size=3),
        st.sampled_from(PADDING_TRICKS),
        st.text(min_size=1, max_size=2).filter(lambda s: not s.isascii()),
    ))
    edited = value[:start] + inserted + value[end:]
    if data.draw(st.booleans()):
        edited = edited[:data.draw(st.integers(0, len(edited)))]  # truncated as well
    ours, theirs = codec().verify(edited), itsdangerous_loads(edited, SECRET)
    if ours is not None or edited.isascii():  # (itsdangerous drops non-ASCII from a
        assert ours == theirs                 # signature: refusing those is stricter)
    assert (codec().decode(edited, now=NOW) is None) == (expected(ours, NOW) is None)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32-le", "utf-8-sig"])
def test_signed_payloads_in_other_encodings_are_refused_as_itsdangerous_does(
        encoding: str) -> None:
    its = serializer(SECRET)
    body = json.dumps(payload()).encode(encoding)
    token = its.make_signer(SALT).sign(base64_encode(body)).decode()
    with pytest.raises(BadData):
        its.loads(token)
    assert codec().verify(token) is None and codec().decode(token) is None


@pytest.mark.parametrize("value", ["é" + "a" * 10, "a" * 5000 + ".sig"])
def test_non_ascii_and_oversized_values_are_refused(value: str) -> None:
    assert codec().verify(value) is None and codec().decode(value) is None


# -- what a verified payload means ---------------------------------------------------------


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=4),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6)
NAMES = st.sampled_from([*OPTIONAL, "essential", "adverts"])
REVISIONS = st.one_of(st.sampled_from(sorted(set(REGISTRY.revisions.values()))),
                      st.just("0ld"), JSON)


@st.composite
def payloads(draw: st.DrawFn) -> Any:
    """Payloads a key holder could sign: ours, ours from another registry, and junk."""
    if draw(st.integers(0, 9)) == 0:
        return draw(JSON)
    body: dict[str, Any] = {
        "i": draw(st.one_of(IDS, JSON)),
        "t": draw(st.one_of(ISSUED, ISSUED, st.booleans(), st.integers(-1, 2**34), JSON)),
        "a": draw(st.one_of(st.dictionaries(NAMES, REVISIONS, max_size=5), JSON)),
        "d": draw(st.one_of(st.lists(NAMES, max_size=5), st.lists(JSON, max_size=2))),
        "v": draw(st.sampled_from([REGISTRY.version, "2026-01-01", None, 3, ["x"]])),
    }
    for key in draw(st.lists(st.sampled_from(sorted(body)), max_size=1)):
        del body[key]
    return body


@settings(max_examples=400)
@given(payloads(), st.floats(NOW - 2 * DAY, NOW + MAX_AGE + 2 * DAY), st.booleans())
def test_any_signed_payload_decodes_as_the_rules_say(body: Any, now: float,
                                                     versioned: bool) -> None:
    """The codec's fast read of a current choice and its full read of an older one agree
    with the rules written out plainly: revisions, versions, refusals, expiry."""
    registry = REGISTRY if versioned else make_registry()
    if not versioned and isinstance(body, dict) and body.get("v") == REGISTRY.version:
        body["v"] = None
    value = serializer(SECRET).dumps(body)
    assert codec(registry=registry).decode(value, now=now) == expected(body, now, registry)


@pytest.mark.parametrize(("accepted", "lifetime"), [
    pytest.param(("analytics",), MAX_AGE, id="acceptance"),
    pytest.param((), REFUSAL_MAX_AGE, id="refusal"),
])
def test_a_value_holds_from_shortly_before_its_issue_until_it_expires(
        accepted: tuple[str, ...], lifetime: int) -> None:
    value = serializer(SECRET).dumps(payload(accepted=accepted))
    cg = codec()
    # Asked in any order: a remembered value is judged at each time as a new one.
    for now, holds in [(NOW, True), (NOW - 301, False), (NOW - 300, True),
                       (NOW + lifetime - 1, True), (NOW + lifetime, False), (NOW, True)]:
        assert (cg.decode(value, now=now) is not None) is holds, now
    assert cg.decode("forged." + value, now=NOW) is None


def test_a_decoded_consent_equals_one_built_by_hand() -> None:
    """The decoder builds Consent without its __init__: it must still be the same value."""
    from dataclasses import fields, replace

    guard = ConsentGuard(REGISTRY, secret_key=SECRET, clock=FrozenClock())
    decoded = guard.decode_consent(guard.encode_consent(["analytics"]))
    assert decoded is not None
    rebuilt = replace(decoded)  # through __init__
    assert decoded == rebuilt and hash(decoded) == hash(rebuilt)
    assert {f.name for f in fields(decoded)} == set(vars(decoded))


def test_visitors_with_the_same_choice_get_their_own_consent() -> None:
    cg = codec()
    a = cg.decode(cg.encode(["analytics"], consent_id="a", now=NOW))
    b = cg.decode(cg.encode(["analytics"], consent_id="b", now=NOW - DAY))
    assert a is not None and b is not None
    assert (a.id, b.id) == ("a", "b") and a.issued != b.issued
    assert a.accepted == b.accepted == frozenset({"analytics"})


# -- the memo ------------------------------------------------------------------------------


@settings(max_examples=100)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(-2, 8)), min_size=1, max_size=25),
       st.integers(1, 3))
def test_a_codec_that_remembers_answers_as_a_fresh_one(steps: list[tuple[int, int]],
                                                       cache_size: int) -> None:
    """Whatever it decoded before and whenever: never a consent past its expiry, nor
    before its issue; forged values stay forged."""
    clock = FrozenClock()
    remembering = codec(clock=clock, cache_size=cache_size)
    values = [remembering.encode(["analytics"] if i % 2 else [], consent_id=f"v{i}",
                                 now=NOW + i * 10 * DAY) for i in range(5)]
    values.append(values[0][:-2] + "AA")  # forged
    for index, months in steps:
        clock.now = NOW + months * 30 * DAY
        fresh = codec(clock=FrozenClock(clock.now))
        assert remembering.decode(values[index]) == fresh.decode(values[index])


def test_the_memo_keeps_the_values_used_most_recently(verified: list[str]) -> None:
    cg = codec(cache_size=2)
    first, second, third = (cg.encode(["analytics"], consent_id=f"v{i}") for i in range(3))
    for value in (first, second, first, third):  # first used again: second goes
        cg.decode(value)
    assert verified == [first, second, third]
    verified.clear()
    cg.decode(first)
    cg.decode(third)
    cg.decode(second)
    assert verified == [second]


def test_forged_values_are_not_remembered_and_push_nothing_out(verified: list[str]) -> None:
    cg = codec(cache_size=1)
    visitor = cg.encode(["analytics"])
    cg.decode(visitor)
    verified.clear()
    forged = [codec("guessed-key").encode(["*"], consent_id=f"f{i}") for i in range(50)]
    for value in forged * 2:
        assert cg.decode(value) is None
    assert cg.decode(visitor) is not None
    assert verified == forged * 2  # each forged value verified (and refused) every time


def _held_after(decode_all: Any) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        decode_all()
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    return sum(stat.size_diff for stat in after.compare_to(before, "filename"))


def test_a_storm_of_distinct_values_holds_memory_bounded_by_cache_size() -> None:
    cg = codec(cache_size=64)
    forger = codec("guessed-key")
    forged = [forger.encode(["*"], consent_id=f"f{i:06d}") for i in range(5000)]
    forged += [value[:-4] + "AAAA" for value in cg_values(cg, 2000)]  # our payloads, bad MACs
    assert _held_after(lambda: [cg.decode(v) for v in forged]) < 16 * 1024
    visitors = cg_values(cg, 2000)
    # Real visitors are remembered up to cache_size: 64 of them, whoever comes after.
    few = _held_after(lambda: [cg.decode(v) for v in visitors[:64]])
    many = _held_after(lambda: [cg.decode(v) for v in visitors[64:]])
    assert many < few + 16 * 1024


def cg_values(cg: ConsentCodec, count: int) -> list[str]:
    return [cg.encode(["analytics"], consent_id=f"v{i:06d}") for i in range(count)]
