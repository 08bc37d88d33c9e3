"""The hot path remembers decisions, verdicts, Set-Cookie facts and whole responses.

Whatever it remembers must never change an answer: a guard that has served any
sequence of requests answers each new one exactly as a fresh guard (nothing cached)
does — across consents that expire, clocks that move, Expires-based deletions that
stop being deletions, and caches small enough to evict on every request.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from email.utils import formatdate
from pathlib import Path

import pytest
from conftest import NOW, SECRET, FrozenClock, make_registry
from hypothesis import given, settings
from hypothesis import strategies as st

from consentguard import ConsentGuard, Violation
from consentguard import guard as guard_module

DAY = 86400.0
REGISTRY = make_registry()


def _http_date(timestamp: float) -> str:
    return formatdate(timestamp, usegmt=True)


# Expires dates around NOW: whether each deletes depends on the clock (1-day skew).
SET_COOKIES = [
    "session=abc; Path=/; HttpOnly",
    "lang=en; Max-Age=31536000",
    "_ga=GA1.2.3; Domain=.example.com; Max-Age=63072000",
    "_ga_XYZ=GS1.1; Max-Age=600",
    "_fbp=fb.1.2; Max-Age=7776000",
    "_fbp=; Max-Age=0",
    f"_fbp=; Expires={_http_date(NOW - 2 * DAY)}",
    f"ads_x=1; Expires={_http_date(NOW - 0.5 * DAY)}",
    f"ads_y=1; Expires={_http_date(NOW + 3 * DAY)}",
    "tracker=1; Max-Age=60",
    "=_ga=GA1.9",
    "bad\x01name=1",
]
COOKIES = [
    None,
    "session=abc",
    "session=abc; _ga=GA1.2.3; _fbp=fb.1; lang=en",
    "_ga; ads_1=x; tracker=1",
]
CHOICES = [[], ["analytics"], ["*"], ["functional", "marketing"]]

requests = st.lists(
    st.tuples(
        st.sampled_from(range(len(CHOICES) + 1)),  # the last: no consent cookie
        st.sampled_from(COOKIES),
        st.lists(st.sampled_from(SET_COOKIES), max_size=6),
        st.floats(min_value=0, max_value=200 * DAY),  # how far the clock moved
        st.booleans(),  # Sec-GPC
        st.sampled_from(["bytes", "str"]),
    ),
    min_size=1, max_size=12,
)


def _answer(guard: ConsentGuard, cookie: str | None, headers: list[str], gpc: bool,
            kind: str) -> tuple[object, ...]:
    decision = guard.decide(cookie, host="www.example.com", gpc=gpc)
    if kind == "bytes":
        raw = [(b"set-cookie", h.encode("latin-1")) for h in headers]
        out: object = decision.filter_raw_headers([(b"content-type", b"text/html"), *raw])
    else:
        out = decision.filter_headers([("Content-Type", "text/html"),
                                       *(("Set-Cookie", h) for h in headers)])
    return (decision.consent, decision.accepted, decision.cookie_header, decision.purge, out)


@settings(max_examples=150, deadline=None)
@given(requests, st.booleans())
def test_remembering_never_changes_an_answer(steps: list[tuple[int, str | None, list[str],
                                                               float, bool, str]],
                                             tiny_caches: bool) -> None:
    clock = FrozenClock()
    if tiny_caches:  # every insert evicts: the eviction paths run on each request
        patch = pytest.MonkeyPatch()
        for name in ("_SET_COOKIES", "_RESPONSES", "_RESPONSES_SEEN", "_NAMES_PER_TABLE"):
            patch.setattr(guard_module, name, 1)
    try:
        warm = ConsentGuard(REGISTRY, secret_key=SECRET, clock=clock,
                            cache_size=1 if tiny_caches else guard_module.DEFAULT_CACHE_SIZE)
        values = [warm.encode_consent(choice) for choice in CHOICES]
        for choice, cookie, headers, moved, gpc, kind in steps:
            clock.now = NOW + moved
            consent = values[choice] if choice < len(values) else None
            full = "; ".join(p for p in (cookie, consent and f"cg_consent={consent}") if p)
            fresh = ConsentGuard(REGISTRY, secret_key=SECRET, clock=clock)
            got = _answer(warm, full or None, headers, gpc, kind)
            want = _answer(fresh, full or None, headers, gpc, kind)
            assert got[1:] == want[1:]
            assert (got[0] is None) == (want[0] is None)
            if got[0] is not None and want[0] is not None:
                assert got[0].accepted == want[0].accepted  # type: ignore[attr-defined]
    finally:
        if tiny_caches:
            patch.undo()


def test_reports_are_made_on_every_request_not_only_the_first() -> None:
    seen: list[Violation] = []
    guard = ConsentGuard(REGISTRY, secret_key=SECRET, clock=FrozenClock(),
                         on_violation=seen.append)
    for _ in range(3):
        decision = guard.decide("_fbp=1; session=a", host="www.example.com", path="/p")
        decision.filter_headers([("Set-Cookie", "_fbp=2; Max-Age=60")])
    assert [(v.kind, v.name) for v in seen] == [("request-cookie", "_fbp"),
                                                ("set-cookie", "_fbp")] * 3


def test_a_remembered_consent_still_expires() -> None:
    clock = FrozenClock()
    guard = ConsentGuard(REGISTRY, secret_key=SECRET, clock=clock, max_age=DAY)
    cookie = f"cg_consent={guard.encode_consent(['analytics'])}; _ga=1"
    assert guard.decide(cookie).allows("analytics")
    clock.advance(DAY + 1)
    decision = guard.decide(cookie, host="www.example.com")
    assert not decision.allows("analytics")
    assert decision.cookie_header == f"cg_consent={cookie.split('=', 1)[1].split(';')[0]}"
    assert any(p.startswith("_ga=") for p in decision.purge)


def test_an_expires_deletion_is_judged_at_each_request() -> None:
    clock = FrozenClock()
    guard = ConsentGuard(REGISTRY, secret_key=SECRET, clock=clock)
    header = [("Set-Cookie", f"_fbp=x; Expires={_http_date(NOW - 0.5 * DAY)}")]
    assert guard.decide(None).filter_headers(header) == []  # within the skew: may store
    clock.advance(DAY)
    assert guard.decide(None).filter_headers(header) == header  # now only deletes


def test_str_and_bytes_header_lists_are_remembered_apart() -> None:
    guard = ConsentGuard(REGISTRY, secret_key=SECRET, clock=FrozenClock())
    decision = guard.decide("_fbp=1", host="www.example.com")  # refused: purged
    as_text = decision.filter_headers([])
    as_bytes = decision.filter_raw_headers([])
    assert as_text and all(isinstance(n, str) and isinstance(v, str) for n, v in as_text)
    assert as_bytes == [(n.encode("latin-1"), v.encode("latin-1")) for n, v in as_text]


# -- found in review: each of these once made the remembered answer differ or grow ----------


def test_asgi_headers_as_lists_are_filtered_not_crashed() -> None:
    import asyncio

    import httpx

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 200,  # type: ignore[operator]
                    "headers": [[b"content-type", b"text/plain"], [b"set-cookie", b"_fbp=1"],
                                [b"set-cookie", b"session=a"]]})
        await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]

    guard = ConsentGuard(REGISTRY, secret_key=SECRET)

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(guard.asgi(app))  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="https://example.com") as c:
            return await c.get("/")

    for _ in range(2):
        response = asyncio.run(get())
        assert response.status_code == 200
        assert response.headers.get_list("set-cookie") == ["session=a"]


class _CountingCodec:
    """Counts the consent values a guard's codec verifies (``verify`` runs on a miss)."""

    def __init__(self, guard: ConsentGuard, monkeypatch: pytest.MonkeyPatch) -> None:
        self.verified: list[str] = []
        verify = guard.codec.verify

        def counting(value: str) -> object:
            self.verified.append(value)
            return verify(value)

        monkeypatch.setattr(guard.codec, "verify", counting)


