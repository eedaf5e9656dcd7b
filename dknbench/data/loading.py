"""``load_facts(spec)``: one entry point for every fact set a task can run on.

spec is one of
- ``builtin``: the package's fact set, ``dknbench/data/builtin/facts.jsonl`` (fact schema per line);
- a folder written by a data builder (parquet + README card), or by ``save_to_disk``;
- a raw ParaRel folder (patterns + T-REx facts; the ``pararel`` builder runs on it);
- a fact file (``.jsonl``/``.jsonl.gz``/``.parquet``) in the fact schema;
- a Hub dataset id ``org/name`` (``datasets.load_dataset``);
- ``build:NAME:SOURCE``: data builder NAME run on SOURCE (seed 42) into the dknbench cache folder
  ``datasets/NAME-<source hash>-seed42`` (reused when present), then read like a builder folder.
  A relative SOURCE that does not exist is looked up in the shared raw-data folder
  ($DKNBENCH_SHARED_DATA, else ``<checkout>/../shared/data``).
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import DKNBenchError
from ..io import read_jsonl
from ..paths import shared_data_dir
from .cards import read_card
from datasets import Value

from .schema import FACT_FEATURES, SLOT, Fact, fact_from_row
from ..selection import select_facts

BUILTIN = Path(__file__).resolve().parent / "builtin" / "facts.jsonl"
REQUIRED = ("id", "relation", "subject", "object", "queries")
LIST_FIELDS = tuple(name for name, feature in FACT_FEATURES.items() if not isinstance(feature, Value))
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
PREFERRED_SPLITS = ("test", "train", "validation")


def load_facts(spec: str, split: str | None = None, limit: int | None = None, seed: int = 42) -> list[Fact]:
    """Facts of ``spec`` (see the module doc). ``split`` picks a split of a multi-split set
    (default: the card's default split, the only split, or test/train/validation); ``limit``
    keeps that many facts, chosen and ordered exactly as ``run --limit`` does (``select_facts``)."""
    spec = str(spec)
    if spec.startswith(BUILD_PREFIX):
        facts = _read_folder(built_folder(spec), split, seed)
    elif spec == "builtin":
        facts = _read_fact_lines(BUILTIN, missing="the built-in fact set")
    else:
        path = Path(spec).expanduser()
        if path.is_file():
            facts = _read_file(path)
        elif path.is_dir():
            facts = _read_folder(path, split, seed)
        elif HUB_ID.match(spec):
            facts = _read_hub(spec, split)
        else:
            raise DKNBenchError(
                f"unknown fact set {spec!r}: expected 'builtin', a dataset folder, a raw ParaRel folder, "
                "a .jsonl/.parquet fact file, or a Hub dataset id org/name"
            )
    refuse_duplicate_ids(facts, [f"{spec} fact #{n + 1}" for n in range(len(facts))])  # ParaRel, builds
    if limit is not None:
        if limit < 1:
            raise DKNBenchError(f"limit must be a positive number of facts, got {limit}")
        facts = select_facts(facts, limit, seed)
    return facts


BUILD_PREFIX = "build:"
BUILD_SEED = 42


def built_folder(spec: str) -> Path:
    """The folder of a ``build:NAME:SOURCE`` spec, built into the cache on first use."""
    import hashlib

    from ..paths import cache_dir

    name, sep, source = spec[len(BUILD_PREFIX):].partition(":")
    if not name or not sep or not source:
        raise DKNBenchError(f"dataset spec {spec!r}: expected build:NAME:SOURCE")
    from data_builders import BUILDERS, build_dataset

    BUILDERS.entry(name)  # an unknown builder name is one clear error
    path = Path(source).expanduser()
    if not path.exists() and not path.is_absolute() and (shared_data_dir() / path).exists():
        path = shared_data_dir() / path
    if not path.exists():
        raise DKNBenchError(f"dataset spec {spec!r}: source {source!r} does not exist "
                            f"(neither here nor under {shared_data_dir()})")
    path = path.resolve()
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    folder = cache_dir() / "datasets" / f"{name}-{digest}-seed{BUILD_SEED}"
    if read_card(folder) is None:
        build_dataset(name, path, output=folder, seed=BUILD_SEED, overwrite=folder.exists())
    return folder


def refuse_duplicate_ids(facts: list[Fact], wheres: list[str]) -> list[Fact]:
    """Results, resume and the per-fact files name a fact by its id: two facts with one id (and
    one language: the multilingual sets share ids across languages) are refused, naming where
    both were read (``wheres[i]`` is where ``facts[i]`` was read)."""
    first: dict[tuple, int] = {}
    for number, fact in enumerate(facts):
        key = (fact.id, fact.language)
        if key in first:
            lang = f" (language {fact.language!r})" if fact.language else ""
            raise DKNBenchError(f"{wheres[number]}: fact id {fact.id!r}{lang} is already used by "
                                f"{wheres[first[key]]}; every fact needs its own id")
        first[key] = number
    return facts


def _read_rows(rows) -> list[Fact]:
    """Facts of ``(row, where)`` pairs, checked one by one and for repeated ids."""
    facts, wheres = [], []
    for row, place in rows:
        facts.append(_to_fact(row, place))
        wheres.append(place)
    return refuse_duplicate_ids(facts, wheres)


def _to_fact(row: dict, where: str) -> Fact:
    missing = [name for name in REQUIRED if name not in row or row[name] is None]
    if missing:
        raise DKNBenchError(f"{where}: not in the fact schema, missing {', '.join(missing)}")
    for name in FACT_FEATURES:
        value = row.get(name)
        if value is None:
            continue
        is_list = name in LIST_FIELDS
        if is_list and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise DKNBenchError(f"{where}: field {name!r} must be a list of strings, got {value!r}")
        if not is_list and not isinstance(value, str):
            raise DKNBenchError(f"{where}: field {name!r} must be a string, got {value!r}")
    check_fact_text(row, where)
    return fact_from_row(row)


MAX_QUERY_CHARS = 1000  # far above any cloze prompt; a longer one is a broken row, not a query


def check_fact_text(row: dict, where: str) -> None:
    """A fact the tasks can use: an answer, and queries with one [Y] slot of sane length."""
    if not row["id"].strip():  # results, resume and the per-fact files are keyed by the id
        raise DKNBenchError(f"{where}: field 'id' is empty; every fact needs an id")
    if not row["object"].strip():
        raise DKNBenchError(f"{where}: field 'object' is empty; every fact needs an answer")
    if not row["queries"]:
        raise DKNBenchError(f"{where}: field 'queries' is empty; give at least one query with {SLOT}")
    for query in row["queries"]:
        if query.count(SLOT) != 1:
            raise DKNBenchError(f"{where}: query {query[:60]!r} must contain {SLOT} exactly once")
        if len(query) > MAX_QUERY_CHARS:
            raise DKNBenchError(f"{where}: a query has {len(query)} characters; at most "
                                f"{MAX_QUERY_CHARS} allowed")


def check_answers(facts: list[Fact], tokenizer) -> None:
    """Refuse a fact whose answer the model's tokenizer turns into no token at all."""
    for fact in facts:
        if not tokenizer(" " + fact.object.strip(), add_special_tokens=False)["input_ids"]:
            raise DKNBenchError(f"fact {fact.id!r}: answer {fact.object!r} tokenizes to no token "
                                "for this model; fix or drop the fact")


def _read_fact_lines(path: Path, missing: str = "") -> list[Fact]:
    if not path.is_file():
        raise DKNBenchError(f"{missing or 'fact file'} {path} does not exist")
    try:
        facts = _read_rows(((row, f"{path}:{number}") for number, row in read_jsonl(path)))
    except UnicodeDecodeError as error:
        raise DKNBenchError(f"{path}: not UTF-8 text (byte {error.start}); fact files must be UTF-8") from None
    except EOFError:
        raise DKNBenchError(f"{path}: truncated gzip file") from None
    if not facts:
        raise DKNBenchError(f"{path}: no facts in this file")
    return facts


def _read_parquet(files: list[Path], where: str) -> list[Fact]:
    from ..io import read_parquet

    return _read_rows(((row, f"{file if len(files) > 1 else where} row {number}")
                       for file in files for number, row in enumerate(read_parquet(file).to_pylist())))


def _read_file(path: Path) -> list[Fact]:
    name = path.name
    if name.endswith((".jsonl", ".jsonl.gz")):
        return _read_fact_lines(path)
    if name.endswith(".parquet"):
        return _read_parquet([path], str(path))
    raise DKNBenchError(f"{path}: unsupported fact file; expected .jsonl, .jsonl.gz or .parquet")


def pick_split(available: list[str], split: str | None, default: str | None, where: str) -> str:
    if split is not None:
        if split not in available:
            raise DKNBenchError(f"{where} has no split {split!r}; available: {', '.join(available)}")
        return split
    if default in available:
        return default
    if len(available) == 1:
        return available[0]
    for name in PREFERRED_SPLITS:
        if name in available:
            return name
    raise DKNBenchError(f"{where} has several splits; choose one of: {', '.join(available)}")


def _card_splits(folder: Path, card: dict) -> dict[str, list[Path]]:
    """split -> parquet files, from the card's configs (fact splits only live in the default one)."""
    from ..io import inside

    where = f"{folder / 'README.md'} configs"
    configs = card.get("configs") or []
    if not isinstance(configs, list) or not all(isinstance(c, dict) for c in configs):
        raise DKNBenchError(f"{where}: must be a list of mappings (config_name, data_files), got {configs!r}")
    splits: dict[str, list[Path]] = {}
    for config in configs:
        files = config.get("data_files") or []
        for entry in files if isinstance(files, list) else []:
            if not isinstance(entry, dict):
                raise DKNBenchError(f"{where}: data_files entry {entry!r} must be a mapping with split and path")
            paths = entry.get("path")
            paths = paths if isinstance(paths, list) else [paths]
            # a card is untrusted: each path is a string naming a file inside the folder
            splits.setdefault(str(entry.get("split", "train")), []).extend(
                inside(folder, p, f"{where} data_files") for p in paths if p is not None)
    return splits


def _read_folder(folder: Path, split: str | None, seed: int) -> list[Fact]:
    card = read_card(folder)
    if card and card.get("configs"):
        splits = _card_splits(folder, card)
        default = (card.get("dknbench") or {}).get("default_split")
        chosen = pick_split(sorted(splits), split, default, str(folder))
        missing = [str(p) for p in splits[chosen] if not p.is_file()]
        if missing:
            raise DKNBenchError(f"{folder}: split {chosen!r} lists missing file(s) {', '.join(missing)}")
        return _read_parquet(splits[chosen], f"{folder} split {chosen}")
    if (folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file():
        import datasets

        loaded = datasets.load_from_disk(str(folder))
        return _from_hf(loaded, split, str(folder))
    from data_builders.pararel import is_pararel_folder, pararel_facts

    if is_pararel_folder(folder):
        return pararel_facts(folder, seed=seed)
    raise DKNBenchError(
        f"{folder} is not a fact set: expected a builder's folder (README.md card + data/*.parquet), "
        "a save_to_disk folder, or a raw ParaRel folder"
    )


def _from_hf(loaded, split: str | None, where: str) -> list[Fact]:
    import datasets

    if isinstance(loaded, datasets.DatasetDict):
        loaded = loaded[pick_split(sorted(loaded), split, None, where)]
    return _read_rows(((row, f"{where} row {i}") for i, row in enumerate(loaded)))


def _read_hub(repo_id: str, split: str | None) -> list[Fact]:
    import datasets

    from ..hub import offline_mode, unreachable_reason, unreachable_text

    if not offline_mode() and unreachable_reason() is not None:  # one line now, not a minute of retries
        raise DKNBenchError(unreachable_text(f"Hub dataset {repo_id!r}"))
    try:
        loaded = datasets.load_dataset(repo_id)
    except Exception as error:  # the Hub client raises many types; one clear line for the user
        raise DKNBenchError(f"could not load Hub dataset {repo_id!r}: {type(error).__name__}: "
                            f"{str(error).splitlines()[0] if str(error) else ''}") from None
    return _from_hf(loaded, split, repo_id)
