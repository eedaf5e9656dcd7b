"""`dknbench publish DIR --repo-id ORG/NAME [--private] [--dry-run]`: push a built dataset folder.

The token comes from HF_TOKEN / HUGGING_FACE_HUB_TOKEN or the user's `huggingface-cli login`;
it is never printed or written. --dry-run lists what would be uploaded and needs no token.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import DKNBenchError

REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")


def check_repo_id(repo_id: str) -> str:
    if not REPO_ID.match(repo_id) or "--" in repo_id or ".." in repo_id or repo_id.endswith(".git"):
        raise DKNBenchError(f"repo id {repo_id!r} must look like ORG/NAME (letters, digits, '-', '_', '.')")
    return repo_id


def find_token() -> str:
    import huggingface_hub

    token = os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN") or huggingface_hub.get_token()
    if not token:
        raise DKNBenchError("no Hugging Face token: set HF_TOKEN or run `huggingface-cli login` "
                            "(or use --dry-run)")
    return token


def dataset_files(folder: Path) -> list[tuple[str, int]]:
    """(relative path, size) of the files to upload; hidden files (temporary builds) are left out.
    A symlink whose target lies outside ``folder`` is refused: the upload would follow it and
    publish a local file."""
    root = folder.resolve()
    files = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_symlink():
            try:
                target = path.resolve(strict=True)
            except (OSError, RuntimeError):  # a loop (RuntimeError before Python 3.13) or dangling
                raise DKNBenchError(f"{path}: symlink to {os.readlink(path)!r} leads nowhere (a loop or a "
                                    "missing target); remove it") from None
        if path.is_symlink() and not target.is_relative_to(root):
            raise DKNBenchError(f"{path}: symlink to {os.readlink(path)!r} points outside {folder}; "
                                "remove it or copy the file in")
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            files.append((relative.as_posix(), path.stat().st_size))
    return files


def check_folder(folder: Path) -> list[tuple[str, int]]:
    if not folder.is_dir():
        raise DKNBenchError(f"{folder} is not a folder")
    if not (folder / "README.md").is_file():
        raise DKNBenchError(f"{folder} has no README.md dataset card; build it with `dknbench build-data`")
    return dataset_files(folder)


def upload(folder: Path, repo_id: str, files: list[tuple[str, int]], private: bool, dry_run: bool,
           repo_type: str = "dataset", what: str = "dataset") -> int:
    """Upload ``folder`` to a Hub repository (created if missing): a dataset, or a static Space for
    the leaderboard. ``dry_run`` lists the files and writes nothing; the token comes from the
    environment and is never printed."""
    if dry_run:
        print(f"would upload {len(files)} file(s) to {what} {repo_id} ({'private' if private else 'public'}):")
        for name, size in files:
            print(f"  {size:>12,d}  {name}")
        print(f"  {sum(size for _, size in files):>12,d}  total bytes")
        return 0
    token = find_token()
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi(token=token)
    space = {"space_sdk": "static"} if repo_type == "space" else {}
    try:
        url = api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True, **space)
        api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type=repo_type,
                          commit_message=f"Upload {what} built with dknbench", ignore_patterns=[".*", "**/.*"])
    except HfHubHTTPError as error:
        raise DKNBenchError(f"upload to {what} {repo_id} failed: {str(error).splitlines()[0]}") from None
    print(f"published {len(files)} file(s) to {url}")
    return 0


def run(args) -> int:
    folder = Path(args.dir)
    repo_id = check_repo_id(args.repo_id)
    return upload(folder, repo_id, check_folder(folder), args.private, args.dry_run)


def register(subparsers) -> None:
    parser = subparsers.add_parser("publish", help="upload a built dataset folder to the Hugging Face Hub",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("dir", help="folder written by `dknbench build-data`")
    parser.add_argument("--repo-id", required=True, help="dataset repository ORG/NAME")
    parser.add_argument("--private", action="store_true", help="create the repository as private")
    parser.add_argument("--dry-run", action="store_true", help="list the files and sizes; upload nothing")
    parser.set_defaults(func=run)
