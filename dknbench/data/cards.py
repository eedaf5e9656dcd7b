"""Write a DatasetDict as a Hub-ready folder: parquet shards per split, a README dataset card and
``croissant.json`` (Croissant + Responsible-AI metadata from the same facts, ``data/croissant.py``).

The folder loads unchanged with ``datasets.load_dataset(folder)`` and pushes to the Hub as is.
Splits whose features differ from the first split's (e.g. narrative texts beside fact splits) go
into their own config, because one config must have one schema for all its splits.
The folder is written to a temporary sibling and renamed into place at the end, so an error never
leaves a half-written dataset behind (``io.replace_folder``: it also holds the folder's writer lock
and replaces only a folder dknbench wrote, recognised by its ``.dknbench`` marker).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ..errors import DKNBenchError
from ..io import load_yaml, read_text, replace_folder

DATA_DIR = "data"


def shard_path(split: str) -> str:
    return f"{DATA_DIR}/{split}-00000-of-00001.parquet"


def _config_groups(dataset_dict, configs: dict | None) -> dict[str, list[str]]:
    """config name -> its splits. Explicit ``configs`` wins; the rest is grouped by features."""
    splits = list(dataset_dict)
    groups: dict[str, list[str]] = {}
    assigned = set()
    for name, names in (configs or {}).items():
        unknown = [s for s in names if s not in dataset_dict]
        if unknown:
            raise ValueError(f"config {name!r} names unknown splits {unknown}")
        groups[name] = list(names)
        assigned.update(names)
    rest = [s for s in splits if s not in assigned]
    if rest:
        first = dataset_dict[rest[0]].features
        groups.setdefault("default", [])
        for split in rest:
            if dataset_dict[split].features == first:
                groups["default"].append(split)
            else:
                groups[split] = [split]
    for name, names in groups.items():
        features = {repr(dataset_dict[s].features) for s in names}
        if len(features) != 1:
            raise ValueError(f"config {name!r} mixes splits with different features: {names}")
    # the default config first: load_dataset(folder) without a config name reads it
    return dict(sorted(groups.items(), key=lambda item: item[0] != "default"))


def _dataset_info(dataset_dict, groups, sizes) -> list[dict]:
    import datasets

    infos = []
    for name, splits in groups.items():
        split_dict = datasets.SplitDict()
        for split in splits:
            split_dict.add(
                datasets.SplitInfo(split, num_bytes=sizes[split], num_examples=len(dataset_dict[split]))
            )
        info = datasets.DatasetInfo(features=dataset_dict[splits[0]].features, splits=split_dict)
        infos.append({"config_name": name, **info._to_yaml_dict()})
    return infos


# the Hub's size buckets (https://huggingface.co/docs/hub/datasets-cards): upper bound -> label
SIZE_CATEGORIES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                   (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]
# names of the Hub license ids the builders declare; "other" is explained by license_details
LICENSE_NAMES = {"cc-by-4.0": "CC BY 4.0", "cc-by-nc-4.0": "CC BY-NC 4.0", "cc-by-sa-3.0": "CC BY-SA 3.0",
                 "gfdl": "GNU Free Documentation License", "mit": "MIT", "apache-2.0": "Apache-2.0"}
DEFAULT_TASK_CATEGORIES = ["fill-mask", "text-generation"]  # cloze probing of masked and causal LMs


def size_category(rows: int) -> str:
    return next((label for bound, label in SIZE_CATEGORIES if rows < bound), "n>1T")


def suite_bibtex() -> str:
    from .. import __version__

    return ("@misc{dknbench,\n"
            "  title = {dknbench: a benchmark for knowledge neurons in language models},\n"
            "  author = {{dknbench contributors}},\n"
            f"  note = {{version {__version__}}},\n"
            "  year = {2026}\n"
            "}\n")


def license_name(license_) -> str:
    ids = license_ if isinstance(license_, list) else [license_]
    return "; ".join(LICENSE_NAMES.get(i, "see license_details") for i in ids)


def card_text(metadata: dict, body: str) -> str:
    """README.md text: ``metadata`` as the Hub's YAML header (huggingface_hub.DatasetCardData), then
    ``body``. Every dataset card of dknbench (built data, collected results) is written here."""
    from huggingface_hub import DatasetCard, DatasetCardData

    data = DatasetCardData(**metadata)
    return str(DatasetCard(f"---\n{data.to_yaml()}\n---\n\n{body.strip()}\n"))


def card_metadata(dataset_dict, card_info: dict, groups, sizes) -> dict:
    from .. import __version__

    configs = []
    for name, splits in groups.items():
        entry = {"config_name": name, "data_files": [{"split": s, "path": shard_path(s)} for s in splits]}
        if name == "default":
            entry["default"] = True
        configs.append(entry)
    rows = sum(len(split) for split in dataset_dict.values())
    metadata = {
        "pretty_name": card_info.get("pretty_name") or card_info.get("builder", "dknbench dataset"),
        "language": list(card_info.get("languages") or ["en"]),
        "license": card_info.get("license") or "unknown",
        "license_name": license_name(card_info.get("license") or "unknown"),
        "license_details": card_info.get("license_details") or "the source states no license",
        "task_categories": list(card_info.get("task_categories") or DEFAULT_TASK_CATEGORIES),
        "size_categories": [size_category(rows)],
        "tags": ["dknbench", "knowledge-neurons"],
        "citation": "\n".join(b for b in (card_info.get("citation"), suite_bibtex()) if b),
        "configs": configs,
        "dataset_info": _dataset_info(dataset_dict, groups, sizes),
        "dknbench": {
            "builder": card_info.get("builder", ""),
            "builder_version": card_info.get("builder_version", ""),
            "dknbench_version": __version__,
            "seed": card_info.get("seed"),
            "options": card_info.get("options") or {},
            "source": card_info.get("source", ""),
            "source_key": card_info.get("source_key", ""),
            "source_commits": card_info.get("source_commits") or [],
            "default_split": card_info.get("default_split") or next(iter(groups.values()))[0],
        },
    }
    return metadata


def render_body(metadata: dict, card_info: dict, dataset_dict, groups) -> str:
    meta = metadata["dknbench"]
    lines = [
        f"# {metadata['pretty_name']}",
        "",
        card_info.get("description", "").strip(),
        "",
        "Built by the dknbench data builder "
        f"`{meta['builder']}` (version {meta['builder_version']}, dknbench {meta['dknbench_version']}) "
        f"with seed {meta['seed']}. The same builder, source and seed give identical rows.",
        "",
        "## Loading",
        "",
        "```python",
        "import datasets",
    ]
    for name in groups:
        config = "" if name == "default" else f", {name!r}"
        lines.append(f"datasets.load_dataset(PATH_OR_REPO_ID{config})  # splits: {', '.join(groups[name])}")
    lines += ["```", "", "## Splits", "", "| config | split | rows |", "| --- | --- | --- |"]
    for name, splits in groups.items():
        lines += [f"| {name} | {split} | {len(dataset_dict[split])} |" for split in splits]
    lines += ["", "## Build options", "", "```yaml",
              yaml.safe_dump(meta["options"] or {}, sort_keys=True, allow_unicode=True).rstrip(), "```"]
    if card_info.get("fields"):
        lines += ["", "## Fields", "", card_info["fields"].strip()]
    if card_info.get("collection"):
        lines += ["", "## How the rows were made", "", card_info["collection"].strip()]
    if card_info.get("limitations"):
        lines += ["", "## Limitations", "", *[f"- {text}" for text in card_info["limitations"]]]
    lines += ["", "## Source", "", f"Built from `{meta['source']}`."]
    licenses = metadata["license"] if isinstance(metadata["license"], list) else [metadata["license"]]
    lines += ["", f"License: {', '.join(f'`{l}`' for l in licenses)} ({metadata['license_name']})."]
    lines += ["", f"License notes of the source (from its PROVENANCE.md): {metadata['license_details'].strip()}"]
    if card_info.get("provenance"):
        lines += ["", "Provenance of the source data, as recorded beside it:", "",
                  *[f"> {line}" if line else ">" for line in card_info["provenance"].strip().splitlines()]]
    lines += ["", "## Croissant", "", "`croissant.json` describes this folder in Croissant 1.1 with the "
              "Responsible-AI fields (data collection, limitations, personal information)."]
    lines += ["", "## Citation", "", "Cite the source data and dknbench:", "", "```bibtex",
              metadata["citation"].rstrip(), "```"]
    return "\n".join(lines).rstrip() + "\n"


def write_dataset(dataset_dict, output_dir: str | Path, card_info: dict | None = None,
                  overwrite: bool = False) -> Path:
    """Write ``dataset_dict`` to ``output_dir`` (parquet per split + README card + croissant.json),
    atomically.

    ``card_info`` keys (all optional): builder, builder_version, seed, options, source,
    source_key, source_commits, license (a Hub license id or a list), license_details,
    provenance (text), citation (BibTeX of the source), description, fields (markdown), pretty_name,
    languages, task_categories, default_split, collection, collection_type, limitations (croissant.json),
    configs (config name -> list of splits, for splits that need their own config).
    An existing non-empty ``output_dir`` is an error unless it holds dknbench's marker and
    ``overwrite`` is given.
    """
    from .croissant import write_croissant

    card_info = dict(card_info or {})
    output_dir = Path(output_dir)
    if not len(dataset_dict):
        raise DKNBenchError("nothing to write: the dataset has no splits")
    groups = _config_groups(dataset_dict, card_info.pop("configs", None))
    with replace_folder(output_dir, "build-data", what="output", overwrite=overwrite) as tmp:
        sizes = {}
        for split, dataset in dataset_dict.items():
            target = tmp / shard_path(split)
            target.parent.mkdir(parents=True, exist_ok=True)
            _to_parquet(dataset, target)
            sizes[split] = target.stat().st_size
        metadata = card_metadata(dataset_dict, card_info, groups, sizes)
        body = render_body(metadata, card_info, dataset_dict, groups)
        (tmp / "README.md").write_text(card_text(metadata, body), encoding="utf-8")
        write_croissant(dataset_dict, metadata, card_info, groups, tmp, {s: shard_path(s) for s in dataset_dict})
    return output_dir


def _to_parquet(dataset, target: Path) -> None:
    import datasets

    # the shards are tiny; a progress bar per split is noise on the command line
    enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        dataset.to_parquet(str(target))
    finally:
        if enabled:
            datasets.enable_progress_bars()


def read_card(folder: str | Path) -> dict | None:
    """The YAML metadata of a dataset folder's README.md, or None when it has none."""
    readme = Path(folder) / "README.md"
    if not readme.is_file():
        return None
    text = read_text(readme)  # non-UTF-8 (a latin-1 card) is one line naming the file
    if not text.startswith("---"):
        return None
    end = text.find("\n---", 3)
    if end < 0:
        return None
    try:
        data = load_yaml(text[3:end])
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{readme}:{mark.line + 2}" if mark else str(readme)  # +1 for the '---' line
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise DKNBenchError(f"{where}: the YAML header of the dataset card is malformed: {problem}") from None
    return data if isinstance(data, dict) else None
