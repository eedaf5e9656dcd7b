"""Serve a built site on 127.0.0.1 with the standard library (nothing to install, local only)."""

from __future__ import annotations

import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ..errors import DKNBenchError


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


def make_server(site: str | Path, port: int = 0, quiet: bool = False) -> ThreadingHTTPServer:
    """An HTTP server for ``site`` bound to 127.0.0.1 (port 0 = any free port; read
    ``server.server_address[1]``). The caller runs ``serve_forever`` and ``shutdown``."""
    site = Path(site)
    if not 0 <= port <= 65535:  # socket.bind raises OverflowError, not OSError, past this range
        raise DKNBenchError(f"--port {port}: must be in 0..65535 (0 = any free port)")
    if not (site / "index.html").is_file():
        raise DKNBenchError(f"{site}: no index.html; build it first with `dknbench leaderboard build`")
    handler = functools.partial(_QuietHandler if quiet else SimpleHTTPRequestHandler, directory=str(site))
    try:
        return ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as error:
        raise DKNBenchError(f"--port {port}: cannot listen on 127.0.0.1 ({error.strerror})") from None


def serve(site: str | Path, port: int = 8000) -> None:
    """Serve until interrupted."""
    server = make_server(site, port)
    print(f"serving {site} at http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    finally:
        server.server_close()
