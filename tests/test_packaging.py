"""The install name people copy is the distribution pyproject.toml builds.

The name ``consentguard`` on the package index belongs to an unrelated project: an install
line naming it installs that project (pip only warns that it has no ``flask`` extra).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - CI runs 3.11
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
TAKEN = "consentguard"  # someone else's project on the package index

# A requirement after `pip install` (quoted or not), up to its extras or the end.
INSTALL = re.compile(r"""pip install\s+(?:-e\s+)?["']?([A-Za-z0-9_.\-/]+)(\[[^\]]*\])?""")


def _pyproject() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def _distribution() -> str:
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    name = project["name"]
    assert isinstance(name, str)
    return name


def _install_lines() -> list[tuple[str, str]]:
    """(file, requirement name) for each `pip install` in the docs and the user-facing code."""
    files = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").rglob("*.md")),
             *sorted((ROOT / "src").rglob("*.py"))]
    found = []
    for path in files:
        for match in INSTALL.finditer(path.read_text(encoding="utf-8")):
            found.append((path.relative_to(ROOT).as_posix(), match.group(1)))
    return found


def test_the_distribution_is_not_the_taken_name() -> None:
    assert _distribution() == "consentguard-middleware"
    assert _distribution() != TAKEN


def test_every_install_line_names_the_distribution_or_a_clone() -> None:
    """Lines that install this project (other packages, like httpx, may appear too)."""
    lines = _install_lines()
    ours = [(f, name) for f, name in lines if name.lower().startswith(TAKEN)]
    assert ours, "no install line names this project"
    wrong = [(f, name) for f, name in ours if name != _distribution()]
    assert wrong == []


def test_the_readme_shows_installing_from_a_clone() -> None:
    readme = [name for f, name in _install_lines() if f == "README.md"]
    assert "." in readme
    assert _distribution() in readme


def test_the_dev_extra_installs_this_distribution() -> None:
    extras = _pyproject()["project"]
    assert isinstance(extras, dict)
    dev = extras["optional-dependencies"]["dev"]
    selves = [req for req in dev if req.split("[")[0] in (TAKEN, _distribution())]
    assert selves == [f"{_distribution()}[test,docs]"]


def test_the_project_lists_its_urls_and_a_changelog() -> None:
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    assert {"Homepage", "Changelog"} <= set(project["urls"])
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## Unreleased" in changelog and "## 0.1.0" in changelog
