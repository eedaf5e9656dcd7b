"""`dknbench build-data NAME --source PATH [--output DIR] [--seed S] [--option key=value ...]`."""

from __future__ import annotations

import yaml

from ..errors import DKNBenchError
from ..io import load_yaml


def parse_options(items: list[str] | None) -> dict:
    """``key=value`` pairs; values that YAML reads as numbers, booleans or null are typed."""
    options = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise DKNBenchError(f"--option expects key=value, got {item!r}")
        try:
            parsed = load_yaml(value) if value.strip() else ""
        except yaml.YAMLError:
            parsed = value
        # numbers, booleans and null are typed; everything else stays the raw text (spaces kept,
        # "a,b" lists are split by the builders themselves)
        typed = parsed is None or (isinstance(parsed, (int, float, bool)) and not isinstance(parsed, str))
        options[key.strip()] = parsed if typed else value
    return options


def check_output(output: str | None, overwrite: bool) -> None:
    """Before the build: --output '' (it meant the cache), a file, or a folder dknbench did not
    write (a home folder, a checkout: no ``.dknbench`` marker) is refused, --overwrite or not."""
    from ..io import check_replaceable

    if output is None:
        return
    if not output.strip():
        raise DKNBenchError("--output is empty; give a folder, or leave --output out for the dknbench cache")
    check_replaceable(output, "--output", overwrite)


def check_source(source: str) -> None:
    """A --source that exists is a regular file or a folder: a FIFO or a device would block the
    build forever or never end. (A name that does not exist may be a fact-set spec: builtin, ...)"""
    from pathlib import Path

    path = Path(source).expanduser()
    if path.exists() and not (path.is_file() or path.is_dir()):
        raise DKNBenchError(f"--source {source}: not a regular file or folder (a FIFO, socket or device); "
                            "give the raw data file or folder")


def run(args) -> int:
    import inspect

    from data_builders import BUILDERS, build_dataset

    builder = BUILDERS.get(args.name)  # unknown name -> DKNBenchError listing the builders
    check_output(args.output, args.overwrite)
    check_source(args.source)
    options = parse_options(args.option)
    for reserved in ("source", "seed"):  # the builder gets them from --source / --seed
        if reserved in options:
            raise DKNBenchError(f"--option {reserved}=...: {reserved} is not a builder option; "
                                f"give it as --{reserved}")
    accepted = inspect.signature(builder).parameters
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        allowed = [p for p in accepted if p not in ("source", "seed")]
        raise DKNBenchError(f"builder {args.name!r} has no option(s) {', '.join(unknown)}; "
                            f"options: {', '.join(allowed) or '(none)'}")
    output = build_dataset(args.name, args.source, output=args.output, seed=args.seed,
                           overwrite=args.overwrite, **options)
    print(output)
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "build-data", help="build a dataset (parquet + dataset card) from raw data",
        description="Run a data builder on raw data and write a folder that datasets.load_dataset reads.",
    )
    # the builders are listed by `dknbench list builders`: naming them here would import every
    # builder module (and `datasets`) on each start of the CLI
    parser.add_argument("name", help="builder name (dknbench list builders)")
    parser.add_argument("--source", required=True, help="raw data folder/file, or a fact set for derived builders")
    parser.add_argument("--output", default=None, help="output folder (default: the dknbench cache)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--option", action="append", metavar="KEY=VALUE", help="builder option (repeatable)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    parser.set_defaults(func=run)
