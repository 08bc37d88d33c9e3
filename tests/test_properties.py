"""Properties of the decision over arbitrary registries, consents and header lists.

Each example builds its own registry (names drawn from a tiny alphabet so that exact
names, patterns and request cookies collide often), a guard with random options, a
Cookie header mixing valid, forged and garbage consent cookies with declared and
undeclared names, and a response header list. An independent oracle (the registry's
``match``, ``set_cookie_name`` and ``is_deletion``, each tested on its own) says what
must pass; the guard must agree exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from browser_models import chromium_stores, firefox_stores, lifetime_headers
from django.http.cookie import parse_cookie as django_cookies
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from starlette.requests import cookie_parser as starlette_cookies
from support import NOW, SECRET, FrozenClock
from werkzeug.sansio.http import parse_cookie as werkzeug_cookies

from consentguard import (
    Category,
    ConsentGuard,
    Cookie,
    Decision,
    Registry,
    RegistryError,
    UndeclaredCookieError,
)
from consentguard.cookies import (
    cookie_pairs,
    deletion_header,
    is_deletion,
    lenient_name,
    set_cookie_name,
)

OPTIONAL = ("functional", "analytics", "marketing", "social")
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
PROPERTY = settings(max_examples=150, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# -- strategies -------------------------------------------------------------------------------

entry_names = st.text(alphabet="ab_*", min_size=1, max_size=5).filter(lambda n: n.strip("*"))


@st.composite
def registries(draw: st.DrawFn) -> Registry:
    optional = draw(st.lists(st.sampled_from(OPTIONAL), unique=True))
    categories = [Category("essential", required=True), *(Category(c) for c in optional)]
    names = [c.name for c in categories]
    rows = draw(st.lists(
        st.tuples(entry_names, st.sampled_from(names),
                  st.sampled_from(["cookie", "cookie", "cookie", "localStorage"]),
                  st.sampled_from(["/", "/shop"]), st.sampled_from([None, ".example.com"])),
        max_size=8, unique_by=lambda row: row[0]))
    cookies = [Cookie(n, category=c, storage=s, path=p, domain=d)  # type: ignore[arg-type]
               for n, c, s, p, d in rows]
    try:
        return Registry(categories, cookies)
    except RegistryError:  # equal-weight clashes and the like: not this test's subject
        assume(False)
        raise


@dataclass(frozen=True)
class Case:
    guard: ConsentGuard
    cookie: str | None
    host: str
    gpc: bool
    dnt: bool
    expected_accepted: frozenset[str]
    headers: list[tuple[str, str]]


def instance(name: str, filler: str) -> str:
    """A cookie name that the declared ``name`` (maybe a pattern) matches."""
    return name.replace("*", filler)


@st.composite
def cookie_names(draw: st.DrawFn, registry: Registry) -> str:
    declared = [c.name for c in registry.cookies]
    options: list[st.SearchStrategy[str]] = [st.text(alphabet="ab_*x", max_size=4),
                                             st.text(max_size=6)]
    if declared:  # mostly names the registry governs, so that decisions have work to do
        filler = st.text(alphabet="ab_x", max_size=3)
        options[:0] = [st.builds(instance, st.sampled_from(declared), filler)] * 3
        # Whitespace str.strip() removes (Django and Starlette read names so) and browsers
        # keep: "\xa0_ga" reaches those apps as "_ga".
        options += [st.builds(lambda before, name, after: before + name + after,
                              STRIPPED, st.builds(instance, st.sampled_from(declared), filler),
                              st.sampled_from(["", " ", "\x85"]))] * 2
    name: str = draw(st.one_of(*options))
    return name


STRIPPED = st.text(alphabet="\xa0\x0b\x1c\x85 ", min_size=1, max_size=2)
ATTRIBUTES = ["", "; Path=/", "; Max-Age=0", "; Max-Age=60", "; Max-Age=-1; Max-Age=5",
              "; Expires=Thu, 01 Jan 1970 00:00:00 GMT", "; Expires=Fri, 01 Jan 2100 00:00:00 GMT",
              "; Secure; HttpOnly", "; max-age=0; Domain=.example.com"]


@st.composite
def cases(draw: st.DrawFn, *, mode: str = "enforce") -> Case:
    registry = draw(registries())
    optional = [c.name for c in registry.categories if not c.required]
    clock = FrozenClock()
    guard = ConsentGuard(
        registry, secret_key=SECRET, clock=clock, mode=mode,  # type: ignore[arg-type]
        unknown=draw(st.sampled_from(["block", "allow", "raise"])),
        gpc_categories=draw(st.lists(st.sampled_from(optional), unique=True)) if optional else (),
        gpc_overrides_consent=draw(st.booleans()), honor_dnt=draw(st.booleans()),
        cache_control=draw(st.booleans()),
    )
    # Consent cookies: valid ones (each accepting a random set), forged ones, garbage.
    valid_sets: list[frozenset[str]] = []
    consent_values: list[str] = []
    for kind in draw(st.lists(st.sampled_from(["valid", "tampered", "garbage"]), max_size=3)):
        chosen = frozenset(draw(st.lists(st.sampled_from(optional), unique=True))
                           if optional else [])
        value = guard.encode_consent(chosen, consent_id=f"c{len(consent_values)}")
        if kind == "valid":
            valid_sets.append(chosen)
        elif kind == "tampered":
            at = draw(st.integers(0, len(value) - 1))
            value = value[:at] + draw(st.sampled_from("A_-.x")) + value[at + 1:]
            still = guard.decode_consent(value)
            if still is not None:  # only base64 padding bits changed: the very same token
                assert still.accepted == chosen and still.id == f"c{len(consent_values)}"
                valid_sets.append(chosen)
        else:
            value = draw(st.text(max_size=30).filter(lambda v: ";" not in v))
        consent_values.append(value)
    pairs = [f"{draw(cookie_names(registry))}={draw(st.text(max_size=5))}"
             for _ in range(draw(st.integers(0, 5)))]
    pairs += [f"{guard.cookie_name}={v}" for v in consent_values]
    pairs = draw(st.permutations(pairs))
    cookie = draw(st.sampled_from([None, "; ".join(pairs), ";".join(pairs)]))
    if cookie is None:
        valid_sets = []
    gpc, dnt = draw(st.booleans()), draw(st.booleans())

    accepted: set[str] = set(registry.required)
    if valid_sets:
        accepted |= frozenset.intersection(*valid_sets)
    if (gpc or (dnt and guard.honor_dnt)) and (not valid_sets or guard.gpc_overrides_consent):
        accepted -= guard.gpc_categories

    set_cookie = st.one_of(
        st.builds(lambda n, v, a: f"{n}={v}{a}", cookie_names(registry),
                  st.text(alphabet="v=\" ,", max_size=4), st.sampled_from(ATTRIBUTES)),
        st.text(max_size=20),
    )
    set_cookie_header = st.tuples(st.sampled_from(["Set-Cookie", "set-cookie", "SET-COOKIE"]),
                                  set_cookie)
    header = st.one_of(
        set_cookie_header, set_cookie_header,
        st.tuples(st.just("Cache-Control"),
                  st.sampled_from(["public, max-age=60", "no-store", "private", "s-maxage=9"])),
        st.tuples(st.sampled_from(["Content-Type", "X-Other"]), st.text(max_size=8)),
    )
    host = draw(st.one_of(st.sampled_from(["www.example.com", "example.com:8000", "localhost",
                                           "[::1]:80", "127.0.0.1"]), st.text(max_size=12)))
    return Case(guard, cookie, host, gpc, dnt, frozenset(accepted),
                draw(st.lists(header, max_size=8)))


def passes(guard: ConsentGuard, decision: Decision, value: str) -> bool | None:
    """The oracle: whether this Set-Cookie may pass; None when unknown='raise' must raise.

    Every reading of its name must pass: as browsers store it, as Django and Starlette read
    it back (``str.strip()``), and, for a nameless cookie, as the cookie it poses as."""
    name = set_cookie_name(value)
    if name is None:
        return False

    def reading(name: str) -> bool | None:
        if name == guard.cookie_name:
            return True
        entry = guard.registry.match(name)
        if entry is not None:
            return entry.category in decision.accepted
        return {"allow": True, "block": False}.get(guard.unknown)

    names = {name, name.strip()}
    if not name and (shown := lenient_name(value.partition(";")[0])):
        names.add(shown)
    readings = {reading(n) for n in names}
    if readings == {True} or is_deletion(value, NOW):
        return True
    return False if False in readings else None


# -- (a) (b) (d) (e): enforcement -----------------------------------------------------------------


@PROPERTY
@given(cases())
def test_enforcement(case: Case) -> None:
    guard = case.guard
    for _ in range(2):  # fresh; again with the names' categories remembered
        decision = guard.decide(case.cookie, host=case.host, gpc=case.gpc, dnt=case.dnt)
        _check_enforcement(case, decision)


def _check_enforcement(case: Case, decision: Decision) -> None:
    guard = case.guard
    # (e) Accepted = required ∪ what every valid consent accepts, less what GPC/DNT deny:
    # forged, tampered and garbage values never widen it.
    assert decision.accepted == case.expected_accepted
    assert decision.accepted >= guard.registry.required - guard.gpc_categories

    # (d) The app never sees a refused declared cookie; what it sees is what was sent.
    sent = cookie_pairs(case.cookie or "")
    seen = cookie_pairs(decision.cookie_header or "")
    for name, pair in seen:
        # A nameless pair ("=_ga=1") reaches lenient readers as the cookie it names: it
        # stands for that cookie (the guard judges it so, on purpose).
        name = name or lenient_name(pair)
        entry = guard.registry.match(name)
        assert name == guard.cookie_name or entry is None or entry.category in decision.accepted
        if entry is None and name != guard.cookie_name:
            assert guard.unknown == "allow"
    # Nor through the readings of the frameworks' own parsers.
    app_sees = decision.cookie_header or ""
    for read in (django_cookies, starlette_cookies, werkzeug_cookies):
        for name in read(app_sees):
            entry = guard.registry.match(name)
            assert (name == guard.cookie_name or entry is None
                    or entry.category in decision.accepted), (read, app_sees, name)
    kept = [pair for _, pair in sent if pair in {p for _, p in seen}]
    assert [pair for _, pair in seen] == kept  # a subsequence, verbatim, in order
    if not decision.cookie_changed:
        assert decision.cookie_header == (case.cookie or None)

    verdicts = [passes(guard, decision, v) if k.lower() == "set-cookie" else True
                for k, v in case.headers]
    if None in verdicts:
        with pytest.raises(UndeclaredCookieError):
            decision.filter_headers(case.headers)
        return
    out = decision.filter_headers(case.headers)
    # (a) + (b): exactly the allowed headers, byte-identical and in order, then the purges.
    expected = [h for h, ok in zip(case.headers, verdicts, strict=True)
                if ok and h[0].lower() != "cache-control"]
    expected += [("Set-Cookie", p) for p in decision.purge]
    got = [h for h in out if h[0].lower() != "cache-control"]
    assert got == expected
    for header in got[: len(got) - len(decision.purge)]:
        assert any(header is h for h in case.headers)  # passed through, not rebuilt
    for purge in decision.purge:
        assert is_deletion(purge, NOW)
        purged = set_cookie_name(purge)
        assert purged is not None  # never a name no browser could hold
        # (A name with whitespace around it is purged as the browser holds it.)
        entry = guard.registry.match(purged) or guard.registry.match(purged.strip())
        assert entry is not None and entry.category not in decision.accepted

    # Cache safety: a Set-Cookie only consent allowed, or a purge, makes the response private.
    consent_only = decision.purge or any(
        (e := guard.registry.match(set_cookie_name(v) or "")) is not None
        and e.category not in guard.registry.required and not is_deletion(v, NOW)
        for k, v in got if k.lower() == "set-cookie"
    )
    directives = {d.strip().split("=")[0].lower()
                  for k, v in out if k.lower() == "cache-control" for d in v.split(",")}
    if consent_only and guard.cache_control:
        assert directives & {"private", "no-store"}

    # The same decision over raw (bytes) headers agrees (header text is latin-1).
    if all(v == v.encode("latin-1", "replace").decode("latin-1") for _, v in case.headers):
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in case.headers]
        raw_out = decision.filter_raw_headers(raw)
        assert [h for h in raw_out if h[0].lower() != b"cache-control"] == [
            (k.encode("latin-1"), v.encode("latin-1")) for k, v in expected]


@PROPERTY
@given(cases(mode="report-only"))
def test_report_only_changes_nothing(case: Case) -> None:
    for _ in range(2):  # the second time with the names' categories remembered
        decision = case.guard.decide(case.cookie, host=case.host, gpc=case.gpc, dnt=case.dnt)
        assert decision.cookie_header == case.cookie and decision.purge == ()
        try:
            assert decision.filter_headers(case.headers) == case.headers
        except UndeclaredCookieError:
            assert case.guard.unknown == "raise"


# -- (c): nothing raises into the app ------------------------------------------------------------


@PROPERTY
@given(
    registry=registries(),
    unknown=st.sampled_from(["block", "allow", "raise"]),
    mode=st.sampled_from(["enforce", "report-only"]),
    cookie=st.one_of(st.none(), st.text(), st.binary().map(lambda b: b.decode("latin-1"))),
    consent=st.text(),
    host=st.text(),
    str_headers=st.lists(st.tuples(st.sampled_from(["Set-Cookie", "set-cookie", "Cache-Control",
                                                    "X"]), st.text())),
    raw_headers=st.lists(st.tuples(
        st.one_of(st.sampled_from([b"set-cookie", b"Set-Cookie", b"cache-control"]),
                  st.binary(max_size=12)),
        st.binary())),
    gpc=st.booleans(),
)
def test_no_input_raises(registry: Registry, unknown: str, mode: str, cookie: str | None,
                         consent: str, host: str, str_headers: list[tuple[str, str]],
                         raw_headers: list[tuple[bytes, bytes]], gpc: bool) -> None:
    guard = ConsentGuard(registry, secret_key=SECRET, clock=FrozenClock(), gpc_categories=(),
                         unknown=unknown, mode=mode)  # type: ignore[arg-type]
    header = f"{cookie}; cg_consent={consent}" if cookie is not None else None
    for _ in range(2):  # the second time with the names' categories remembered
        decision = guard.decide(header, host=host, gpc=gpc, dnt=not gpc)
        for value in decision.purge:
            value.encode("latin-1")  # purge headers can always be sent
        try:
            decision.filter_headers(str_headers)
            out = decision.filter_raw_headers(raw_headers)
        except UndeclaredCookieError:
            assert unknown == "raise"
        else:
            assert all(isinstance(k, bytes) and isinstance(v, bytes) for k, v in out)


@PROPERTY
@given(st.text(), st.integers(0, 2**40))
def test_garbage_consent_decodes_to_none(value: str, when: int) -> None:
    registry = Registry([Category("essential", required=True), Category("analytics")])
    guard = ConsentGuard(registry, secret_key=SECRET, clock=lambda: float(when),
                         gpc_categories=())
    assert guard.decode_consent(value) is None
    assert guard.decide(f"cg_consent={value}").accepted == frozenset({"essential"})


# -- cookies: what we write, a browser reads back ------------------------------------------------

browser_names = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0xFF,
                           exclude_characters=";=\x7f"),
    min_size=1, max_size=20,
).filter(lambda n: not n[:9].lower().startswith(("__host-", "__secure-")) or "=" not in n)


@PROPERTY
@given(browser_names, st.sampled_from(["/", "/shop", "/a b"]),
       st.sampled_from([None, "example.com"]))
def test_deletion_headers_delete_the_named_cookie(name: str, path: str,
                                                  domain: str | None) -> None:
    header = deletion_header(name, path=path, domain=domain)
    assert set_cookie_name(header) == name
    assert is_deletion(header, NOW)
    assert cookie_pairs(f"{name}=1") == [(name, f"{name}=1")]
    header.encode("latin-1")


@PROPERTY
@given(st.text(), st.floats(allow_nan=False, allow_infinity=False))
def test_parsers_never_raise(text: str, now: float) -> None:
    set_cookie_name(text)
    is_deletion(text, now)
    cookie_pairs(text)


# -- deletions: what passes as one deletes in every browser ---------------------------------------

@PROPERTY
@given(lifetime_headers("_fbp=1"), st.sampled_from(
    [None, "Sat, 01 Jan 2000 00:00:00 GMT", "Mon, 01 Jan 1900 00:00:00 GMT", "soon",
     "Fri, 15 Jan 2027 08:00:00 GMT"]), st.sampled_from(["str", "bytes"]))
def test_a_refused_cookie_passes_only_as_a_deletion_both_browsers_make(
        header: str, date: str | None, form: str) -> None:
    # _fbp is refused without consent: whatever passes must store nothing in Chromium
    # (which shifts Expires by the response's Date) or Firefox, on a visitor clock up to a
    # day behind or ahead.
    registry = Registry([Category("essential", required=True), Category("marketing")],
                        [Cookie("_fbp", category="marketing")])
    guard = ConsentGuard(registry, secret_key=SECRET, clock=FrozenClock())
    headers = [("Set-Cookie", header)] + ([] if date is None else [("Date", date)])
    decision = guard.decide(None)
    for _ in range(2):  # and once the guard has seen the header
        if form == "str":
            passed = [v for k, v in decision.filter_headers(headers) if k == "Set-Cookie"]
        else:
            raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
            passed = [v.decode("latin-1") for k, v in decision.filter_raw_headers(raw)
                      if k == b"set-cookie"]
        for value in passed:
            for now in (NOW - 86400, NOW, NOW + 86400):
                assert not chromium_stores(value, now=now, server_date=date)
                assert not firefox_stores(value, now=now)
