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
        from ..models import EMBEDDED_MODELS, supported_model_types

        for name, spec in EMBEDDED_MODELS.items():
            print(f"{name:16s} [embedded, default] {spec.description}")
        print(f"{'<hub id or path>':16s} any causal or masked LM of type: {', '.join(supported_model_types())}")
    else:
        from data_builders import BUILDERS

        for entry in BUILDERS.entries():
            print(f"{entry.name:20s} {entry.description}")
    return 0
