"""Every code example in the docs runs, so none of them rots.

Each ```python block of ``README.md`` and ``docs/**/*.md`` runs; the blocks of one page run
in order, in one namespace, in a fresh directory holding the ``cookies.toml`` below (as a reader who
copies a page's examples into one file next to their registry would run them). A line
right before a block's fence may say otherwise (CONTRIBUTING.md describes both):
``<!-- fragment: why -->``, a fragment on purpose (a settings excerpt, a middleware of
your own), is skipped; ``<!-- file: examples/... -->`` shows that file of the repository,
which its own test runs (tests/test_quickstarts.py): the block must equal it. Every
```toml block parses, and one that declares both categories and cookies loads as a registry.
"""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path
from typing import NamedTuple

import pytest

from consentguard import Registry

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "docs").rglob("*.md"))
PAGES = [ROOT / "README.md", *(page for page in PAGES if "_build" not in page.parts)]

# A fence, maybe indented (inside a list item), maybe preceded by the fragment marker.
FENCE = re.compile(r"^(?:[ ]*<!-- (?:(?P<fragment>fragment)|file: (?P<file>\S+))[^>]*-->\n)?"
                   r"(?P<indent>[ ]*)```(?P<lang>\w+)[^\n]*\n"
                   r"(?P<code>.*?)^(?P=indent)```", re.MULTILINE | re.DOTALL)

# The registry the examples load: what the pages name (session, theme, _ga, _ga_*, _fbp).
COOKIES_TOML = """\
version = "2026-04-20"

[categories.essential]
required = true
description = "Needed for the site to work"

[categories.functional]
description = "Remembers your preferences"

[categories.analytics]
description = "Help us understand usage"
consent_mode = ["analytics_storage"]

[categories.marketing]
description = "Advertising"
consent_mode = ["ad_storage", "ad_user_data", "ad_personalization"]

[[cookies]]
name = "session"
category = "essential"
purpose = "Keeps you logged in"
duration = "session"

[[cookies]]
name = "theme"
category = "functional"
purpose = "Remembers the theme"
duration = "1 year"

[[cookies]]
name = "_ga"
category = "analytics"
purpose = "Distinguishes visitors"
duration = "2 years"
provider = "Google Analytics"

[[cookies]]
name = "_ga_*"
category = "analytics"
purpose = "Keeps session state"
duration = "2 years"
provider = "Google Analytics"

[[cookies]]
name = "_fbp"
category = "marketing"
purpose = "Ad delivery"
duration = "3 months"
provider = "Meta"
"""


class Block(NamedTuple):
    line: int
    code: str
    fragment: bool
    file: str | None  # the repository file the block shows


def blocks(page: Path, lang: str | None = None) -> list[Block]:
    """The ``lang`` blocks of a page (every block when ``lang`` is None)."""
    text = page.read_text(encoding="utf-8")
    return [Block(text.count("\n", 0, m.start("code")) + 1, textwrap.dedent(m.group("code")),
                  bool(m.group("fragment")), m.group("file"))
            for m in FENCE.finditer(text) if lang in (None, m.group("lang"))]


def _name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


PYTHON_PAGES = [page for page in PAGES if blocks(page, "python")]


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=_name)
def test_the_python_examples_run(page: Path, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cookies.toml").write_text(COOKIES_TOML, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    # The proof-of-consent page reads its database URL from the environment, as a deployment does.
    monkeypatch.setenv("CONSENT_LOG_URL", f"sqlite:///{tmp_path / 'consent.db'}")
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    namespace: dict[str, object] = {"__name__": "docs_example"}
    for line, code, fragment, file in blocks(page, "python"):
        if fragment or file:
            continue
        try:
            exec(compile(code, f"{_name(page)}:{line}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"the example at {_name(page)}:{line} fails: {exc!r}") from exc


def test_fragments_are_few() -> None:
    """A fragment is an example no test runs: keep them the exception."""
    counted = [block.fragment for page in PAGES for block in blocks(page, "python")]
    assert sum(counted) <= len(counted) // 3, "more than a third of the examples are fragments"


FILE_BLOCKS = [pytest.param(block, id=f"{_name(page)}:{block.line}")
               for page in PAGES for block in blocks(page) if block.file]


@pytest.mark.parametrize("block", FILE_BLOCKS)
def test_a_block_showing_a_file_is_that_file(block: Block) -> None:
    assert block.file is not None and block.file.startswith("examples/")
    assert block.code == (ROOT / block.file).read_text(encoding="utf-8")


TOML_BLOCKS = [pytest.param(block.code, id=f"{_name(page)}:{block.line}")
               for page in PAGES for block in blocks(page, "toml")]


@pytest.mark.parametrize("code", TOML_BLOCKS)
def test_the_toml_examples_parse(code: str) -> None:
    data = tomllib.loads(code)
    if "categories" in data and "cookies" in data:
        Registry.loads(code, format="toml")


def test_the_fixture_is_a_registry() -> None:
    cookie = Registry.loads(COOKIES_TOML, format="toml").match("_ga_X")
    assert cookie is not None and cookie.category == "analytics"


def test_the_readme_stays_a_front_page() -> None:
    """The README introduces and links; the docs pages hold the rest (issue 16)."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= 200, f"README.md has {lines} lines: move the detail into a docs/ page"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\((docs/[^)#]+\.md)", readme))
    missing = [p for p in linked if not (ROOT / p).is_file()]
    assert linked and not missing, f"the README links pages that do not exist: {missing}"
