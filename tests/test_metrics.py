"""dknbench.metrics on hand-computed cases (the arithmetic is written out beside each check)."""

import math

import numpy as np
import pytest
from scipy import stats as st
from sklearn.metrics import precision_recall_fscore_support

from dknbench.metrics import (
    accuracy,
    consistency_scores,
    delta_prob,
    edit_scores,
    gcr,
    intended_change,
    is_outlier,
    perplexity_delta,
    precision_recall_f1,
    success_rate,
    success_rate_x,
)


def test_delta_prob_scalar_and_array():
    assert delta_prob(0.8, 0.2) == pytest.approx(0.75)  # (0.8 − 0.2)/0.8
    assert isinstance(delta_prob(0.8, 0.2), float)
    np.testing.assert_allclose(delta_prob([0.5, 0.4], [0.25, 0.5]), [0.5, -0.25])
    assert math.isinf(delta_prob(0.0, 0.1))
    assert intended_change(0.5, 0.75, "enhance") == pytest.approx(0.5)
    assert intended_change(0.5, 0.25, "suppress") == pytest.approx(0.5)
    with pytest.raises(ValueError, match="operation"):
        intended_change(0.5, 0.25, "erase")


def test_gcr_n2_is_absolute_difference_in_percentage_points():
    assert gcr([0.1, 0.5]) == pytest.approx(40.0)  # |0.5 − 0.1| = 40 percentage points (000 Table 1)
    assert gcr([0.5, 0.1]) == pytest.approx(40.0)


def test_gcr_n3_hand_computed():
    # partial [0.1, 0.3]: μ = 0.2, σ (ddof 0) = 0.1 -> |0.9 − 0.2| / 0.1 = 7
    assert gcr([0.1, 0.3, 0.9]) == pytest.approx(7.0)


def test_gcr_n5_hand_computed():
    # partial [0.1, 0.2, 0.3, 0.4]: μ = 0.25, σ² = (0.0225 + 0.0025 + 0.0025 + 0.0225)/4 = 0.0125
    # GCR = |1.0 − 0.25| / √0.0125 = 6.708203932499369
    assert gcr([0.1, 0.2, 0.3, 0.4, 1.0]) == pytest.approx(6.708203932499369, abs=1e-12)


def test_gcr_degenerate_cases():
    assert math.isnan(gcr([0.3]))
    assert math.isnan(gcr([]))
    assert gcr([0.2, 0.2, 0.9]) == math.inf  # σ = 0, numerator 0.7
    assert math.isnan(gcr([0.2, 0.2, 0.2]))


def test_is_outlier_uses_absolute_change_and_limit():
    assert not is_outlier([0.5, -3.0, 9.0])
    assert is_outlier([0.5, 9.5])
    assert is_outlier([-12.0])
    assert is_outlier([0.1, math.inf])
    assert is_outlier(2.0, limit=1.0)


def test_success_rate_hand_computed():
    rel_b, irr_b = [0.5, 0.2], [0.4, 0.1]
    rel_enh, irr_enh = [0.75, 0.3], [0.44, 0.1]  # rises 0.5, 0.5 | 0.1, 0.0 -> SR_enh = 0.5/0.05 = 10
    rel_sup, irr_sup = [0.25, 0.05], [0.36, 0.09]  # drops 0.5, 0.75 | 0.1, 0.1 -> SR_sup = 0.625/0.1
    result = success_rate(rel_b, rel_enh, rel_sup, irr_b, irr_enh, irr_sup)
    assert result.sr_enhance == pytest.approx(10.0)
    assert result.sr_suppress == pytest.approx(6.25)
    assert result.sr == pytest.approx(16.25)
    assert (result.n_enhance, result.n_suppress) == (2, 2)


def test_success_rate_outlier_pairs_are_dropped():
    # third pair: relevant rises from 0.001 to 0.02, ΔProb = 19 > 9 -> excluded
    sr, kept = success_rate_x([0.5, 0.2, 0.001], [0.75, 0.3, 0.02], [0.4, 0.1, 0.3],
                              [0.44, 0.1, 0.3], "enhance", outlier_limit=9)
    assert kept == 2 and sr == pytest.approx(10.0)
    sr_all, kept_all = success_rate_x([0.5, 0.2, 0.001], [0.75, 0.3, 0.02], [0.4, 0.1, 0.3],
                                      [0.44, 0.1, 0.3], "enhance")
    assert kept_all == 3 and sr_all == pytest.approx((0.5 + 0.5 + 19) / 3 / (0.1 / 3))


def test_success_rate_signed_vs_absolute_irrelevant():
    # irrelevant changes +0.1 and −0.3: signed mean −0.1, absolute mean 0.2; relevant mean 0.5
    args = ([0.5, 0.5], [0.25, 0.25], [1.0, 1.0], [0.9, 1.3], "suppress")
    assert success_rate_x(*args)[0] == pytest.approx(-5.0)
    assert success_rate_x(*args, irrelevant="absolute")[0] == pytest.approx(2.5)
    assert math.isnan(success_rate_x([0.5], [0.25], [0.4], [0.4], "suppress")[0])  # no irrelevant change


