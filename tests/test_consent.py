"""The signed consent cookie: encoding, verification, rotation, expiry and staleness."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta, timezone

import pytest
from itsdangerous import URLSafeSerializer
from support import NOW, SECRET, FrozenClock, make_registry

from consentguard import Category, Consent, ConsentGuard, Cookie, Registry
from consentguard.consent import SALT, ConsentCodec, SecretKey, read_payload

DAY = 86400
OPTIONAL = frozenset({"functional", "analytics", "marketing"})


def utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


def decoded(guard: ConsentGuard, value: str | None) -> Consent:
    consent = guard.decode_consent(value)
    assert consent is not None
    return consent


# -- round trip ---------------------------------------------------------------------------------


def test_round_trip(guard: ConsentGuard) -> None:
    consent = decoded(guard, guard.encode_consent(["analytics"], consent_id="c-1"))
    assert consent.id == "c-1"
    assert consent.accepted == frozenset({"analytics"})
    assert consent.refused == frozenset({"functional", "marketing"})
    assert consent.required == frozenset({"essential"})
    assert consent.stale == consent.undecided == frozenset()
    assert consent.issued == utc(NOW)
    assert consent.expires == utc(NOW + 180 * DAY)  # 6 months by default
    assert consent.version is None
    assert consent.revisions == {"analytics": guard.registry.revisions["analytics"]}
    assert not consent.needs_consent and not consent.is_refusal


def test_ids_are_random_when_not_given(guard: ConsentGuard) -> None:
    first = decoded(guard, guard.encode_consent([]))
    second = decoded(guard, guard.encode_consent([]))
    assert first.id != second.id and len(first.id) >= 12


def test_star_accepts_every_optional_category(guard: ConsentGuard) -> None:
    assert decoded(guard, guard.encode_consent(["*"])).accepted == OPTIONAL


def test_nothing_accepted_is_a_refusal(guard: ConsentGuard) -> None:
    consent = decoded(guard, guard.encode_consent([]))
    assert consent.accepted == frozenset() and consent.refused == OPTIONAL
    assert consent.is_refusal and not consent.needs_consent


def test_naming_a_required_category_changes_nothing(guard: ConsentGuard) -> None:
    consent = decoded(guard, guard.encode_consent(["essential", "analytics"]))
    assert consent.accepted == frozenset({"analytics"})


def test_unknown_category_is_a_value_error_naming_it(guard: ConsentGuard) -> None:
    with pytest.raises(ValueError, match="'adverts'") as info:
        guard.encode_consent(["analytics", "adverts"])
    assert "marketing" in str(info.value)  # and lists what exists


@pytest.mark.parametrize(
    ("category", "allowed"),
    [("essential", True), ("analytics", True), ("marketing", False), ("functional", False),
     ("nope", False)],
)
def test_allows(guard: ConsentGuard, category: str, allowed: bool) -> None:
    consent = decoded(guard, guard.encode_consent(["analytics"]))
    assert consent.allows(category) is allowed


def test_required_categories_are_allowed_even_by_a_refusal(guard: ConsentGuard) -> None:
    assert decoded(guard, guard.encode_consent([])).allows("essential")


# -- values that do not verify -------------------------------------------------------------------


def tamper(value: str) -> str:
    """Change one character inside the signature (the last base64 character only carries
    padding bits in part, so it is left alone)."""
    at = value.rindex(".") + 5
    return value[:at] + ("A" if value[at] != "A" else "B") + value[at + 1:]


BAD_VALUES = [
    pytest.param(lambda v: None, id="missing"),
    pytest.param(lambda v: "", id="empty"),
    pytest.param(tamper, id="forged-signature"),
    pytest.param(lambda v: "e" + v[1:] if v[0] != "e" else "f" + v[1:], id="forged-payload"),
    pytest.param(lambda v: v[: len(v) // 2], id="truncated"),
    pytest.param(lambda v: v[: v.rindex(".")], id="signature-removed"),
    pytest.param(lambda v: v + "x", id="extended"),
    pytest.param(lambda v: v.replace(".", "\xe9", 1), id="non-ascii"),
    pytest.param(lambda v: "\u2603" + v, id="non-latin1"),
    pytest.param(lambda v: "garbage", id="garbage"),
    pytest.param(lambda v: "....", id="dots"),
    pytest.param(lambda v: '"' + v + '"', id="quoted"),
    pytest.param(lambda v: " " + v, id="leading-space"),
    pytest.param(lambda v: v * 40, id="oversized"),
    pytest.param(lambda v: "\x00" * 10, id="nul-bytes"),
]


@pytest.mark.parametrize("mangle", BAD_VALUES)
def test_values_that_do_not_verify_decode_to_none(guard: ConsentGuard, mangle: object) -> None:
    value = guard.encode_consent(["*"])
    assert callable(mangle)
    assert guard.decode_consent(mangle(value)) is None


def signed(payload: object, *, key: str = SECRET, salt: str = SALT) -> str:
    serializer = URLSafeSerializer(key, salt=salt,
                                   signer_kwargs={"digest_method": hashlib.sha256})
    return serializer.dumps(payload)


def test_wrong_key_decodes_to_none(guard: ConsentGuard, registry: Registry) -> None:
    other = ConsentGuard(registry, secret_key="another-key", clock=guard.clock)
    assert guard.decode_consent(other.encode_consent(["*"])) is None


def test_a_signature_made_for_another_purpose_does_not_verify(guard: ConsentGuard) -> None:
    # Same key, another salt (say, the app's session cookie signed with the same secret).
    payload = {"i": "x", "t": int(NOW), "a": {}, "d": [], "v": None}
    assert guard.decode_consent(signed(payload)) is not None
    assert guard.decode_consent(signed(payload, salt="itsdangerous")) is None


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(["a", "list"], id="not-an-object"),
        pytest.param({"t": int(NOW), "a": {}, "d": []}, id="no-id"),
        pytest.param({"i": "x", "t": "now", "a": {}, "d": []}, id="time-not-int"),
        pytest.param({"i": "x", "t": int(NOW), "a": ["analytics"], "d": []}, id="accepted-list"),
        pytest.param({"i": "x", "t": int(NOW), "a": {"analytics": 1}, "d": []},
                     id="revision-not-str"),
        pytest.param({"i": "x", "t": int(NOW), "a": {}, "d": [1]}, id="refused-not-str"),
        pytest.param({"i": "x", "t": int(NOW), "a": {}, "d": [], "v": 3}, id="version-not-str"),
    ],
)
def test_signed_but_malformed_payloads_decode_to_none(guard: ConsentGuard, payload: object) -> None:
    assert guard.decode_consent(signed(payload)) is None


@pytest.mark.parametrize("issued", [pytest.param(True, id="true"), pytest.param(1.5, id="float"),
                                    pytest.param(-1, id="negative"),
                                    pytest.param(2**33, id="beyond-datetime")])
def test_the_payload_schema_wants_whole_seconds(issued: object) -> None:
    # One home for the schema: `consentguard decode` reads payloads with it too.
    assert read_payload({"i": "x", "t": issued, "a": {}, "d": []}) is None
    assert read_payload({"i": "x", "t": 0, "a": {}, "d": []}) is not None


def test_unknown_categories_in_a_valid_token_are_ignored(guard: ConsentGuard) -> None:
    payload = {"i": "x", "t": int(NOW), "a": {"adverts": "0000"}, "d": ["other"], "v": None}
    consent = decoded(guard, signed(payload))
    assert consent.accepted == frozenset() and not consent.allows("adverts")


# -- key rotation --------------------------------------------------------------------------------


def test_old_key_still_verifies_when_second_in_the_list(registry: Registry) -> None:
    clock = FrozenClock()
    old = ConsentGuard(registry, secret_key="old-key", clock=clock)
    rotated = ConsentGuard(registry, secret_key=["new-key", "old-key"], clock=clock)
    value = old.encode_consent(["analytics"])
    assert decoded(rotated, value).accepted == frozenset({"analytics"})


def test_new_tokens_are_signed_with_the_first_key(registry: Registry) -> None:
    clock = FrozenClock()
    rotated = ConsentGuard(registry, secret_key=["new-key", b"old-key"], clock=clock)
    value = rotated.encode_consent(["analytics"])
    only_new = ConsentGuard(registry, secret_key="new-key", clock=clock)
    only_old = ConsentGuard(registry, secret_key="old-key", clock=clock)
    assert only_new.decode_consent(value) is not None
    assert only_old.decode_consent(value) is None


def test_a_key_dropped_from_the_list_no_longer_verifies(registry: Registry) -> None:
    clock = FrozenClock()
    value = ConsentGuard(registry, secret_key="retired", clock=clock).encode_consent(["*"])
    current = ConsentGuard(registry, secret_key=("newest", "previous"), clock=clock)
    assert current.decode_consent(value) is None


@pytest.mark.parametrize("key", [pytest.param("", id="empty-str"),
                                 pytest.param(b"", id="empty-bytes"),
                                 pytest.param([], id="empty-list"),
                                 pytest.param(["ok", ""], id="empty-in-list")])
def test_empty_keys_are_refused(registry: Registry, key: SecretKey) -> None:
    with pytest.raises(ValueError, match="secret"):
        ConsentGuard(registry, secret_key=key)


# -- expiry --------------------------------------------------------------------------------------


@pytest.fixture
def short_lived(registry: Registry, clock: FrozenClock) -> ConsentGuard:
    return ConsentGuard(registry, secret_key=SECRET, clock=clock,
                        max_age=timedelta(days=30), refusal_max_age=7 * DAY)


def test_acceptance_lives_max_age(short_lived: ConsentGuard, clock: FrozenClock) -> None:
    value = short_lived.encode_consent(["analytics"])
    assert decoded(short_lived, value).expires == utc(NOW + 30 * DAY)
    clock.advance(30 * DAY - 1)
    assert short_lived.decode_consent(value) is not None
    clock.advance(1)
    assert short_lived.decode_consent(value) is None


def test_refusal_lives_refusal_max_age(short_lived: ConsentGuard, clock: FrozenClock) -> None:
    value = short_lived.encode_consent([])
    assert decoded(short_lived, value).expires == utc(NOW + 7 * DAY)
    clock.advance(7 * DAY - 1)
    assert short_lived.decode_consent(value) is not None
    clock.advance(1)
    assert short_lived.decode_consent(value) is None


def test_cached_decode_still_expires(short_lived: ConsentGuard, clock: FrozenClock) -> None:
    value = short_lived.encode_consent(["analytics"])
    for _ in range(3):  # warm whatever cache there is
        assert short_lived.decode_consent(value) is not None
    clock.advance(30 * DAY)
    assert short_lived.decode_consent(value) is None
    assert short_lived.decode_consent(value) is None


def test_expiry_is_not_pushed_forward_by_visits(short_lived: ConsentGuard,
                                                clock: FrozenClock) -> None:
    value = short_lived.encode_consent(["analytics"])
    clock.advance(20 * DAY)
    assert decoded(short_lived, value).expires == utc(NOW + 30 * DAY)


def test_a_token_from_the_future_is_refused(guard: ConsentGuard, clock: FrozenClock) -> None:
    value = guard.encode_consent(["analytics"])
    clock.advance(-3600)  # the server clock went back an hour, or the key leaked
    assert guard.decode_consent(value) is None
    clock.advance(3600 - 60)  # a minute of skew is fine
    assert guard.decode_consent(value) is not None


def test_the_codec_takes_an_explicit_now(registry: Registry) -> None:
    codec = ConsentCodec(registry, SECRET, max_age=60, refusal_max_age=60, clock=lambda: NOW)
    value = codec.encode(["analytics"], now=NOW - 30)
    assert codec.decode(value) is not None
    assert codec.decode(value, now=NOW + 30) is None


@pytest.mark.parametrize("bad", [0, -1, True, timedelta(0), "6 months"])
def test_lifetimes_must_be_positive_numbers(registry: Registry, bad: object) -> None:
    with pytest.raises(ValueError, match="positive"):
        ConsentGuard(registry, secret_key=SECRET, max_age=bad)  # type: ignore[arg-type]


def test_more_than_13_months_logs_a_warning(registry: Registry,
                                            caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="consentguard"):
        ConsentGuard(registry, secret_key=SECRET, max_age=timedelta(days=400))
    assert any("13 months" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="consentguard"):
        ConsentGuard(registry, secret_key=SECRET, max_age=timedelta(days=390))
    assert not caplog.records


# -- staleness -----------------------------------------------------------------------------------


def test_a_changed_category_lapses_and_the_others_stay(guard: ConsentGuard,
                                                       clock: FrozenClock) -> None:
    value = guard.encode_consent(["functional", "analytics"])
    grown = make_registry(extra=(Cookie("_gid", category="analytics"),))
    later = ConsentGuard(grown, secret_key=SECRET, clock=clock)
    consent = decoded(later, value)
    assert consent.accepted == frozenset({"functional"})
    assert consent.stale == frozenset({"analytics"})
    assert not consent.allows("analytics") and consent.allows("functional")
    assert consent.needs_consent
    # A fresh choice under the new registry is current again.
    assert not decoded(later, later.encode_consent(["analytics"])).needs_consent


def test_a_version_change_lapses_every_optional_category(clock: FrozenClock) -> None:
    before = ConsentGuard(make_registry(version="2026-01-01"), secret_key=SECRET, clock=clock)
    after = ConsentGuard(make_registry(version="2026-04-20"), secret_key=SECRET, clock=clock)
    consent = decoded(after, before.encode_consent(["functional", "analytics"]))
    assert consent.accepted == frozenset()
    assert consent.stale == frozenset({"functional", "analytics"})
    assert consent.allows("essential") and not consent.allows("functional")
    assert consent.needs_consent and consent.version == "2026-01-01"


def test_a_version_change_asks_again_after_a_refusal(clock: FrozenClock) -> None:
    before = ConsentGuard(make_registry(version="2026-01-01"), secret_key=SECRET, clock=clock)
    after = ConsentGuard(make_registry(version="2026-04-20"), secret_key=SECRET, clock=clock)
    assert decoded(after, before.encode_consent([])).needs_consent


def test_a_new_category_is_undecided(guard: ConsentGuard, clock: FrozenClock,
                                     registry: Registry) -> None:
    value = guard.encode_consent(["analytics"])
    wider = Registry([*registry.categories, Category("social")], registry.cookies)
    consent = decoded(ConsentGuard(wider, secret_key=SECRET, clock=clock), value)
    assert consent.undecided == frozenset({"social"})
    assert consent.accepted == frozenset({"analytics"})
    assert consent.needs_consent and not consent.allows("social")
