"""The demo site: ``consentguard demo`` (or ``python -m consentguard.demo``).

Serves :func:`consentguard.demo.site.create_app` with a real uvicorn server on
127.0.0.1 and prints its URL. Needs the ``demo`` extra:
``pip install 'consentguard-middleware[demo]'``.
This module imports no web framework, so the CLI can load it cheaply.
"""

from __future__ import annotations

import argparse
import socket
import sys

__all__ = ["add_arguments", "main", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the demo's options (``--host``, ``--port``) to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000,
                        help="port to listen on (default: 8000; 0 picks a free one)")


def run(args: argparse.Namespace) -> int:
    """Serve the demo with uvicorn until interrupted, after printing its URL.

    :returns: 0 after a clean stop (Ctrl+C), 1 when the port is taken, 2 when a
        dependency is missing (as the ``consentguard`` command does for a command that is
        not installed).
    """
    try:
        import uvicorn

        from .site import create_app
    except ImportError as exc:
        print(f"consentguard demo: needs the package {exc.name!r}, which is not installed. "
              "Fix: pip install 'consentguard-middleware[demo]'.", file=sys.stderr)
        return 2
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        sock.close()
        print(f"consentguard demo: cannot listen on {args.host}:{args.port} ({exc.strerror}). "
              "Fix: pass another --port (0 picks a free one).", file=sys.stderr)
        return 1
    port = sock.getsockname()[1]
    shown = f"[{args.host}]" if family == socket.AF_INET6 else args.host
    print(f"consentguard demo running at http://{shown}:{port}/", flush=True)
    print(f"  (also http://www.demo.test:{port}/ if *.demo.test resolves to {args.host}: "
          "cookies on a parent domain) — Ctrl+C to stop", flush=True)
    config = uvicorn.Config(create_app(), log_level="warning", lifespan="off")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # Ctrl+C: uvicorn has shut down cleanly, then re-raised it
        print("consentguard demo stopped", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m consentguard.demo [--host H] [--port P]``."""
    parser = argparse.ArgumentParser(prog="consentguard demo",
                                     description="Run the consentguard demo site.")
    add_arguments(parser)
    return run(parser.parse_args(argv))