def test_cache_size_bounds_the_visitors_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    guard = ConsentGuard(REGISTRY, secret_key=SECRET, clock=FrozenClock(), cache_size=2)
    visitors = [f"cg_consent={guard.encode_consent([c])}; lang=en"
                for c in ("analytics", "marketing", "functional")]
    counter = _CountingCodec(guard, monkeypatch)
    for cookie in visitors[:2] * 3:  # two returning visitors fit: each verified once
        assert guard.decide(cookie).consent is not None
    assert len(counter.verified) == 2
    guard.decide(visitors[2])  # a third pushes the first out of both caches
    assert guard.decide(visitors[0]).allows("analytics")
    assert len(counter.verified) == 4 and counter.verified[-1] == counter.verified[0]
    roomy = ConsentGuard(REGISTRY, secret_key=SECRET, clock=FrozenClock(), cache_size=3)
    counter = _CountingCodec(roomy, monkeypatch)
    for cookie in [*visitors, visitors[0]]:
        roomy.decide(cookie)
    assert len(counter.verified) == 3


def test_one_request_purges_a_bounded_number_of_names() -> None:
    guard = ConsentGuard(REGISTRY, secret_key=SECRET, clock=FrozenClock())
    cookie = "; ".join(f"_ga_{j}=1" for j in range(700))  # refused analytics cookies
    decision = guard.decide(cookie, host="www.shop.example.com")
    names = {p.split("=", 1)[0] for p in decision.purge}
    # As many names as 4 KiB of deletion headers hold (each name on 4 domains here).
    assert len(names) == 12
    assert sum(map(len, decision.purge)) <= 4096
    assert "_ga_" not in (decision.cookie_header or "")  # all of them still hidden
    # The browser drops those; the next request purges the next ones.
    rest = "; ".join(f"_ga_{j}=1" for j in range(700) if f"_ga_{j}" not in names)
    assert not names & {p.split("=", 1)[0] for p in guard.decide(rest).purge}


