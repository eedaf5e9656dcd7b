"""Croissant (JSON-LD) metadata for a built dataset folder, with the Responsible-AI fields.

Written by ``cards.write_dataset`` beside the README card, from the same metadata: name,
description, license and citation of the source, the parquet shards (with sha256), one record set
per config whose fields are typed from the ``datasets.Features``, and the splits as Croissant's
``cr:Split`` enumeration. The Responsible-AI fields (RAI 1.0 vocabulary) say what the builder
knows: where the rows come from, how they were generated or perturbed and with which seed, their
limitations, and whether they hold personal information (checked by a scan of every text value).

Built with ``mlcroissant`` so that what is written is what its validator accepts.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

CROISSANT_FILE = "croissant.json"
CROISSANT_SPEC = "http://mlcommons.org/croissant/1.1"
RAI_SPEC = "http://mlcommons.org/croissant/RAI/1.0"
PARQUET = "application/x-parquet"
SPLITS_RECORD_SET = "splits"
# the split from a shard's path (cards.shard_path: data/<split>-00000-of-00001.parquet); the name alone also matches because mlcroissant
# applies the transform again to the extracted value
SPLIT_FROM_PATH = r"^(?:.*/)?(?:data/)?([^/]+?)(?:-\d+-of-\d+\.parquet)?$"

# Hub license id -> SPDX URL (Croissant's `license` is a URL or text)
LICENSE_URLS = {"cc-by-4.0": "https://spdx.org/licenses/CC-BY-4.0.html",
                "cc-by-nc-4.0": "https://spdx.org/licenses/CC-BY-NC-4.0.html",
                "cc-by-sa-3.0": "https://spdx.org/licenses/CC-BY-SA-3.0.html",
                "gfdl": "https://spdx.org/licenses/GFDL-1.3-or-later.html",
                "mit": "https://spdx.org/licenses/MIT.html",
                "apache-2.0": "https://spdx.org/licenses/Apache-2.0.html"}

# personal data the scan looks for in every text value: e-mail addresses and phone numbers
PERSONAL_PATTERNS = {
    "e-mail address": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z0-9.-]+"),
    "phone number": re.compile(r"(?<![\w.])\+?\(?\d{2,4}\)?[\s.-]\d{3,4}[\s.-]\d{3,4}(?![\w.])"),
}
PERSONAL_PLURALS = {"e-mail address": "e-mail addresses", "phone number": "phone numbers"}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def data_type(feature):
    """The Croissant data type of a ``datasets.Value`` (or ClassLabel: its int64 codes); None for a
    type it has no name for."""
    import mlcroissant as mlc

    return {"string": mlc.DataType.TEXT, "large_string": mlc.DataType.TEXT, "bool": mlc.DataType.BOOL,
            "int8": mlc.DataType.INT8, "int16": mlc.DataType.INT16, "int32": mlc.DataType.INT32,
            "int64": mlc.DataType.INT64, "uint8": mlc.DataType.UINT8, "uint16": mlc.DataType.UINT16,
            "uint32": mlc.DataType.UINT32, "uint64": mlc.DataType.UINT64, "float16": mlc.DataType.FLOAT16,
            "float32": mlc.DataType.FLOAT32, "float64": mlc.DataType.FLOAT64}.get(feature.dtype)


def _field(record_set: str, name: str, feature, file_set: str):
    """One Croissant field for a top-level column: a Value, or a list of Values (isArray)."""
    import datasets
    import mlcroissant as mlc

    lists = tuple(kind for kind in (getattr(datasets, n, None) for n in ("Sequence", "List", "LargeList"))
                  if isinstance(kind, type))  # datasets 3 has Sequence only; 4+ adds List, LargeList
    inner, is_array = feature, False
    if isinstance(feature, lists):
        inner, is_array = feature.feature, True
    if getattr(inner, "dtype", None) is None or data_type(inner) is None:  # a Value or a ClassLabel
        raise ValueError(f"column {name!r}: feature {feature!r} has no Croissant type here")
    source = mlc.Source(file_set=file_set, extract=mlc.Extract(column=name))
    return mlc.Field(id=f"{record_set}/{name}", name=name, data_types=[data_type(inner)], source=source,
                     is_array=is_array or None, array_shape="-1" if is_array else None)


def scan_personal_information(dataset_dict) -> dict[str, int]:
    """(kind -> number of text values that match it) over every string of every split."""
    counts = {kind: 0 for kind in PERSONAL_PATTERNS}
    for split in dataset_dict.values():
        for column in split.column_names:
            for value in split[column]:
                for text in (value if isinstance(value, list) else [value]):
                    if not isinstance(text, str):
                        continue
                    for kind, pattern in PERSONAL_PATTERNS.items():
                        counts[kind] += bool(pattern.search(text))
    return counts


def personal_information_text(counts: dict[str, int], rows: int) -> str:
    checked = (f"checked by scanning every text value of the {rows} rows for "
               f"{' and '.join(PERSONAL_PLURALS[kind] for kind in counts)} (dknbench.data.croissant.PERSONAL_PATTERNS)")
    found = {kind: n for kind, n in counts.items() if n}
    if not found:
        return ("None expected: the rows name public entities (Wikidata subjects and objects, Wikipedia text) "
                f"or template text; {checked}: none found.")
    listed = ", ".join(f"{n} value(s) with a {kind}" for kind, n in found.items())
    return f"Review before release: {checked}: found {listed}."


def collection_text(card_info: dict) -> str:
    meta = card_info
    options = json.dumps(meta.get("options") or {}, sort_keys=True, ensure_ascii=False)
    parts = [f"Source: {meta.get('source', '')}."]
    if meta.get("collection"):
        parts.append(meta["collection"].strip())
    parts.append(f"Built by the dknbench data builder `{meta.get('builder', '')}` "
                 f"(version {meta.get('builder_version', '')}) with seed {meta.get('seed')} and options "
                 f"{options}; the same builder, source, seed and options give identical rows.")
    return " ".join(parts)


def croissant_metadata(dataset_dict, card_metadata: dict, card_info: dict, groups: dict, folder: Path,
                       shards: dict[str, str]):
    """The ``mlcroissant.Metadata`` of a dataset folder whose shards are already written
    (``shards``: split -> its parquet file, relative to ``folder``)."""
    import mlcroissant as mlc

    meta = card_metadata["dknbench"]
    licenses = card_metadata["license"] if isinstance(card_metadata["license"], list) else [card_metadata["license"]]
    distribution, record_sets = [], []
    for split in dataset_dict:
        path = shards[split]
        distribution.append(mlc.FileObject(
            id=path, name=Path(path).name, content_url=path, encoding_formats=[PARQUET],
            sha256=sha256_of(folder / path), content_size=f"{(folder / path).stat().st_size} B",
            description=f"split {split}"))
    record_sets.append(mlc.RecordSet(
        id=SPLITS_RECORD_SET, name=SPLITS_RECORD_SET, description="The dataset's splits.",
        data_types=[mlc.DataType.SPLIT], key=[f"{SPLITS_RECORD_SET}/name"],
        fields=[mlc.Field(id=f"{SPLITS_RECORD_SET}/name", name="name", data_types=[mlc.DataType.TEXT])],
        data=[{f"{SPLITS_RECORD_SET}/name": split} for split in dataset_dict]))
    for config, splits in groups.items():
        file_set = f"{config}-parquet"
        distribution.append(mlc.FileSet(
            id=file_set, name=file_set, encoding_formats=[PARQUET], contained_in=[],
            includes=[shards[split] for split in splits],
            description=f"the parquet shards of config {config!r} (splits {', '.join(splits)})"))
        split_field = mlc.Field(
            id=f"{config}/split", name="split", data_types=[mlc.DataType.TEXT],
            description="the split a row belongs to (from its shard's file name)",
            source=mlc.Source(file_set=file_set, extract=mlc.Extract(file_property=mlc.FileProperty.filepath),
                              transforms=[mlc.Transform(regex=SPLIT_FROM_PATH)]),
            references=mlc.Source(field=f"{SPLITS_RECORD_SET}/name"))
        features = dataset_dict[splits[0]].features
        record_sets.append(mlc.RecordSet(
            id=config, name=config, description=f"config {config!r}: splits {', '.join(splits)}",
            fields=[split_field, *(_field(config, name, feature, file_set) for name, feature in features.items())]))
    rows = sum(len(split) for split in dataset_dict.values())
    return mlc.Metadata(
        name=card_metadata["pretty_name"],
        description=(card_info.get("description") or card_metadata["pretty_name"]).strip(),
        conforms_to=[CROISSANT_SPEC, RAI_SPEC],
        cite_as=card_metadata["citation"].strip(),
        license=[LICENSE_URLS.get(l, l) for l in licenses] + (
            [card_metadata["license_details"]] if "other" in licenses or "unknown" in licenses else []),
        url=None,
        version=meta["builder_version"],
        in_language=list(card_metadata.get("language") or []),
        keywords=list(card_metadata.get("tags") or []),
        distribution=distribution,
        record_sets=record_sets,
        data_collection=collection_text({**card_info, **meta}),
        data_collection_type=[card_info.get("collection_type") or "Secondary Data Analysis"],
        data_collection_raw_data=f"{meta['source']}" + (
            f" (source commits {', '.join(meta['source_commits'])})" if meta.get("source_commits") else ""),
        data_limitations=list(card_info.get("limitations") or []) or None,
        personal_sensitive_information=[personal_information_text(scan_personal_information(dataset_dict), rows)],
    )


def write_croissant(dataset_dict, card_metadata: dict, card_info: dict, groups: dict, folder: Path,
                    shards: dict[str, str]) -> Path:
    """Write ``croissant.json`` into ``folder`` (the temporary build folder of ``write_dataset``)."""
    metadata = croissant_metadata(dataset_dict, card_metadata, card_info, groups, folder, shards)
    errors = metadata.ctx.issues.errors
    if errors:  # a bug here, not bad input: the builders' metadata is ours
        raise RuntimeError(f"croissant.json would not validate: {sorted(errors)[0]}")
    target = Path(folder) / CROISSANT_FILE
    target.write_text(json.dumps(metadata.to_json(), indent=2, ensure_ascii=False, default=str) + "\n",
                      encoding="utf-8")
    return target
