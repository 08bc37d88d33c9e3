"""The ``consentguard`` command: ``main(argv=None) -> int``.

Subcommands: ``check``, ``policy``, ``audit``, ``import-ocd``, ``secret``, ``decode``,
``log`` and ``demo``. Each lives in its own module, imported only when its command runs,
so ``consentguard check`` never imports a web framework.

Exit codes: 0 success; 1 the input has problems (an invalid registry, an audit that found
undeclared or leaking cookies, a consent value that does not verify); 2 a usage error
(unknown option, missing argument, a file that does not exist, an app that cannot be
imported, a command that is not installed).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import secrets
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

__all__ = ["main"]

PROG = "consentguard"
SECRET_ENV = "CONSENTGUARD_SECRET_KEY"

# Commands implemented by a module with add_arguments(parser) and run(args) -> int.
_PLUGINS: dict[str, tuple[str, str, str]] = {
    "demo": ("consentguard.demo", "run the demo site", "demo"),
}

Runner = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``consentguard`` command with ``argv`` (default: ``sys.argv[1:]``).

    :returns: the exit status (0 ok, 1 problems found, 2 usage error); never raises
        :class:`SystemExit`.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in arguments if not a.startswith("-")), None)
    try:
        parser = _parser(command)
    except _Unavailable as exc:
        print(f"{PROG} {command}: {exc}", file=sys.stderr)
        return 2
    try:
        args = parser.parse_args(arguments)
        runner: Runner | None = getattr(args, "run", None)
        if runner is None:
            parser.print_help(sys.stderr)
            return 2
        return int(runner(args))
    except SystemExit as exc:  # argparse (usage errors, --help) or a command's own exit
        return _status(exc.code)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `consentguard policy x | head`: the reader left, not an error
        _silence_stdout()
        return 0


def _silence_stdout() -> None:
    """Point stdout at /dev/null so flushing it at exit raises no second BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (tests)
        pass


def _status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


class _Unavailable(Exception):
    """A command's module cannot be imported."""


def _parser(command: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Registry tooling for consentguard: check a cookie registry, render the "
        "cookie policy, audit an app, import the Open Cookie Database.",
        epilog="Exit status: 0 ok, 1 problems found, 2 usage error.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    check = sub.add_parser(
        "check", help="validate a registry file and warn about risky entries",
        description="Validate a .toml or .json registry: a summary, every problem (entry "
        "and fix) and warnings. Exit 1 when the registry has errors.")
    check.add_argument("registry", metavar="REGISTRY", help="the registry file")
    check.add_argument("--format", choices=("text", "json"), default="text",
                       help="report format (default: text)")
    check.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    check.set_defaults(run=_run_check)

    policy = sub.add_parser(
        "policy", help="render the cookie policy (Markdown, HTML or JSON)",
        description="Render the human cookie policy from a registry: one section per "
        "category, a table of its cookies and storage keys.")
    policy.add_argument("registry", metavar="REGISTRY", help="the registry file")
    policy.add_argument("--format", "-f", choices=("markdown", "html", "json"),
                        default="markdown", help="output format (default: markdown)")
    policy.add_argument("-o", "--output", metavar="FILE",
                        help="write to FILE instead of standard output")
    policy.set_defaults(run=_run_policy)

    ocd = sub.add_parser(
        "import-ocd", help="registry entries from the Open Cookie Database CSV",
        description="Convert the Open Cookie Database CSV into a registry file in our TOML "
        "schema. Skipped rows, duplicates and case variants are reported on standard error.")
    ocd.add_argument("csv", metavar="CSV", help="open-cookie-database.csv ('-' for stdin)")
    ocd.add_argument("--only-seen", metavar="AUDIT.json",
                     help="keep only rows matching cookies this report of "
                     "`consentguard audit --format json` saw")
    ocd.add_argument("-o", "--output", metavar="FILE",
                     help="write to FILE instead of standard output")
    ocd.set_defaults(run=_run_import_ocd)

    secret = sub.add_parser("secret", help="print a fresh random secret key",
                            description="Print a random key for ConsentGuard(secret_key=...).")
    secret.add_argument("--bytes", type=int, default=32, metavar="N",
                        help="random bytes before encoding (default: 32)")
    secret.set_defaults(run=_run_secret)

    decode = sub.add_parser(
        "decode", help="show what a consent cookie holds",
        description="Verify a consent cookie value and show its payload (for support). Exit "
        "0 when the guard would honour it now, 1 when it is invalid, expired or stale.")
    decode.add_argument("value", metavar="VALUE",
                        help="the cookie value (or 'cg_consent=VALUE' as copied from a browser)")
    decode.add_argument("--secret", "-s", action="append", metavar="KEY",
                        help=f"a signing key; repeat for rotated keys (default: ${SECRET_ENV})")
    decode.add_argument("--registry", "-r", metavar="FILE",
                        help="the registry: also shows stale and undecided categories")
    decode.add_argument("--max-age", type=float, default=180.0, metavar="DAYS",
                        help="the guard's max_age in days (default: 180)")
    decode.add_argument("--refusal-max-age", type=float, default=None, metavar="DAYS",
                        help="the guard's refusal_max_age in days (default: --max-age)")
    decode.add_argument("--format", choices=("text", "json"), default="text")
    decode.set_defaults(run=_run_decode)
    _add_log_parser(sub)
    _add_audit_parser(sub)

    for name, (module_name, help_text, extra) in _PLUGINS.items():
        plugin = sub.add_parser(name, help=help_text)
        if name == command:
            module = _import(module_name, extra)
            module.add_arguments(plugin)
            plugin.set_defaults(run=module.run)
    return parser


