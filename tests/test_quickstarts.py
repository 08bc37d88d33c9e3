"""The quick starts are complete, true, and pass the audit.

Each lives in ``examples/<name>/``: its tutorial in ``docs/tutorials/`` shows those files
verbatim and the README shows the app, their own test (the one the tutorial tells readers
to run) passes from any working directory, and ``consentguard audit`` passes on each app.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from consentguard.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
LANGUAGES = {".py": "python", ".toml": "toml", ".html": "html"}
QUICK_STARTS = {
    # directory: (its tutorial, app module, its test module)
    "flask_quickstart": ("docs/tutorials/flask.md", "app", "test_app"),
    "fastapi_quickstart": ("docs/tutorials/fastapi.md", "main", "test_main"),
}


def _block(path: Path) -> str:
    return f"```{LANGUAGES[path.suffix]}\n{path.read_text(encoding='utf-8')}```"


def _files(directory: str) -> list[Path]:
    return sorted(p for p in (EXAMPLES / directory).rglob("*")
                  if p.suffix in LANGUAGES and "__pycache__" not in p.parts)


@pytest.fixture
def example(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
            ) -> Iterator[tuple[str, str, str]]:
    """Import path set to the example; working directory elsewhere; modules forgotten after."""
    directory: str = request.param
    _, app_module, test_module = QUICK_STARTS[directory]
    monkeypatch.syspath_prepend(str(EXAMPLES / directory))
    monkeypatch.chdir(tmp_path)  # `flask run` and CI may start anywhere
    for name in (app_module, test_module):
        sys.modules.pop(name, None)
    yield directory, app_module, test_module
    for name in (app_module, test_module):
        sys.modules.pop(name, None)


@pytest.mark.parametrize("directory", sorted(QUICK_STARTS))
def test_the_tutorial_shows_every_file_of_the_example(directory: str) -> None:
    tutorial = (ROOT / QUICK_STARTS[directory][0]).read_text(encoding="utf-8")
    files = _files(directory)
    assert {p.name for p in files} >= {"cookies.toml", f"{QUICK_STARTS[directory][1]}.py",
                                       f"{QUICK_STARTS[directory][2]}.py"}
    for path in files:
        assert _block(path) in tutorial, f"the {directory} tutorial differs from {path.name}"
        assert f"`{path.relative_to(EXAMPLES / directory).as_posix()}`" in tutorial



@pytest.mark.parametrize("directory", sorted(QUICK_STARTS))
def test_the_readme_shows_the_app_of_the_example(directory: str) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    app = EXAMPLES / directory / f"{QUICK_STARTS[directory][1]}.py"
    assert _block(app) in readme, f"the README's {directory} app differs from {app.name}"
    assert QUICK_STARTS[directory][0] in readme, "the README links the tutorial"


@pytest.mark.parametrize("example", sorted(QUICK_STARTS), indirect=True)
def test_the_examples_own_test_passes_from_another_directory(
        example: tuple[str, str, str]) -> None:
    _, _, test_module = example
    module: ModuleType = importlib.import_module(test_module)
    tests = [getattr(module, name) for name in dir(module) if name.startswith("test_")]
    assert tests
    for test in tests:
        test()


@pytest.mark.parametrize("example", sorted(QUICK_STARTS), indirect=True)
def test_consentguard_audit_passes_on_the_example(
        example: tuple[str, str, str], capsys: pytest.CaptureFixture[str]) -> None:
    _, app_module, _ = example
    assert main(["audit", f"{app_module}:app"]) == 0
    out = capsys.readouterr().out
    assert "Result: OK — 0 error(s), 0 warning(s)" in out
    assert "Removed before consent (1)" in out and "_ga" in out
