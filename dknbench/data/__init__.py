"""Facts: the one schema every builder writes and every task reads, and how to load fact sets."""

from .cards import write_dataset
from .loading import load_facts
from .schema import FACT_FEATURES, Fact, SLOT, fact_from_row, fact_to_row

__all__ = ["FACT_FEATURES", "Fact", "SLOT", "fact_from_row", "fact_to_row", "load_facts", "write_dataset"]
