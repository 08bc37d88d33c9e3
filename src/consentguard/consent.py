"""What a visitor accepted (:class:`Consent`) and the signed cookie that carries it.

The cookie value is ``itsdangerous.URLSafeSerializer`` output (HMAC-SHA256, a salt of
our own) over a compact JSON payload: consent id, issue time, the accepted categories
with the revision each was accepted at, the refused categories, and the registry
version. Anything that does not verify — missing, forged, truncated, expired, signed
with an unknown key, non-ASCII — decodes to ``None``: no consent, never an exception.

Signing goes through itsdangerous. Verifying runs on every new visitor's first request,
and ``URLSafeSerializer.loads`` costs three times what this module's own check does
(10.7 µs against 3.4 on the benchmark's values): it derives the key from the secret on
each call, builds a signer per key and raises through several layers. So the codec
checks the same format with the same keys itself: each key is derived once, HMAC's two
SHA-256 states after the padded key are precomputed (copying them costs less than half
of ``hmac.digest``, which pads the key again for every message), and base64 and the JSON
scanner are called directly. It reads everything itsdangerous signs and refuses
everything itsdangerous refuses; ``tests/test_consent_fastpath.py`` holds it to both,
against itsdangerous itself.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import itertools
import json
import secrets
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple, Union

from itsdangerous import Serializer, URLSafeSerializer
from itsdangerous.encoding import base64_encode

from .registry import Registry

__all__ = ["Consent", "ConsentCodec", "SecretKey"]

SecretKey = Union[str, bytes, "list[str | bytes]", "tuple[str | bytes, ...]"]

SALT = "consentguard.consent.v1"
# A token issued this far in the future is refused (a clock gone wrong, or a leaked key).
FUTURE_SKEW = 300
# Longest cookie value worth verifying (browsers keep at most 4096 octets per cookie).
_MAX_VALUE = 4096


@dataclass(frozen=True)
class Consent:
    """A visitor's recorded choice, as decoded from a valid consent cookie.

    :param id: random identifier of this choice (for the proof-of-consent log).
    :param issued: when the choice was made (UTC).
    :param expires: when it lapses (UTC); after that the visitor is asked again.
    :param accepted: optional categories accepted and still valid.
    :param refused: optional categories the visitor refused.
    :param required: the registry's required categories (always allowed).
    :param stale: categories accepted at an older revision (or registry version); they
        count as not accepted until the visitor chooses again.
    :param undecided: optional categories the visitor was never asked about.
    :param version: the registry version the choice was made under.
    :param revisions: category → revision each accepted category was accepted at.
    """

    _: KW_ONLY
    id: str
    issued: datetime
    expires: datetime
    accepted: frozenset[str]
    refused: frozenset[str] = frozenset()
    required: frozenset[str] = frozenset()
    stale: frozenset[str] = frozenset()
    undecided: frozenset[str] = frozenset()
    version: str | None = None
    revisions: Mapping[str, str] = field(default_factory=dict, hash=False)

    def allows(self, category: str) -> bool:
        """Whether cookies of ``category`` may be used: required categories always may."""
        return category in self.required or category in self.accepted

    @property
    def needs_consent(self) -> bool:
        """Whether the visitor should be asked again (a category changed or is new)."""
        return bool(self.stale or self.undecided)

    @property
    def is_refusal(self) -> bool:
        """Whether no optional category is accepted (a "reject all" choice)."""
        return not self.accepted and not self.stale


def _seconds(value: int | float | timedelta) -> int:
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
        raise ValueError(f"a consent lifetime must be a positive number of seconds, not {value!r}")
    return int(seconds)


def _secret_keys(secret_key: SecretKey) -> list[bytes]:
    keys = [secret_key] if isinstance(secret_key, (str, bytes)) else list(secret_key)
    if not keys:
        raise ValueError("secret_key is empty. Fix: pass a long random string "
                         "(`consentguard secret` prints one).")
    out = []
    for key in keys:
        raw = key.encode("utf-8") if isinstance(key, str) else key
        if not isinstance(raw, bytes) or not raw:
            raise ValueError("every secret key must be a non-empty str or bytes.")
        out.append(raw)
    return out


class ConsentCodec:
    """Signs and verifies consent cookie values for one registry.

    :param registry: the registry the categories and revisions come from.
    :param secret_key: the signing key; a list for rotation, newest first (the first key
        signs, all of them verify).
    :param max_age: lifetime of a choice that accepts something (seconds or timedelta).
    :param refusal_max_age: lifetime of a choice that refuses every optional category.
    :param clock: returns the current Unix time; replace it in tests.
    :param cache_size: how many verified cookie values to remember, least recently used
        out first. Only values that verify are remembered, and each one's expiry is checked
        against the clock on every use, so remembering never extends a consent.
    """

    def __init__(
        self,
        registry: Registry,
        secret_key: SecretKey,
        *,
        max_age: int | float | timedelta,
        refusal_max_age: int | float | timedelta,
        clock: Callable[[], float] = time.time,
        cache_size: int = 4096,
    ) -> None:
        self.registry = registry
        self.max_age = _seconds(max_age)
        self.refusal_max_age = _seconds(refusal_max_age)
        self.clock = clock
        # itsdangerous wants oldest first: its last key signs.
        keys = _secret_keys(secret_key)
        self._serializer = _UncompressedSerializer(
            list(reversed(keys)),
            salt=SALT,
            signer_kwargs={"digest_method": hashlib.sha256},
        )
        self._macs = tuple(_hmac_state(_derive_key(key)) for key in keys)  # newest first
        self._optional = tuple(c.name for c in registry.categories if not c.required)
        self._optional_set = frozenset(self._optional)
        self._version, self._required = registry.version, registry.required
        # Each optional category with its current revision: a choice made under this
        # registry accepts a subset of these items.
        self._current = {name: registry.revisions[name] for name in self._optional}.items()
        self._spans = {lifetime: timedelta(seconds=lifetime)
                       for lifetime in (self.max_age, self.refusal_max_age)}
        self._choices = self._every_choice()
        # The memo: values that verified, with the span their consent holds for (a value is
        # verified once, its expiry checked on every use); least recently used out first.
        self._cache: OrderedDict[str, _Window] = OrderedDict()
        self.cache_size = cache_size
        # A cookie browsers would not keep (or we would not read) would lose every choice
        # silently: say so now. The longest choices accept or refuse everything.
        longest = max(len(self.encode(choice, consent_id="x" * 16, now=2**32 - 1))
                      for choice in (["*"], []))
        if longest > _MAX_VALUE:
            raise ValueError(
                f"a consent cookie for this registry takes {longest} characters, more than "
                f"the {_MAX_VALUE} that browsers keep. Fix: shorten the registry's version "
                "label or its category names, or declare fewer categories.")

    def resolve(self, categories: Iterable[str]) -> frozenset[str]:
        """Expand ``*`` and check names: the optional categories meant by ``categories``.

        :raises ValueError: for a name the registry does not declare (the message names it).
        """
        out: set[str] = set()
        for name in categories:
            if name == "*":
                out.update(self._optional)
            elif name in self._optional:
                out.add(name)
            elif name not in self.registry.required:
                raise ValueError(f"unknown category {name!r}; the registry declares: "
                                 f"{', '.join(self.registry.category_names)}")
        return frozenset(out)

    def encode(
        self,
        accepted: Iterable[str],
        *,
        consent_id: str | None = None,
        now: float | None = None,
    ) -> str:
        """Sign a new choice: ``accepted`` categories (``"*"`` = all); the rest are refused."""
        accepted_set = self.resolve(accepted)
        payload = {
            "i": consent_id or secrets.token_urlsafe(12),
            "t": int(self.clock() if now is None else now),
            "a": {name: self.registry.revisions[name] for name in sorted(accepted_set)},
            "d": sorted(set(self._optional) - accepted_set),
            "v": self.registry.version,
        }
        return self._serializer.dumps(payload)

    def lifetime(self, accepts_something: bool) -> int:
        """Seconds a choice lives: ``max_age`` or ``refusal_max_age``."""
        return self.max_age if accepts_something else self.refusal_max_age

    def decode(self, value: str | None, *, now: float | None = None) -> Consent | None:
        """Verify a cookie value; the :class:`Consent` it holds, or ``None``.

        A valid value holds its consent from shortly before its issue time (clock skew)
        until it expires, at ``now`` (default: the clock), whether it was remembered or not.
        """
        if not value or len(value) > _MAX_VALUE:
            return None
        cache = self._cache
        window = cache.get(value)
        if window is None:
            try:
                window = self._window(self.verify(value))
            except Exception:  # never let a malformed value raise into the app
                return None
            if window is None:  # forged or not ours: never remembered, so a storm of
                return None     # them cannot push out the visitors' values
            # Threads may share a codec: each OrderedDict call is atomic, and an entry
            # another thread evicted meanwhile is no error.
            while len(cache) >= self.cache_size:
                try:
                    cache.popitem(last=False)
                except KeyError:
                    break
            cache[value] = window
        else:
            try:  # noqa: SIM105 - contextlib.suppress costs more than the call
                cache.move_to_end(value)
            except KeyError:
                pass
        consent, start, end = window
        if now is None:
            now = self.clock()
        return consent if start <= now < end else None

    def verify(self, value: str) -> Any:
        """The payload a signed value carries, or ``None`` when it does not verify.

        Equivalent to ``URLSafeSerializer(keys, salt=SALT, signer_kwargs={"digest_method":
        hashlib.sha256}).loads(value)`` returning ``None`` instead of raising.
        """
        if len(value) > _MAX_VALUE or not value.isascii():
            return None
        data = value.encode("ascii")
        payload, dot, signature = data.rpartition(b".")
        if not dot:
            return None
        try:
            mac = _b64decode(signature)
        except (binascii.Error, ValueError):
            return None
        for inner_base, outer_base in self._macs:
            inner = inner_base.copy()
            inner.update(payload)
            outer = outer_base.copy()
            outer.update(inner.digest())
            if hmac.compare_digest(mac, outer.digest()):
                break
        else:
            return None
        compressed = payload.startswith(b".")
        if compressed:
            payload = payload[1:]
        try:
            raw = _b64decode(payload)
            if compressed:
                raw = zlib.decompress(raw)
            return _json_loads(raw.decode("utf-8"))  # as itsdangerous: UTF-8 only
        except Exception:  # signed by us, so only a changed format gets here: no consent
            return None

    def _window(self, payload: Any) -> _Window | None:
        """The consent a verified payload holds and the span it is valid for, or ``None``
        when the payload is not a consent."""
        fields = _payload_fields(payload)
        if fields is None:
            return None
        consent_id, issued, accepted_at, refused_list, version = fields
        # The categories part is one of a few choices, written as encode writes it: the
        # visitors who chose alike share its sets.
        choice = self._choices.get(tuple(accepted_at))
        if (choice is not None and refused_list == choice.refused_names
                and version == self._version and accepted_at.items() <= self._current):
            accepted, refused, stale, undecided = choice.accepted, choice.refused, _NONE, _NONE
        elif _categories_valid(accepted_at, refused_list, version):
            accepted, refused, stale, undecided = self._lapsed(accepted_at, refused_list, version)
        else:
            return None
        lifetime = self.max_age if accepted or stale else self.refusal_max_age
        issued_at = datetime.fromtimestamp(issued, _UTC)
        # A new visitor's first request builds one: skip the frozen dataclass's
        # field-by-field object.__setattr__ (the fields are exactly these, already checked).
        consent = object.__new__(Consent)
        consent.__dict__.update(
            id=consent_id,
            issued=issued_at,
            expires=issued_at + self._spans[lifetime],
            accepted=accepted,
            refused=refused,
            required=self._required,
            stale=stale,
            undecided=undecided,
            version=version,
            revisions=accepted_at,  # (a dict of its own, fresh from the JSON)
        )
        return consent, float(issued - FUTURE_SKEW), float(issued + lifetime)

    def _every_choice(self) -> dict[tuple[str, ...], _Choice]:
        """Each choice a visitor can make under this registry, by its accepted categories
        in the order :meth:`encode` writes them (none for more than 8 optional categories:
        their choices are read in full)."""
        names = sorted(self._optional)
        if len(names) > 8:
            return {}
        choices = {}
        for count in range(len(names) + 1):
            for accepted in itertools.combinations(names, count):
                refused = [name for name in names if name not in accepted]
                choices[accepted] = _Choice(frozenset(accepted), frozenset(refused), refused)
        return choices

    def _lapsed(self, accepted_at: dict[str, str], refused_names: list[str],
                version: str | None) -> tuple[frozenset[str], ...]:
        """Accepted, refused, stale and undecided categories of any other choice: made
        under an older registry (a changed category lapses, a new one is undecided), or
        written otherwise than :meth:`encode` writes it."""
        optional = self._optional_set
        chosen = accepted_at.keys() & optional
        if version != self._version:
            # A material change of the whole policy: every choice lapses, refusals too.
            accepted: set[str] = set()
            refused = _NONE
        else:
            current = self.registry.revisions
            accepted = {name for name in chosen if accepted_at[name] == current[name]}
            refused = optional.intersection(refused_names)
        return (frozenset(accepted), refused, frozenset(chosen - accepted),
                optional - accepted_at.keys() - refused)


class _Choice(NamedTuple):
    """A choice as :meth:`ConsentCodec.encode` writes it, and what it means."""

    accepted: frozenset[str]
    refused: frozenset[str]
    refused_names: list[str]  # the payload's "d", sorted


_Window = tuple[Consent, float, float]  # the consent, and the span [start, end) it holds for
_NONE: frozenset[str] = frozenset()
_UTC = timezone.utc
_PLAIN_PAYLOAD = 2048


class _UncompressedSerializer(URLSafeSerializer):
    """itsdangerous's URL-safe format, not zlib-compressed unless it must be.

    Compression saves a few octets on a consent payload but costs every new visitor's
    first request a decompression (about a fifth of a verification). Plain
    ``URLSafeSerializer.loads`` reads both forms, and so does :meth:`ConsentCodec.verify`.
    """

    def dump_payload(self, obj: Any) -> bytes:
        plain = base64_encode(Serializer.dump_payload(self, obj))
        # A payload too long for a cookie plain (a large registry, a long consent id) is
        # compressed as itsdangerous would, rather than dropped by the browser.
        return plain if len(plain) <= _PLAIN_PAYLOAD else super().dump_payload(obj)


# The C scanner json.loads runs, without its wrapping (typeshed does not list the attribute).
_scan_json: Callable[[str, int], tuple[Any, int]] = (
    json.JSONDecoder().scan_once)  # type: ignore[attr-defined]


def _json_loads(text: str) -> Any:
    """``json.loads(text)``, at half the cost for compact JSON (all our payloads are)."""
    try:
        value, end = _scan_json(text, 0)
    except StopIteration:  # leading whitespace, a BOM, or not JSON: json.loads says which
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


_URLSAFE = bytes.maketrans(b"-_", b"+/")


def _b64decode(data: bytes) -> bytes:
    """``base64.urlsafe_b64decode`` with itsdangerous's padding, without its Python layers."""
    return binascii.a2b_base64(data.translate(_URLSAFE) + b"=" * (-len(data) % 4))