def test_consistency_scores_hand_made_sets():
    n1 = [(0, 1), (0, 2), (1, 5)]
    n2 = [(0, 1), (1, 5), (2, 3)]
    n3 = [[0, 1], [3, 3]]  # JSON-style lists are the same neurons
    # union {(0,1),(0,2),(1,5),(2,3),(3,3)} = 5; ∩ = {(0,1)} -> CS1 = 1/5;
    # in more than one set: (0,1) ×3, (1,5) ×2 -> CS2 = 2/5
    assert consistency_scores([n1, n2, n3]) == pytest.approx((0.2, 0.4))
    assert consistency_scores([n1, n1]) == pytest.approx((1.0, 1.0))
    assert consistency_scores([n1]) == pytest.approx((1.0, 0.0))
    assert consistency_scores([[(0, 1)], [(2, 2)]]) == pytest.approx((0.0, 0.0))
    assert all(math.isnan(v) for v in consistency_scores([[], []]))
    assert all(math.isnan(v) for v in consistency_scores([]))


def test_edit_scores_update_and_erasure():
    rel_p, rel_t = ["Paris"], ["Paris"]
    gen_p, gen_t = ["Paris", "Rome", "Paris"], ["Paris"] * 3  # 2/3
    loc_after, loc_before = ["a", "b", "c", "d"], ["a", "b", "x", "d"]  # 3/4 unchanged
    update = edit_scores(rel_p, rel_t, gen_p, gen_t, loc_after, loc_before)
    assert update == pytest.approx((1.0, 2 / 3, 0.75, (1.0 + 2 / 3 + 0.75) / 3))
    erasure = edit_scores(rel_p, rel_t, gen_p, gen_t, loc_after, loc_before, operation="erasure")
    assert erasure == pytest.approx((0.0, 1 / 3, 0.75, (0.0 + 1 / 3 + 0.75) / 3))
    assert math.isnan(accuracy([], []))
    with pytest.raises(ValueError, match="operation"):
        edit_scores(rel_p, rel_t, gen_p, gen_t, loc_after, loc_before, operation="delete")


def test_perplexity_delta():
    assert perplexity_delta(20.0, 25.0) == pytest.approx(0.25)  # (25 − 20)/20
    np.testing.assert_allclose(perplexity_delta([10.0, 40.0], [5.0, 40.0]), [-0.5, 0.0])


def test_precision_recall_f1_hand_made_confusion():
    y_true = [1, 1, 1, 0, 0, 1, 0]
    y_pred = [1, 0, 1, 1, 0, 1, 1]
    # TP = 3 (positions 0, 2, 5), FP = 2 (3, 6), FN = 1 (1)
    # P = 3/5, R = 3/4, F1 = 2·0.6·0.75/1.35 = 2/3
    result = precision_recall_f1(y_true, y_pred)
    assert (result.tp, result.fp, result.fn) == (3, 2, 1)
    assert (result.precision, result.recall, result.f1) == pytest.approx((0.6, 0.75, 2 / 3))
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average="binary")
    assert (result.precision, result.recall, result.f1) == pytest.approx((p, r, f), abs=1e-12)


def test_precision_recall_f1_zero_division_is_zero():
    assert precision_recall_f1([1, 0], [0, 0])[:3] == (0.0, 0.0, 0.0)
    assert precision_recall_f1([True, False], [True, False])[:3] == (1.0, 1.0, 1.0)


def test_metric_record_undefined_carries_the_reason_and_no_number():
    from dknbench.tasks.base import metric_record

    plain = metric_record("ig", "SR", 4.0, 5, ci=(1.0, 7.0))
    assert "undefined" not in plain and plain["value"] == 4.0 and plain["ci_low"] == 1.0
    gone = metric_record("ig", "SR", -906.5, 5, ci=(-2000.0, 300.0), undefined="denominator CI contains 0")
    assert gone["undefined"] == "denominator CI contains 0"
    assert (gone["value"], gone["ci_low"], gone["ci_high"]) == (None, None, None)
    assert metric_record("ig", "SR", float("nan"), 0)["value"] is None
    with pytest.raises(ValueError, match="reason"):
        metric_record("ig", "SR", None, 5, undefined=" ")


def _sr_arrays(rel_rise, rel_drop, irr_rise, irr_drop):
    """Per-fact Prob before/after that give the intended changes exactly: enhance (a−b)/b = rise,
    suppress (b−a)/b = drop; relevant facts start at 0.4, irrelevant ones at 0.5."""
    rel_rise, rel_drop, irr_rise, irr_drop = map(np.asarray, (rel_rise, rel_drop, irr_rise, irr_drop))
    rel_b, irr_b = np.full(rel_rise.size, 0.4), np.full(irr_rise.size, 0.5)
    return (rel_b, rel_b * (1 + rel_rise), rel_b * (1 - rel_drop),
            irr_b, irr_b * (1 + irr_rise), irr_b * (1 - irr_drop))


