"""`dknbench validate FILE.yaml [...]`: check task files without running them."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("validate", help="check task YAML files (file:line errors)",
                              description="Check task YAML files: fields, types, presets, includes, "
                                          "and that the class they name can be loaded.")
    p.add_argument("files", nargs="+", help="task YAML file(s)")
    p.set_defaults(func=main)


def main(args) -> int:
    from ..tasks import load_task_config, task_class

    for file in args.files:
        config = load_task_config(file)  # a ConfigError ends the command with file:line, exit 2
        cls = task_class(config)
        print(f"{file}: ok (task {config.task!r}, class {cls.__module__}.{cls.__name__}, "
              f"{len(config.options)} options, presets: {', '.join(config.presets) or 'none'})")
    return 0
