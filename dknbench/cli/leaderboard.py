"""`dknbench leaderboard build|serve`: the static results site."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser("leaderboard", help="build or serve the static leaderboard site",
                                   description="Build a static HTML leaderboard from run directories "
                                               "or a results dataset, or serve a built one locally.")
    commands = parser.add_subparsers(dest="leaderboard_command", metavar="ACTION")

    build = commands.add_parser("build", help="render the site",
                                description="Render index.html, one page per task, figures and "
                                            "static assets into SITE.")
    build.add_argument("--results", required=True, metavar="DIR",
                       help="a folder of run directories, or a results dataset folder "
                            "(written by `dknbench results --output`)")
    build.add_argument("--output", required=True, metavar="SITE", help="folder to write the site into")
    build.add_argument("--title", default="dknbench leaderboard", help="page title")
    build.set_defaults(func=_build)

    serve = commands.add_parser("serve", help="serve a built site on 127.0.0.1")
    serve.add_argument("site", metavar="SITE", help="the folder given to `build --output`")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = any free port)")
    serve.set_defaults(func=_serve)

    parser.set_defaults(func=_no_action)


def _no_action(args: argparse.Namespace) -> int:
    from ..errors import DKNBenchError

    raise DKNBenchError("leaderboard: choose an action, build or serve; see `dknbench leaderboard --help`")


def _build(args: argparse.Namespace) -> int:
    from ..leaderboard import build_site

    index = build_site(args.results, args.output, title=args.title)
    print(f"wrote {index}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from ..leaderboard import serve

    serve(args.site, args.port)
    return 0
