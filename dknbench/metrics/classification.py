"""Precision, recall and F1 of fact-checking (002 §3.4, Table 3): the positive class is
"the fact is correct"."""

from __future__ import annotations

from typing import NamedTuple, Sequence


class PRF(NamedTuple):
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int


def precision_recall_f1(y_true: Sequence, y_pred: Sequence) -> PRF:
    """P = TP/(TP+FP), R = TP/(TP+FN), F1 = 2PR/(P+R), with truthy labels as positives.

    A zero denominator gives 0.0 (scikit-learn's ``zero_division=0``): a checker that never says
    "correct" has no precision to speak of, and the papers' tables report 0 in that case rather
    than leaving a hole.
    """
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true and y_pred differ in length: {len(y_true)} vs {len(y_pred)}")
    truth = [bool(v) for v in y_true]
    pred = [bool(v) for v in y_pred]
    tp = sum(t and p for t, p in zip(truth, pred))
    fp = sum(p and not t for t, p in zip(truth, pred))
    fn = sum(t and not p for t, p in zip(truth, pred))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PRF(precision, recall, f1, tp, fp, fn)