def _derive_key(secret: bytes) -> bytes:
    """itsdangerous's default ("django-concat") key derivation for our salt, SHA-256."""
    return hashlib.sha256(SALT.encode() + b"signer" + secret).digest()


_BLOCK = 64  # SHA-256's block size: HMAC pads its key to it (RFC 2104)
_INNER_PAD = bytes(b ^ 0x36 for b in range(256))
_OUTER_PAD = bytes(b ^ 0x5C for b in range(256))


def _hmac_state(key: bytes) -> tuple[Any, Any]:
    """HMAC-SHA256 keyed with ``key``, as its two hashes fed the padded key and nothing
    else (RFC 2104): copy both per message. Cheaper than copying an ``hmac.HMAC``, whose
    Python wrapper costs more than the hashing of a short message."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return (hashlib.sha256(key.translate(_INNER_PAD)),
            hashlib.sha256(key.translate(_OUTER_PAD)))


def consent_to_json(consent: Consent | None) -> dict[str, Any] | None:
    """A JSON-ready view of a consent (used by the endpoint and the CLI)."""
    if consent is None:
        return None
    return {
        "id": consent.id,
        "issued": consent.issued.isoformat(),
        "expires": consent.expires.isoformat(),
        "accepted": sorted(consent.accepted),
        "refused": sorted(consent.refused),
        "stale": sorted(consent.stale),
        "undecided": sorted(consent.undecided),
        "version": consent.version,
    }


class Payload(NamedTuple):
    """What a consent cookie's signed payload holds: the JSON object
    ``{"i": id, "t": issued, "a": {category: revision}, "d": [refused], "v": version}``
    that :meth:`ConsentCodec.encode` writes."""

    id: str
    issued: int  # Unix time, whole seconds
    accepted: dict[str, str]  # each accepted category, with the revision accepted
    refused: list[str]
    version: str | None  # the registry's version when the choice was made


def read_payload(payload: Any) -> Payload | None:
    """The fields of a verified payload, or ``None`` when it is not a consent payload."""
    fields = _payload_fields(payload)
    if fields is None or not _categories_valid(*fields[2:]):
        return None
    return Payload(*fields)


_Fields = tuple[str, int, dict[Any, Any], list[Any], Any]


def _payload_fields(payload: Any) -> _Fields | None:
    """:class:`Payload`'s fields, their types checked but for the categories' entries and
    the version (:func:`_categories_valid`; the codec's check of a current choice implies
    it)."""
    if not isinstance(payload, dict):
        return None
    consent_id, issued = payload.get("i"), payload.get("t")
    accepted_at, refused = payload.get("a"), payload.get("d")
    if not (
        isinstance(consent_id, str) and type(issued) is int  # (JSON's true is no time)
        and 0 <= issued < 2**33  # beyond year 2242 datetime cannot hold the expiry
        and isinstance(accepted_at, dict) and isinstance(refused, list)
    ):
        return None
    return consent_id, issued, accepted_at, refused, payload.get("v")


def _categories_valid(accepted_at: dict[Any, Any], refused: list[Any], version: Any) -> bool:
    return ((version is None or isinstance(version, str))
            and all(isinstance(k, str) and isinstance(v, str) for k, v in accepted_at.items())
            and all(isinstance(r, str) for r in refused))
