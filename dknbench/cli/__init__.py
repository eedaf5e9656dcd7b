"""The `dknbench` command line.

Each module in this package defines ``register(subparsers)`` that adds one sub-command and sets
``func`` on it; the modules are discovered by scanning this folder, so a new command is a new file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from ..errors import DKNBenchError


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="dknbench", description="Benchmark for knowledge neurons and degenerate knowledge neurons."
    )
    parser.add_argument("--version", action="version", version=f"dknbench {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "register"):
            module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except DKNBenchError as error:
        print(f"dknbench: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("dknbench: interrupted; finished work is saved, rerun the same command to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