def test_attacker_sized_names_and_values_are_not_kept() -> None:
    guard = ConsentGuard(REGISTRY, secret_key=SECRET, clock=FrozenClock())
    long_name = "x" * 5000
    guard.decide(f"{long_name}=1; cg_consent={'A' * 5000}", host="h" * 300)
    assert all(long_name not in table for table in guard._tables.values())
    assert not guard.codec._cache and not guard._decisions


# -- the shortcuts: plain headers read in one scan must read as the full parsers read them ---

# Mostly names that pass (so the shortcut is taken), with the odd one out hiding among them
# (behind a ";" without its space, a nameless pair, whitespace around a name).
_NAMES = ["session", "lang", "_ga", "_ga_XYZ", "cg_consent"] * 3 + [
    "_fbp", "tracker", "", " _ga", "_ga ", "ads_1", "__Host-x", "cg_consent ", "cg_consent\t"]
_SEPARATORS = ["; "] * 4 + [";", " ; ", ";  "]
_SET_COOKIE_EXTRA = ["_ga =1; Max-Age=5", " _fbp=1", "_fbp=1;max-age=0", "lang=\x00x",
                     "_fbp=x; Max-Age=60; Max-Age=-1", "tracker"]

cookie_headers = st.lists(
    st.tuples(st.sampled_from(_NAMES), st.sampled_from(["=1", "=1", "=GA1.2", "", "=a=b"]),
              st.sampled_from(_SEPARATORS)),
    max_size=3,
).map(lambda parts: "".join(n + v + sep for n, v, sep in parts).rstrip("; "))


