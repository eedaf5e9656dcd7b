"""`dknbench leaderboard build|serve|publish`: the static results site, and its upload to a
static Hugging Face Space (the token from HF_TOKEN / `huggingface-cli login`, never printed)."""

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

    publish = commands.add_parser(
        "publish", help="upload a built site to a static Hugging Face Space",
        description="Upload SITE (written by `leaderboard build`) to the static Space USER/NAME, creating "
                    "it if missing. The token comes from HF_TOKEN or `huggingface-cli login`.")
    publish.add_argument("site", metavar="SITE", help="the folder given to `build --output`")
    publish.add_argument("--space-id", required=True, metavar="USER/NAME", help="the Space to upload to")
    publish.add_argument("--private", action="store_true", help="create the Space as private")
    publish.add_argument("--dry-run", action="store_true", help="list the files and the Space; upload nothing")
    publish.set_defaults(func=_publish)

    parser.set_defaults(func=_no_action)


def _no_action(args: argparse.Namespace) -> int:
    from ..errors import DKNBenchError

    raise DKNBenchError("leaderboard: choose an action, build, serve or publish; see `dknbench leaderboard --help`")


def _build(args: argparse.Namespace) -> int:
    from ..leaderboard import build_site

    index = build_site(args.results, args.output, title=args.title)
    print(f"wrote {index}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from ..leaderboard import serve

    serve(args.site, args.port)
    return 0


def _publish(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import DKNBenchError
    from .publish import check_repo_id, dataset_files, upload

    site = Path(args.site)
    space_id = check_repo_id(args.space_id)
    if not site.is_dir():
        raise DKNBenchError(f"{site} is not a folder")
    if not (site / "index.html").is_file():
        raise DKNBenchError(f"{site} has no index.html; build the site with `dknbench leaderboard build`")
    files = dataset_files(site)  # hidden files left out, symlinks out of the folder refused
    return upload(site, space_id, files, args.private, args.dry_run, repo_type="space", what="static Space")