RISES = [0.5, 0.4, 0.6, 0.3]  # relevant: mean 0.45 for both operations
CLEAR = [0.1, 0.12, 0.08, 0.1]  # irrelevant mean 0.1, sd 0.0163 -> t CI [0.074, 0.126]: excludes 0
NEAR_ZERO = [0.03, -0.02, 0.01, -0.01]  # mean 0.0025, sd 0.022 -> t CI [-0.033, 0.038]: contains 0


def test_sr_report_undefined_when_the_denominator_ci_contains_zero():
    from dknbench.metrics import success_rate_report

    arrays = _sr_arrays(RISES, RISES, NEAR_ZERO, CLEAR)
    # the paper's ratio still exists as a number (0.45 / 0.0025 = 180 for enhance) ...
    assert success_rate(*arrays).sr_enhance == pytest.approx(180.0)
    report = success_rate_report(*arrays, seed=3)
    # ... but its denominator is indistinguishable from 0, so it is reported undefined; the rule
    # is the same seeded bootstrap as the SR CI (scipy's, over the same resamples of facts)
    irr = st.bootstrap(arrays[3:5], lambda ib, ia: np.mean((ia - ib) / ib), paired=True, vectorized=False,
                       n_resamples=1000, method="percentile", rng=3).confidence_interval
    assert irr.low < 0 < irr.high
    assert report["SR_enh"].value is None and report["SR_enh"].low is None
    assert report["SR_enh"].undefined == (f"irrelevant ΔProb bootstrap CI contains 0 "
                                          f"(enh [{irr.low:.2g}, {irr.high:.2g}])")
    assert report["SR"].value is None and report["SR"].undefined == report["SR_enh"].undefined
    # the suppress term has a clear denominator: 0.45 / 0.1
    assert report["SR_sup"].undefined is None and report["SR_sup"].value == pytest.approx(4.5)
    # the companion is defined: mean of (rise − irrelevant rise) with its paired t interval
    diff = np.array(RISES) - np.array(NEAR_ZERO)
    low, high = st.t.interval(0.95, diff.size - 1, loc=diff.mean(), scale=st.sem(diff))
    companion = report["rel_minus_irr_enh"]
    assert (companion.value, companion.low, companion.high, companion.n) == pytest.approx(
        (diff.mean(), low, high, 4))
    total = diff + (np.array(RISES) - np.array(CLEAR))
    assert report["rel_minus_irr"].value == pytest.approx(total.mean())


def test_sr_report_is_a_number_with_the_scipy_bootstrap_ci_otherwise():
    from dknbench.metrics import success_rate_report

    arrays = _sr_arrays(RISES, RISES, CLEAR, CLEAR)
    report = success_rate_report(*arrays, outlier_limit=9.0, n_resamples=500, seed=11)
    assert all(estimate.undefined is None for estimate in report.values())
    assert report["SR"].value == pytest.approx(0.45 / 0.1 * 2)  # SR_enh + SR_sup = 4.5 + 4.5
    ref = st.bootstrap(arrays, lambda *cols: success_rate(*cols, outlier_limit=9.0).sr, paired=True,
                       vectorized=False, n_resamples=500, method="percentile", rng=11)
    assert (report["SR"].low, report["SR"].high) == pytest.approx(
        (ref.confidence_interval.low, ref.confidence_interval.high), abs=1e-12)
    assert report["SR"].low < report["SR"].value < report["SR"].high
    enh = st.bootstrap(arrays[:2] + arrays[3:5],
                       lambda rb, ra, ib, ia: success_rate_x(rb, ra, ib, ia, "enhance", 9.0)[0],
                       paired=True, vectorized=False, n_resamples=500, method="percentile", rng=11)
    assert report["SR_enh"].low == pytest.approx(enh.confidence_interval.low, abs=1e-12)


def test_sr_report_too_few_pairs_and_outliers_are_undefined_with_reason():
    from dknbench.metrics import success_rate_report

    one = success_rate_report(*_sr_arrays([0.5], [0.5], [0.1], [0.1]))
    assert one["SR"].undefined == "too few pairs for an irrelevant ΔProb CI (enh 1 kept, sup 1 kept)"
    # the third fact's irrelevant rise of 20 (x21) is an outlier of the enhance edit: the fact
    # leaves both terms, so every record's n is the 2 pairs SR actually used
    arrays = _sr_arrays(RISES[:3], RISES[:3], [0.1, 0.12, 20.0], CLEAR[:3])
    kept = success_rate_report(*arrays, outlier_limit=9.0)
    assert {name: e.n for name, e in kept.items()} == dict.fromkeys(kept, 2)
    assert kept["SR"].value == pytest.approx(success_rate(*(a[:2] for a in arrays)).sr)