def _import(module_name: str, extra: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise _Unavailable(f"not available in this installation ({module_name} is "
                               "missing).") from exc
        hint = f" Fix: pip install 'consentguard-middleware[{extra}]'." if extra else ""
        raise _Unavailable(f"needs the package {exc.name!r}, which is not installed.{hint}"
                           ) from exc


def _error(command: str, message: str) -> None:
    print(f"{PROG} {command}: {' '.join(message.split())}", file=sys.stderr)


def _missing(command: str, path: str) -> bool:
    """Report a path that is not a file (usage error)."""
    if path != "-" and not Path(path).is_file():
        _error(command, f"no such file: {path}")
        return True
    return False


def _write(command: str, text: str, output: str | None) -> int:
    if output is None:
        sys.stdout.write(text)
        return 0
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        _error(command, f"cannot write {output}: {exc.strerror or exc}")
        return 2
    return 0


# -- check ------------------------------------------------------------------------------------


def _run_check(args: argparse.Namespace) -> int:
    from .check import check_file, format_text

    if _missing("check", args.registry):
        return 2
    result = check_file(args.registry)
    if args.format == "json":
        sys.stdout.write(json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(format_text(result))
    if not result.ok or (args.strict and result.warnings):
        return 1
    return 0


# -- policy -----------------------------------------------------------------------------------


def _run_policy(args: argparse.Namespace) -> int:
    from .exceptions import RegistryError
    from .policy import render_policy
    from .registry import Registry

    if _missing("policy", args.registry):
        return 2
    try:
        registry = Registry.load(args.registry)
    except RegistryError as exc:
        _error("policy", f"{exc} (run `consentguard check {args.registry}` for every problem)")
        return 1
    return _write("policy", render_policy(registry, args.format), args.output)


# -- import-ocd -------------------------------------------------------------------------------


def _run_import_ocd(args: argparse.Namespace) -> int:
    from .ocd import OcdError, convert, import_toml, iter_notes, read_ocd, seen_names

    if _missing("import-ocd", args.csv) or (
            args.only_seen and _missing("import-ocd", args.only_seen)):
        return 2
    try:
        only_seen = None
        if args.only_seen:
            try:
                report = json.loads(Path(args.only_seen).read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise OcdError(f"{args.only_seen} is not JSON ({exc}); pass the output of "
                               "`consentguard audit APP --format json`.") from exc
            only_seen = seen_names(report)
        if args.csv == "-":
            rows = read_ocd(sys.stdin)
        else:
            with open(args.csv, encoding="utf-8-sig", newline="") as stream:
                rows = read_ocd(stream)
    except UnicodeDecodeError as exc:
        _error("import-ocd", f"{args.csv} is not UTF-8 text ({exc.reason} at byte {exc.start}).")
        return 1
    except OcdError as exc:
        _error("import-ocd", str(exc))
        return 1
    result = convert(rows, only_seen=only_seen)
    for line in iter_notes(result):
        print(f"{PROG} import-ocd: {line}", file=sys.stderr)
    source = "-" if args.csv == "-" else Path(args.csv).name
    return _write("import-ocd", import_toml(result, source=source), args.output)


# -- secret / decode --------------------------------------------------------------------------


def _run_secret(args: argparse.Namespace) -> int:
    if args.bytes < 16:
        _error("secret", "--bytes must be at least 16 (a key is only as strong as it is long).")
        return 2
    print(secrets.token_urlsafe(args.bytes))
    return 0


def _cookie_values(text: str) -> list[str]:
    """The values in what a person pastes: a bare value, quoted, or a whole ``Cookie``
    header (``name=value; ...``: each value, in order, for the caller to try)."""
    from .cookies import cookie_pairs

    text = text.strip()
    if "=" not in text:  # signed values never hold '=' (URL-safe base64 without padding)
        return [text.strip('"')]
    return [pair.partition("=")[2].strip().strip('"') for _, pair in cookie_pairs(text)]


def _run_decode(args: argparse.Namespace) -> int:
    from .consent import FUTURE_SKEW, ConsentCodec, consent_to_json, read_payload
    from .exceptions import RegistryError
    from .registry import Category, Registry

    keys = args.secret or ([os.environ[SECRET_ENV]] if os.environ.get(SECRET_ENV) else [])
    if not keys:
        _error("decode", f"no key: pass --secret KEY (or set ${SECRET_ENV}).")
        return 2
    if args.max_age <= 0 or (args.refusal_max_age is not None and args.refusal_max_age <= 0):
        _error("decode", "--max-age and --refusal-max-age must be positive numbers of days.")
        return 2
    registry = Registry([Category("essential", required=True)])
    if args.registry:
        if _missing("decode", args.registry):
            return 2
        try:
            registry = Registry.load(args.registry)
        except RegistryError as exc:
            _error("decode", str(exc))
            return 1
    max_age = timedelta(days=args.max_age)
    refusal = timedelta(days=args.refusal_max_age or args.max_age)
    try:
        codec = ConsentCodec(registry, keys, max_age=max_age, refusal_max_age=refusal)
    except ValueError as exc:
        _error("decode", str(exc))
        return 2
    candidates = _cookie_values(args.value) or [""]
    # In a pasted header, the value that verifies is the consent cookie.
    value = next((v for v in candidates if codec.verify(v) is not None), candidates[0])
    payload = codec.verify(value)
    fields = read_payload(payload)
    if fields is None:
        data: dict[str, Any] = {"status": "invalid"}
        message = ("invalid: the value does not verify with the given key(s) — forged, "
                   "truncated, or signed with another key" if payload is None else
                   "invalid: signed with the key, but not a consent payload this version "
                   "reads (the guard treats it as no consent)")
        return _show_decoded(args.format, data, message, 1)
    issued = datetime.fromtimestamp(fields.issued, tz=timezone.utc)
    lifetime = max_age if fields.accepted else refusal
    expires = issued + lifetime
    now = datetime.now(timezone.utc)
    data = {
        "status": "valid",
        "id": fields.id,
        "issued": issued.isoformat(),
        "expires": expires.isoformat(),
        "accepted": fields.accepted,
        "refused": fields.refused,
        "version": fields.version,
    }
    if now >= expires:
        data["status"] = "expired"
    elif issued > now + timedelta(seconds=FUTURE_SKEW):
        data["status"] = "issued in the future"
    if args.registry:
        consent = consent_to_json(codec.decode(value))
        data["registry"] = {"version": registry.version,
                            "stale": consent["stale"] if consent else None,
                            "undecided": consent["undecided"] if consent else None}
        if data["status"] == "valid" and consent and consent["stale"]:
            data["status"] = "stale"
    return _show_decoded(args.format, data, None, 0 if data["status"] == "valid" else 1)


def _show_decoded(fmt: str, data: dict[str, Any], message: str | None, status: int) -> int:
    if fmt == "json":
        print(json.dumps(data, indent=2, sort_keys=True))
        return status
    if message is not None:
        print(message)
        return status
    accepted = ", ".join(f"{name} (revision {rev})" for name, rev in data["accepted"].items())
    lines = [
        f"status:   {data['status']}",
        f"id:       {data['id']}",
        f"issued:   {data['issued']}",
        f"expires:  {data['expires']}",
        f"accepted: {accepted or '(none)'}",
        f"refused:  {', '.join(data['refused']) or '(none)'}",
        f"version:  {data['version'] if data['version'] is not None else '(none)'}",
    ]
    registry = data.get("registry")
    if registry is not None:
        lines.append(f"registry version now: {registry['version'] or '(none)'}")
        if registry["stale"] is not None:
            lines.append(f"stale:    {', '.join(registry['stale']) or '(none)'}")
            lines.append(f"undecided: {', '.join(registry['undecided']) or '(none)'}")
    print("\n".join(lines))
    return status


# -- log --------------------------------------------------------------------------------------

_LOG_TARGET = ("a database URL (it contains '://', e.g. postgresql+psycopg://user@host/db; "
               "needs consentguard-middleware[postgres]) or a SQLite file")


def _add_log_parser(sub: Any) -> None:
    log = sub.add_parser(
        "log", help="export, prune or summarise the proof-of-consent log",
        description=f"Work on a proof-of-consent store. URL|FILE is {_LOG_TARGET}.")
    actions = log.add_subparsers(dest="log_command", metavar="ACTION", required=True)
    export = actions.add_parser(
        "export", help="print stored consent records as JSON lines",
        description="Print the stored consent records, oldest first, one JSON object a line.")
    export.add_argument("target", metavar="URL|FILE", help="the consent log")
    _period_arguments(export)
    export.add_argument("--consent-id", help="only the records of one consent id")
    prune = actions.add_parser(
        "prune", help="delete records older than the retention period",
        description="Delete the records older than --days.")
    prune.add_argument("target", metavar="URL|FILE", help="the consent log")
    prune.add_argument("--days", type=_positive_days,
                       help="retention in days (default: 1825, five years)")
    stats = actions.add_parser(
        "stats", help="what visitors chose, per day: a table, or an HTML page with --html",
        description="Per UTC day: the share of choices that accept all, reject all, "
        "customise or withdraw, the acceptance rate of each category, the share of "
        "Global Privacy Control requests and the registry versions seen.")
    stats.add_argument("target", metavar="URL|FILE", help="the consent log")
    _period_arguments(stats)
    stats.add_argument("--html", metavar="FILE",
                       help="also write a self-contained HTML page with charts to FILE")
    stats.add_argument("--title", default="Consent choices", help="the HTML page's heading")
    log.set_defaults(run=_run_log)


def _period_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", type=_moment, metavar="DATE",
                        help="only records from this date/time on (ISO 8601; UTC if no zone)")
    parser.add_argument("--until", type=_moment, metavar="DATE",
                        help="only records before this date/time (ISO 8601; UTC if no zone)")


def _moment(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be an ISO date such as 2026-01-31 or 2026-01-31T12:00, not {text!r}"
        ) from None


def _positive_days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        days = 0
    if days < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of days, 1 or more, not {text!r}")
    return days


def _run_log(args: argparse.Namespace) -> int:
    from .log import open_log
    from .log._record import DEFAULT_RETENTION

    target: str = args.target
    if "://" not in target and _missing("log", target):
        return 2
    days = getattr(args, "days", None)
    retention = DEFAULT_RETENTION if days is None else timedelta(days=days)
    try:
        store = open_log(target, retention=retention)
    except ModuleNotFoundError as exc:
        _error("log", f"a database URL needs the package {exc.name!r}, which is not installed. "
               "Fix: pip install 'consentguard-middleware[postgres]'.")
        return 2
    except Exception as exc:  # a bad URL, a server that cannot be reached, a locked file
        _error("log", f"cannot open the consent log: {type(exc).__name__}: {exc}")
        return 2
    try:
        if args.log_command == "prune":
            print(f"deleted {store.prune()} record(s) older than {retention.days} days")
            return 0
        records = store.records(since=args.since, until=args.until,
                                consent_id=getattr(args, "consent_id", None))
        if args.log_command == "export":
            for record in records:
                print(json.dumps(record.to_json(), sort_keys=True))
            return 0
        from .log.stats import compute, format_table, render_html

        stats = compute(records)
        sys.stdout.write(format_table(stats))
        if args.html:
            return _write("log stats", render_html(stats, title=args.title), args.html)
        return 0
    finally:
        store.close()


# -- audit ------------------------------------------------------------------------------------


def _add_audit_parser(sub: Any) -> None:
    audit = sub.add_parser(
        "audit", help="crawl a WSGI/ASGI app in-process and report undeclared or leaking cookies")
    audit.add_argument("app", metavar="APP",
                       help="the WSGI or ASGI app as module:attribute (like uvicorn), "
                       "for example myproject.web:app; the current directory is importable")
    audit.add_argument("--registry", "-r", metavar="FILE",
                       help="the cookie registry (.toml or .json); default: the registry of "
                       "the app's own ConsentGuard, else none (every cookie undeclared)")
    audit.add_argument("--path", dest="paths", action="append", metavar="PATH",
                       help="a path to start from; repeat for several (default: /)")
    audit.add_argument("--crawl", type=_non_negative, default=0, metavar="N",
                       help="follow same-site links of HTML pages to at most N more pages "
                       "(default: 0)")
    audit.add_argument("--cookie", dest="cookies", action="append", type=_cookie_option,
                       metavar="NAME=VALUE",
                       help="send this cookie with every request (a login session); repeat "
                       "for several")
    audit.add_argument("--header", dest="headers", action="append", type=_header_option,
                       metavar="'NAME: VALUE'",
                       help="send this header with every request (Authorization); repeat "
                       "for several")
    audit.add_argument("--format", choices=("text", "json"), default="text",
                       help="report format (default: text)")
    audit.add_argument("-o", "--output", metavar="FILE",
                       help="write the report to FILE instead of standard output")
    audit.add_argument("--base-url", default=None, metavar="URL",
                       help="scheme and host the requests are made for "
                       "(default: https://localhost)")
    audit.add_argument("--factory", action="store_true",
                       help="APP is a function that returns the app")
    audit.add_argument("--progress", action="store_true",
                       help="print a line per page on standard error (default: only when "
                       "standard error is a terminal)")
    audit.set_defaults(run=_run_audit)


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _cookie_option(text: str) -> tuple[str, str]:
    from .audit import check_cookie

    return _pair_option(text, "=", "NAME=VALUE", check_cookie)


def _header_option(text: str) -> tuple[str, str]:
    from .audit import check_header

    return _pair_option(text, ":", "'Name: value'", check_header)


def _pair_option(text: str, separator: str, form: str,
                 check: Callable[[str, str], None]) -> tuple[str, str]:
    """``NAME<separator>VALUE``, stripped and checked, or an argparse usage error."""
    from .audit import AuditError

    name, sep, value = (part.strip() for part in text.partition(separator))
    try:
        if not sep:
            raise AuditError(f"{text!r} is not {form}")
        check(name, value)
    except AuditError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return name, value


class _DropAll(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


@contextlib.contextmanager
def _quiet_guard_logs() -> Iterator[None]:
    # The app's guard logs every blocked cookie; the report already says it all.
    logger = logging.getLogger("consentguard")
    dropper = _DropAll()
    logger.addFilter(dropper)
    try:
        yield
    finally:
        logger.removeFilter(dropper)


def _run_audit(args: argparse.Namespace) -> int:
    """``consentguard audit``: 0 clean, 1 errors found, 2 the audit could not run."""
    from .audit import DEFAULT_BASE_URL, AuditError, audit_app, load_app
    from .exceptions import RegistryError
    from .registry import Registry

    stderr = sys.stderr
    show = args.progress or stderr.isatty()

    def progress(line: str) -> None:
        print(line, file=stderr, flush=True)

    try:
        registry = Registry.load(args.registry) if args.registry else None
        # The app's own prints must not end up in a JSON report on stdout.
        with _quiet_guard_logs(), contextlib.redirect_stdout(stderr):
            app = load_app(args.app, factory=args.factory)
            report = audit_app(app, registry=registry, paths=args.paths or ("/",),
                               crawl=args.crawl, progress=progress if show else None,
                               base_url=args.base_url or DEFAULT_BASE_URL, name=args.app,
                               cookies=dict(args.cookies or ()), headers=args.headers or ())
    except RegistryError as exc:
        print(f"consentguard audit: cannot use the registry: {_one_line(exc)}", file=stderr)
        return 2
    except AuditError as exc:
        print(f"consentguard audit: {_one_line(exc)}", file=stderr)
        return 2
    if args.format == "json":
        text = json.dumps(report.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    else:
        text = report.to_text()
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"consentguard audit: cannot write {args.output}: {exc.strerror}", file=stderr)
            return 2
    else:
        sys.stdout.write(text)
    return report.exit_code


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
