"""consentguard.django behind real servers: gunicorn (WSGI) and uvicorn (ASGI) each run the
test project (tests/djangoproject) in a subprocess, and a raw HTTP client reads every
``Set-Cookie`` line they send — the purge's several lines for one cookie name included,
which a Django response can only carry as several morsels under keys of their own.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("django")

from djangoserver import COMMANDS, project_env, serve

HOST = "www.demo.test"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return project_env(tmp_path_factory.mktemp("servers") / "db.sqlite3")


@pytest.fixture(scope="module", params=sorted(COMMANDS))
def server(request: pytest.FixtureRequest, env: dict[str, str],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The port of a real server (gunicorn, uvicorn) running the test project."""
    pytest.importorskip(request.param)
    with serve(request.param, env, tmp_path_factory.mktemp(request.param) / "log") as port:
        yield port


class Answer:
    def __init__(self, raw: bytes) -> None:
        head, _, self.body = raw.partition(b"\r\n\r\n")
        status, *lines = head.decode("latin-1").split("\r\n")
        self.status = int(status.split()[1])
        self.headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines]

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def deleted_on(self, cookie: str) -> set[str | None]:
        """The domains (None: host-only) a ``Set-Cookie`` line deletes ``cookie`` on."""
        found: set[str | None] = set()
        for line in self.all("Set-Cookie"):
            pair, *attributes = [part.strip() for part in line.split(";")]
            attrs = {a.partition("=")[0].lower(): a.partition("=")[2] for a in attributes}
            if pair == f"{cookie}=" and attrs.get("max-age") == "0":
                found.add(attrs.get("domain"))
        return found

    def names(self) -> set[str]:
        return {line.split("=", 1)[0] for line in self.all("Set-Cookie")}


def fetch(port: int, method: str, path: str, *, cookie: str = "", body: str = "",
          content_type: str = "application/x-www-form-urlencoded") -> Answer:
    """One request on a fresh connection, read to the end: every header line as sent."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", "Connection: close"]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    if body or method in ("POST", "DELETE"):
        lines += [f"Content-Type: {content_type}", f"Content-Length: {len(body.encode())}"]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n" + body).encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return Answer(b"".join(chunks))


def consent_cookie(answer: Answer) -> str:
    [line] = [v for v in answer.all("Set-Cookie") if v.startswith("cg_consent=")]
    return line.split(";", 1)[0]


def test_refused_cookies_never_leave_the_server(server: int) -> None:
    answer = fetch(server, "GET", "/")
    assert answer.status == 200
    assert answer.names() == {"sessionid", "csrftoken"}, answer.all("Set-Cookie")


def test_refused_request_cookies_are_hidden_and_purged_on_every_domain(server: int) -> None:
    answer = fetch(server, "GET", "/seen/", cookie="_ga=GA1; theme=dark; csrftoken=t")
    assert json.loads(answer.body)["cookies"] == {"csrftoken": "t"}
    for name in ("_ga", "theme"):
        assert answer.deleted_on(name) == {None, "demo.test", "www.demo.test"}, \
            answer.all("Set-Cookie")


def test_a_choice_through_the_endpoint_then_a_withdrawal(server: int) -> None:
    given = fetch(server, "POST", "/_consent", body="accept=analytics&next=/seen/",
                  cookie="_fbp=1")
    assert given.status == 303 and given.all("Location") == ["/seen/"]
    assert given.deleted_on("_fbp") == {None, "demo.test", "www.demo.test"}
    consent = consent_cookie(given)
    page = fetch(server, "GET", "/", cookie=consent)
    assert page.names() == {"sessionid", "csrftoken", "_ga"}
    [ga] = [line for line in page.all("Set-Cookie") if line.startswith("_ga=")]
    assert "Domain=.demo.test" in ga and "HttpOnly" in ga

    withdrawn = fetch(server, "DELETE", "/_consent", cookie=f"{consent}; _ga=GA1")
    assert withdrawn.status == 200
    assert withdrawn.deleted_on("_ga") == {None, "demo.test", "www.demo.test"}
    assert json.loads(withdrawn.body)["consent"] is not None
    assert fetch(server, "GET", "/", cookie=consent_cookie(withdrawn)).names() == {
        "sessionid", "csrftoken"}


def test_a_cross_site_choice_is_refused(server: int) -> None:
    lines = ["POST /_consent HTTP/1.1", f"Host: {HOST}:{server}", "Connection: close",
             "Sec-Fetch-Site: cross-site", "Content-Type: application/x-www-form-urlencoded",
             "Content-Length: 8", "", "accept=*"]
    with socket.create_connection(("127.0.0.1", server), timeout=10) as sock:
        sock.sendall("\r\n".join(lines).encode())
        raw = b"".join(iter(lambda: sock.recv(65536), b""))
    answer = Answer(raw)
    assert answer.status == 403 and not answer.all("Set-Cookie")


def test_under_a_root_path(env: dict[str, str], tmp_path: Path) -> None:
    # Behind a proxy that strips /app (uvicorn --root-path): Django's script prefix is
    # /app; the endpoint answers inside it, and the banner tag points the browser there.
    pytest.importorskip("uvicorn")
    with serve("uvicorn", env, tmp_path / "log", "--root-path", "/app") as port:
        state = fetch(port, "GET", "/_consent")
        assert state.status == 200 and json.loads(state.body)["consent"] is None
        assert fetch(port, "GET", "/_consent/banner.js").status == 200
        page = fetch(port, "GET", "/")
        assert b'<script src="/app/_consent/banner.js?v=' in page.body
        assert page.body.count(b'<form method="post" action="/app/_consent">') == 2
