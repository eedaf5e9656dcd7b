"""The `dknbench` command line.

Each module in this package defines ``register(subparsers)`` that adds one sub-command and sets
``func`` on it; the modules are discovered by importing every module of this package, as the
registries find their members (dknbench/registry.py), so a new command is a new file.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import DKNBenchError
from ..registry import import_package_modules


class OneLineParser(argparse.ArgumentParser):
    """argparse's usage errors (missing or unknown argument, `--limit abc`, a bad choice) as the
    one ``dknbench: error:`` line and exit 2 of every other user error (issue 16), not the usage
    block plus an error line; the sub-commands' parsers inherit it."""

    def error(self, message: str):
        command = self.prog.partition(" ")[2]
        where = f"{command}: " if command else ""
        help_hint = f"dknbench {command} --help" if command else "dknbench --help"
        self.exit(2, f"dknbench: error: {where}{message}; see `{help_hint}`\n")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = OneLineParser(
        prog="dknbench", description="Benchmark for knowledge neurons and degenerate knowledge neurons."
    )
    parser.add_argument("--version", action="version", version=f"dknbench {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error (also accepted after the command)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in import_package_modules(__name__):  # the registries' discovery (dknbench/registry.py)
        if hasattr(module, "register"):
            module.register(subparsers)
    return parser


# Exceptions that bad input raises from the libraries (a file that is missing, unreadable, not
# UTF-8, corrupt JSON/YAML/parquet): one line and exit 2 like a DKNBenchError; --debug re-raises.
USER_ERRORS = (OSError, UnicodeError, ValueError, EOFError)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = [*(sys.argv[1:] if argv is None else argv)]  # (`list` here is the cli.list module)
    debug = "--debug" in argv
    try:
        args = parser.parse_args([a for a in argv if a != "--debug"])
    except SystemExit as done:  # --help, --version, or OneLineParser.error: its exit code
        return done.code if isinstance(done.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        print("dknbench: error: no command given; choose one of the commands above", file=sys.stderr)
        return 2
    if not getattr(args, "verbose", False):
        from ._quiet import quiet_library_bars

        quiet_library_bars()
    try:
        return int(args.func(args) or 0)
    except DKNBenchError as error:
        if debug:
            raise
        print(f"dknbench: error: {error}", file=sys.stderr)
        return error.exit_code
    except USER_ERRORS as error:
        if debug:
            raise
        first = (str(error).strip().splitlines() or [""])[0]
        print(f"dknbench: error: {type(error).__name__}: {first} (--debug shows the traceback)",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dknbench: interrupted; finished work is saved, rerun the same command to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
