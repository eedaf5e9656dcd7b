"""`dknbench run --task T --method M[,M2...] ...`"""

from __future__ import annotations

import sys

from ..errors import ConfigError
from ..io import read_json


def register(subparsers) -> None:
    p = subparsers.add_parser("run", help="run a task with one or more methods",
                              description="Run a task (tasks/*.yaml) with one or more methods on a model.")
    p.add_argument("--task", required=True, help="task name (see `dknbench list tasks`)")
    p.add_argument("--method", default="", help="method name(s), comma-separated; a variant sets "
                   "parameters: atp[direction=corrupt]; a user's class: file.py:Class beside the task "
                   "YAML; default: the task's")
    p.add_argument("--model", default="smollm2-135m", help="embedded model name, local folder or Hub id")
    p.add_argument("--dataset", default=None, help="builtin, a built dataset folder, a raw ParaRel folder or a Hub id")
    p.add_argument("--limit", type=int, default=None, help="use the first N facts, in a seeded shuffle, that meet the task's requirements "
                        "(the others are counted as passed_over)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--output", default=None, help="run folder (default: runs/<task>/<model>/<methods>-seed<S>-<hash>)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a task option (repeatable)")
    p.add_argument("--preset", default=None, help="a named option preset of the task (e.g. cpu, paper)")
    p.add_argument("--include-path", action="append", default=[], help="extra folder of task YAML files")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--dtype", default=None, help="float32 (default), bfloat16, float16")
    p.add_argument("--batch-size", type=int, default=128, help="rows per attribution batch")
    p.add_argument("--max-memory", default="auto",
                   help="memory an attribution may add, e.g. 8GB, 512MB, 2GiB; 'auto' (default): half of "
                        "the free RAM, or of the free VRAM on CUDA; 'none': only --batch-size bounds a batch")
    p.add_argument("--cache-dir", default=None, help="attribution cache folder")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the attribution cache")
    p.add_argument("--executor", choices=["local", "ray"], default="local")
    p.add_argument("--address", dest="ray_address", default=None, help="Ray cluster address")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--verbose", action="store_true",
                   help="also show the libraries' info messages and progress bars (transformers, datasets)")
    p.set_defaults(func=main)


def fail_fast_without_hub(model: str) -> None:
    """A Hub id that cannot be read (no network, not cached): the one-line error before the task,
    torch and transformers are imported (seconds on a busy machine)."""
    from pathlib import Path

    from ..hub import hub_access

    if model.startswith("tiny-") or Path(model).expanduser().exists() or hub_access(model) != "unreachable":
        return
    from ..models.loading import hub_cache_only  # knows the embedded names; raises for a Hub id

    hub_cache_only(model)


def main(args) -> int:
    fail_fast_without_hub(args.model)
    from ..harness import RunSpec, run
    from ..harness.report import print_summary
    from ..localization.memory import parse_memory

    import transformers

    if args.verbose:
        import datasets

        transformers.logging.set_verbosity_info()
        datasets.logging.set_verbosity_info()
    else:  # the run's own progress is the one line per fact; a weight-loading bar is noise in a log
        transformers.utils.logging.disable_progress_bar()

    from ..tasks.methods import split_methods

    methods = split_methods(args.method) if args.method.strip() else []
    if "" in methods:  # "ig," or ",": an empty name would silently fall back to the default
        raise ConfigError(f"--method {args.method!r}: empty method name; give names separated by "
                          "commas, e.g. ig,amig (or leave --method out for the task's default)")
    spec = RunSpec(task=args.task, methods=methods,
                   model=args.model, dataset=args.dataset, limit=args.limit, seed=args.seed,
                   output=args.output, overrides=args.overrides, preset=args.preset,
                   include_paths=args.include_path, device=args.device, dtype=args.dtype,
                   batch_size=args.batch_size, max_memory=parse_memory(args.max_memory), cache_dir=args.cache_dir, no_cache=args.no_cache,
                   executor=args.executor, ray_address=args.ray_address, quiet=args.quiet)
    path = run(spec)
    print_summary(read_json(path), sys.stdout)
    print(f"\nresults: {path.parent}")
    return 0