def _without_shortcuts(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(guard_module, "plain_cookie_value", lambda header, name: None)
    patch.setattr(guard_module, "browser_cookie_pieces", lambda header: None)
    patch.setattr(guard_module._TEXT, "plain", lambda value: None)
    patch.setattr(guard_module._RAW, "plain", lambda value: None)


@settings(max_examples=300, deadline=None)
@given(cookie_headers, st.sampled_from([2, 2, 2, *range(len(CHOICES) + 1)]),
       st.lists(st.sampled_from(SET_COOKIES + _SET_COOKIE_EXTRA), max_size=5),
       st.booleans(), st.sampled_from(["bytes", "str"]),
       st.sampled_from(["block", "allow"]))
def test_the_shortcuts_never_change_an_answer(cookie: str, choice: int, headers: list[str],
                                              gpc: bool, kind: str, unknown: str) -> None:
    clock = FrozenClock()
    fast = ConsentGuard(REGISTRY, secret_key=SECRET, clock=clock,
                        unknown=unknown)  # type: ignore[arg-type]
    values = [fast.encode_consent(c) for c in CHOICES]
    consent = values[choice] if choice < len(values) else None
    full = "; ".join(p for p in (cookie, consent and f"cg_consent={consent}") if p) or None
    _answer(fast, full, headers, gpc, kind)  # the first answer fills the verdict tables
    fast._decisions.clear()  # (so the second is worked out again, now by the shortcuts)
    fast._responses.clear()
    fast._set_cookies.clear()
    got = _answer(fast, full, headers, gpc, kind)
    patch = pytest.MonkeyPatch()
    _without_shortcuts(patch)
    try:
        slow = ConsentGuard(REGISTRY, secret_key=SECRET, clock=clock,
                            unknown=unknown)  # type: ignore[arg-type]
        want = _answer(slow, full, headers, gpc, kind)
    finally:
        patch.undo()
    assert got[1:] == want[1:]
    assert (got[0] is None) == (want[0] is None)


def test_ordinary_requests_take_the_shortcuts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shortcuts are used (else they would only cost): no pair-by-pair reading of a
    browser's Cookie header, no full parse of a plain Set-Cookie, once names are known."""
    guard = ConsentGuard(REGISTRY, secret_key=SECRET, clock=FrozenClock())
    consent = guard.encode_consent(["analytics"])
    headers = [("Set-Cookie", "_ga=GA1.2; Max-Age=60"), ("Set-Cookie", "session=a")]
    guard.decide(f"session=a; _ga=1; cg_consent={consent}").filter_headers(headers)

    def unexpected(*args: object) -> object:
        raise AssertionError("the full parser ran")

    monkeypatch.setattr(guard_module, "cookie_pairs", unexpected)
    monkeypatch.setattr(guard_module, "set_cookie_name", unexpected)
    decision = guard.decide(f"session=b; _ga=2; cg_consent={consent}")
    assert decision.allows("analytics") and not decision.cookie_changed
    assert decision.filter_headers([("Set-Cookie", "_ga=GA1.3; Max-Age=60")]) == [
        ("Set-Cookie", "_ga=GA1.3; Max-Age=60"), ("Cache-Control", "private")]


def test_a_nameless_pair_is_never_passed_under_the_empty_names_verdict() -> None:
    # A nameless Set-Cookie gives "" a verdict (unknown, so passing under unknown="allow");
    # a request pair "=_fbp=1" must still be judged as the "_fbp" it poses as.
    guard = ConsentGuard(REGISTRY, secret_key=SECRET, clock=FrozenClock(), unknown="allow")
    for _ in range(2):
        guard.decide("session=a").filter_headers([("Set-Cookie", "=x=1")])
        guard._decisions.clear()
        decision = guard.decide("session=a; =_fbp=1", host="www.example.com")
        assert decision.cookie_header == "session=a"
        assert decision.purge == ()  # a nameless pair is hidden; no browser holds "_fbp" by it


def test_a_planted_spaced_consent_cookie_still_only_narrows() -> None:
    # Found in review: "cg_consent =<refusal>" before the visitor's own "cg_consent=<all>"
    # is a second consent cookie (a sibling subdomain can plant it); the shortcut once
    # read only the plain one, widening consent to everything.
    guard = ConsentGuard(REGISTRY, secret_key=SECRET, clock=FrozenClock())
    refusal, everything = guard.encode_consent([]), guard.encode_consent(["*"])
    header = f"cg_consent ={refusal}; cg_consent={everything}; _fbp=1; _ga=2"
    for _ in range(2):  # the second time with warm verdict tables
        guard._decisions.clear()
        decision = guard.decide(header, host="www.example.com")
        assert not decision.allows("marketing") and not decision.allows("analytics")
        assert "_fbp=1" not in (decision.cookie_header or "")


def test_bytes_and_text_names_never_meet_under_python_bb(tmp_path: Path) -> None:
    # Found in review: "_ga" and b"_ga" hash alike; kept in one table, a lookup compared
    # them, which raises BytesWarning into the app under python -bb.
    script = tmp_path / "bb.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path[:0] = {[str(Path(__file__).parent)]!r}
        from conftest import SECRET, FrozenClock, make_registry
        from consentguard import ConsentGuard
        guard = ConsentGuard(make_registry(), secret_key=SECRET, clock=FrozenClock())
        cookie = "session=1; _ga=1; cg_consent=" + guard.encode_consent(["*"])
        expired = "_fbp=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT"  # parsed, cached facts
        for _ in range(3):  # one guard serving str (WSGI) and bytes (ASGI) header lists
            decision = guard.decide(cookie)
            decision.filter_raw_headers([(b"set-cookie", b"_ga=1"), (b"set-cookie", b"_gid=2"),
                                         (b"set-cookie", expired.encode())])
            decision.filter_headers([("set-cookie", "_ga=1"), ("set-cookie", "_gid=2"),
                                     ("set-cookie", expired)])
        print("ok")
    """))
    done = subprocess.run([sys.executable, "-bb", str(script)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_a_header_list_is_remembered_only_when_it_comes_again() -> None:
    # Per-visitor Set-Cookie values make most header lists unique: remembering each would
    # cost every request and help none.
    guard = ConsentGuard(REGISTRY, secret_key=SECRET, clock=FrozenClock())
    decision = guard.decide("session=a")
    once = [("Set-Cookie", "session=visitor-1")]
    again = [("Set-Cookie", "session=visitor-2")]
    assert decision.filter_headers(once) == once
    assert decision.filter_headers(again) == again
    assert not guard._responses
    assert decision.filter_headers(again) == again
    assert len(guard._responses) == 1
    assert decision.filter_headers(again) == again  # now answered from memory
