"""The hot path: fast without memory of earlier requests, and bounded in what it keeps.

The guard remembers only what a cookie name is (bounded by ``cache_size``) and the codec
the consent values it verified: a guard that has served any sequence of requests answers
each new one exactly as a fresh guard does — across consents that expire, clocks that
move, Expires-based deletions that stop being deletions, and memos small enough to be
emptied on every request — and a storm of hostile headers leaves it holding a bounded
amount of memory.
"""

from __future__ import annotations

import gc
import logging
import subprocess
import sys
import textwrap
import tracemalloc
from email.utils import formatdate
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import NOW, SECRET, FrozenClock, make_registry

from consentguard import ConsentGuard, Violation

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
def test_a_long_run_answers_as_fresh_guards_do(
        steps: list[tuple[int, str | None, list[str], float, bool, str]],
        tiny_memos: bool) -> None:
    clock = FrozenClock()
    # cache_size=1: every new name or consent value empties what the guard remembered.
    warm = ConsentGuard(REGISTRY, secret_key=SECRET, clock=clock,
                        cache_size=1 if tiny_memos else 4096)
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


def test_str_and_bytes_header_lists_get_the_same_answer() -> None:
    guard = ConsentGuard(REGISTRY, secret_key=SECRET, clock=FrozenClock())
    decision = guard.decide("_fbp=1", host="www.example.com")  # refused: purged
    as_text = decision.filter_headers([])
    as_bytes = decision.filter_raw_headers([])
    assert as_text and all(isinstance(n, str) and isinstance(v, str) for n, v in as_text)
    assert as_bytes == [(n.encode("latin-1"), v.encode("latin-1")) for n, v in as_text]


# -- found in review: each of these once made an answer differ or memory grow -------------


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
    guard.decide(visitors[2])  # a third pushes the first out
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


def _held_after(guard: ConsentGuard, requests: range, length: int) -> int:
    """Bytes ``guard`` still holds after serving a hostile request for each number: a
    Cookie header of 20 made-up names of ``length`` characters and a made-up consent
    value, and a response setting three of those cookies."""
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for i in requests:
            names = [f"{i}_{j}_".ljust(length, "x") for j in range(20)]
            cookie = "; ".join([*(f"{n}=1" for n in names), f"cg_consent={'A' * 300}{i}"])
            decision = guard.decide(cookie, host=f"h{i}.example.com")
            decision.filter_raw_headers([(b"set-cookie", f"{n}=1; Max-Age=60".encode())
                                         for n in names[:3]])
            del names, cookie, decision
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()


def test_a_storm_of_long_names_leaves_nothing_behind(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, "consentguard")  # (a warning per undeclared name)
    guard = ConsentGuard(REGISTRY, secret_key=SECRET, clock=FrozenClock(), cache_size=64)
    # 1,000 requests of 20 new 300-character names (~6 MiB of names): none is remembered,
    # by the guard or its registry (the consent values: at most cache_size of them).
    assert _held_after(guard, range(1000), 300) < 256 * 1024


def test_a_storm_of_short_names_keeps_memory_bounded(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, "consentguard")
    guard = ConsentGuard(REGISTRY, secret_key=SECRET, clock=FrozenClock(), cache_size=64)
    # 36,000 new 100-character names (~5.5 MiB, remembered): what is kept is capped (the
    # names' categories in the guard's memo, the undeclared names logged).
    held = _held_after(guard, range(1800), 100)
    assert held < 3.5 * 2**20, held


def test_a_nameless_pair_is_never_passed_under_the_empty_names_verdict() -> None:
    # A nameless Set-Cookie gives "" a verdict (unknown, so passing under unknown="allow");
    # a request pair "=_fbp=1" must still be judged as the "_fbp" it poses as.
    guard = ConsentGuard(REGISTRY, secret_key=SECRET, clock=FrozenClock(), unknown="allow")
    for _ in range(2):
        guard.decide("session=a").filter_headers([("Set-Cookie", "=x=1")])
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
    for _ in range(2):  # the second time with the names remembered
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
        from support import SECRET, FrozenClock, make_registry
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
