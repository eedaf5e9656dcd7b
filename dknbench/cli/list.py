"""`dknbench list tasks|methods|models|builders`"""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("list", help="list tasks, methods, models or data builders")
    p.add_argument("what", choices=["tasks", "methods", "models", "builders"])
    p.add_argument("--include-path", action="append", default=[])
    p.set_defaults(func=main)


def main(args) -> int:
    if args.what == "tasks":
        from ..tasks import discover_tasks, task_origin

        for name, config in sorted(discover_tasks(args.include_path).items()):
            print(f"{name:28s} [{config.method_kind}] ({task_origin(config)}) {config.description}")
    elif args.what == "methods":
        from ..dkn import DKN_METHODS
        from ..localization import LOCALIZERS

        for kind, registry in (("localizer", LOCALIZERS), ("dkn", DKN_METHODS)):
            for entry in registry.entries():
                print(f"{entry.name:16s} [{kind}] {entry.description}")
    elif args.what == "models":
        from ..models import EMBEDDED_MODELS
        from ..models.families import FAMILIES, MOE_FIELDS
        from ..models.loading import TINY_MODELS
        from ..models.tiny import REFUSED

        for name, spec in EMBEDDED_MODELS.items():
            print(f"{name:16s} [embedded, default] {spec.description}")
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

        for entry in BUILDERS.entries(load=True):
            print(f"{entry.name:20s} {entry.description}")
    return 0
