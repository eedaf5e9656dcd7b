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
    """P = TP/(TP+FP), R = TP/(TP+FN), F1 = 2PR/(P+R), with truthy labels as positives
    (scikit-learn's ``precision_recall_fscore_support``).

    A zero denominator gives 0.0 (scikit-learn's ``zero_division=0``): a checker that never says
    "correct" has no precision to speak of, and the papers' tables report 0 in that case rather
    than leaving a hole.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true and y_pred differ in length: {len(y_true)} vs {len(y_pred)}")
    truth = [bool(v) for v in y_true]
    pred = [bool(v) for v in y_pred]
    if not truth:
        return PRF(0.0, 0.0, 0.0, 0, 0, 0)
    precision, recall, f1, _ = precision_recall_fscore_support(
        truth, pred, labels=[True], average="binary", pos_label=True, zero_division=0.0)
    _, fp, fn, tp = confusion_matrix(truth, pred, labels=[False, True]).ravel()
    return PRF(float(precision), float(recall), float(f1), int(tp), int(fp), int(fn))
