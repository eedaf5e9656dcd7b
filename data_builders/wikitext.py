"""WikiText-2 (raw) paragraphs for ΔPPL (003 §2.2): non-empty lines that are not headings."""

from __future__ import annotations

import re

import datasets

from dknbench.errors import DKNBenchError

from . import BUILDERS
from ._common import as_int, open_text, seeded_sample, source_path

HEADING = re.compile(r"^\s*(=\s+)+.*?(\s+=)+\s*$")  # " = Title = ", " = = Section = = "
FILES = ("wiki.test.raw", "wiki.test.raw.gz", "test.txt")
FEATURES = datasets.Features({"id": datasets.Value("string"), "text": datasets.Value("string")})


@BUILDERS.register(
    "wikitext",
    description="WikiText-2 raw paragraphs (no blank lines, no headings) for the ΔPPL check of editing tasks",
    version="1.0.0",
    license=["cc-by-sa-3.0", "gfdl"],
    task_categories=["text-generation"],  # perplexity text, not cloze facts
    default_split="test",
    fields="`id` = `wikitext2_<line number>` (1-based, in the raw file), `text` = the paragraph without "
           "its leading/trailing whitespace.",
    collection=('WikiText-2 raw test paragraphs, blank lines and headings dropped; limit keeps a seeded '
                'sample in file order.'),
    limitations=[
        "Wikipedia text from WikiText-2's snapshot; it names real people (public figures) as Wikipedia "
        'does.',
        "WikiText's tokenisation (' @-@ ', ' @,@ ') is kept as in the raw file.",
    ],
)
def build(source, seed: int = 42, min_words=1, limit=None) -> datasets.DatasetDict:
    """Source: the wikitext2 folder or ``wiki.test.raw``. Options: min_words (drop shorter lines),
    limit (seeded sample of rows, in file order). Split: ``test``."""
    path = source_path(source, what="WikiText-2")
    if path.is_dir():
        path = next((path / n for n in FILES if (path / n).is_file()), None)
        if path is None:
            raise DKNBenchError(f"{source}: no WikiText-2 file ({', '.join(FILES)}) in this folder")
    min_words = as_int(min_words, "min_words", 1)
    rows = []
    try:
        with open_text(path) as handle:
            for number, line in enumerate(handle, 1):
                text = line.strip()
                if text and not HEADING.match(line) and len(text.split()) >= min_words:
                    rows.append({"id": f"wikitext2_{number}", "text": text})
    except UnicodeDecodeError:
        raise DKNBenchError(f"{path}: not a UTF-8 text file") from None
    rows = seeded_sample(rows, as_int(limit, "limit", 1), seed, "wikitext")
    if not rows:
        raise DKNBenchError(f"{path}: no paragraph lines left (is it WikiText-2 raw?)")
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows, features=FEATURES)})
