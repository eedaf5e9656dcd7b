"""`dknbench download [MODEL]`: fetch, verify and convert a zoo model into the cache now."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("download", help="fetch, verify and convert a zoo model into the cache "
                                               "(dknbench list models shows them)")
    p.add_argument("model", nargs="?", default="smollm2-135m")
    p.set_defaults(func=main)


def main(args) -> int:
    from ..errors import UnknownNameError
    from ..models import EMBEDDED_MODELS, ensure_embedded

    if args.model not in EMBEDDED_MODELS:
        raise UnknownNameError("zoo model", args.model, EMBEDDED_MODELS)
    print(ensure_embedded(args.model))
    return 0
