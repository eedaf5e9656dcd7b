"""dknbench.stats against scipy.stats / statsmodels (to 1e-9) and hand computations."""

import math

import numpy as np
import pytest
from scipy import stats as st
from statsmodels.stats.weightstats import DescrStatsW
from statsmodels.stats.weightstats import ttest_ind as sm_ttest_ind

from dknbench.stats import (
    Interval,
    bootstrap_ci,
    cohens_d,
    compare_groups,
    contains_zero,
    hedges_g,
    mean_ci,
    otsu_threshold,
    paired_bootstrap_ci,
    student_t,
    welch_t,
)

RNG = np.random.default_rng(1234)
SAMPLES = [
    (RNG.normal(0.0, 1.0, 12), RNG.normal(0.7, 2.0, 9)),
    (RNG.exponential(1.0, 40), RNG.exponential(1.5, 25)),
    (np.array([0.1, 0.4, 0.35, 0.8]), np.array([0.3, 0.9, 1.2])),
]


@pytest.mark.parametrize("test,pooled", [(student_t, True), (welch_t, False)], ids=["student", "welch"])
@pytest.mark.parametrize("a,b", SAMPLES)
def test_two_sample_t_matches_scipy_and_statsmodels(test, pooled, a, b):
    ours = test(a, b)
    ref = st.ttest_ind(a, b, equal_var=pooled)
    assert ours.statistic == pytest.approx(ref.statistic, abs=1e-9)
    assert ours.pvalue == pytest.approx(ref.pvalue, abs=1e-9)
    if pooled:
        assert ours.df == len(a) + len(b) - 2
    t, p, df = sm_ttest_ind(a, b, usevar="pooled" if pooled else "unequal")
    assert (ours.statistic, ours.pvalue, ours.df) == pytest.approx((t, p, df), abs=1e-9)


def test_degenerate_groups_give_nan_not_errors():
    for result in (student_t([1.0], [1.0, 2.0]), welch_t([], [1.0, 2.0, 3.0])):
        assert all(math.isnan(v) for v in result)
    assert math.isnan(cohens_d([1.0], [2.0, 3.0]))
    assert math.isnan(hedges_g([], []))
    assert math.isnan(mean_ci([]).estimate)
    single = mean_ci([3.0])
    assert single.estimate == 3.0 and math.isnan(single.low) and math.isnan(single.high)
    assert math.isnan(bootstrap_ci([2.0]).low)
    assert math.isnan(otsu_threshold([1.0]))
    assert math.isnan(otsu_threshold([2.0, 2.0, 2.0]))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_constant_groups_follow_ieee_like_scipy():
    ours = student_t([1.0, 1.0, 1.0], [2.0, 2.0])
    with np.errstate(all="ignore"):
        ref = st.ttest_ind([1.0, 1.0, 1.0], [2.0, 2.0])
    assert ours.statistic == ref.statistic == -math.inf
    assert ours.pvalue == pytest.approx(ref.pvalue, abs=1e-12)


def test_cohens_d_and_hedges_g_hand_computed():
    # a: mean 3, s² = 2.5; b: mean 5, s² = 2.5 -> s_pooled = √2.5, d = −2/√2.5 = −1.2649110640673518
    a, b = [1, 2, 3, 4, 5], [3, 4, 5, 6, 7]
    assert cohens_d(a, b) == pytest.approx(-2 / math.sqrt(2.5), abs=1e-12)
    assert cohens_d(b, a) == pytest.approx(2 / math.sqrt(2.5), abs=1e-12)
    # J(8) = Γ(4) / (√4 · Γ(3.5)) = 6 / (2 · 15√π/8) = 0.9027033336764101
    j8 = 6 / (2 * 15 * math.sqrt(math.pi) / 8)
    assert hedges_g(a, b) == pytest.approx(j8 * -2 / math.sqrt(2.5), abs=1e-12)
    # the textbook approximation J ≈ 1 − 3/(4·df − 1) is within 1e-3
    assert hedges_g(a, b) == pytest.approx((1 - 3 / 31) * -2 / math.sqrt(2.5), abs=1e-3)


def test_cohens_d_unequal_sizes_hand_computed():
    # a = [2, 4, 6]: mean 4, s² = 4; b = [1, 1, 1, 5]: mean 2, s² = 4 -> pooled s² = (2·4 + 3·4)/5 = 4
    assert cohens_d([2, 4, 6], [1, 1, 1, 5]) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("values", [SAMPLES[0][0], SAMPLES[1][1], [1.0, 2.0]])
def test_mean_ci_matches_statsmodels_and_scipy(values):
    ours = mean_ci(values, 0.9)
    low, high = DescrStatsW(np.asarray(values)).tconfint_mean(alpha=0.1)
    assert (ours.low, ours.high) == pytest.approx((low, high), abs=1e-9)
    ref = st.t.interval(0.9, len(values) - 1, loc=np.mean(values), scale=st.sem(values))
    assert (ours.low, ours.high) == pytest.approx(ref, abs=1e-9)
    assert ours.estimate == pytest.approx(np.mean(values), abs=1e-12)


@pytest.mark.parametrize("stat", [np.mean, np.median])
def test_bootstrap_ci_matches_scipy_percentile_with_same_seed(stat):
    values = SAMPLES[1][0]
    ours = bootstrap_ci(values, stat=stat, confidence=0.9, n_resamples=2000, seed=7)
    ref = st.bootstrap((values,), stat, confidence_level=0.9, n_resamples=2000,
                       method="percentile", rng=7)
    assert ours.low == pytest.approx(ref.confidence_interval.low, abs=1e-9)
    assert ours.high == pytest.approx(ref.confidence_interval.high, abs=1e-9)
    assert ours.estimate == pytest.approx(stat(values), abs=1e-12)


def _hand_percentile_bootstrap(arrays, stat, confidence, n_resamples, seed):
    """Reference: one matrix of resampled fact indices from default_rng(seed), applied to every
    array, the statistic per row, then the two quantiles (what scipy's percentile bootstrap does)."""
    n = arrays[0].size
    index = np.random.default_rng(seed).integers(0, n, (n_resamples, n))
    theta = np.array([stat(*(a[row] for a in arrays)) for row in index])
    alpha = (1 - confidence) / 2
    return tuple(np.quantile(theta, [alpha, 1 - alpha]))


def test_bootstrap_ci_equals_a_hand_resampling():
    values = SAMPLES[1][0]
    ours = bootstrap_ci(values, stat=np.median, confidence=0.9, n_resamples=300, seed=5)
    ref = _hand_percentile_bootstrap((values,), np.median, 0.9, 300, 5)
    assert (ours.low, ours.high) == pytest.approx(ref, abs=1e-12)


def test_paired_bootstrap_ci_matches_scipy_and_a_hand_resampling():
    x, y = SAMPLES[1][0][:25], SAMPLES[1][1]
    ratio = lambda a, b: float(a.mean() / b.mean())  # noqa: E731 - a ratio of means over the same facts
    ours = paired_bootstrap_ci((x, y), ratio, confidence=0.95, n_resamples=400, seed=9)
    ref = st.bootstrap((x, y), ratio, paired=True, vectorized=False, n_resamples=400,
                       method="percentile", rng=9)
    assert (ours.low, ours.high) == pytest.approx(
        (ref.confidence_interval.low, ref.confidence_interval.high), abs=1e-12)
    assert (ours.low, ours.high) == pytest.approx(_hand_percentile_bootstrap((x, y), ratio, 0.95, 400, 9),
                                                  abs=1e-12)
    assert ours.estimate == pytest.approx(x.mean() / y.mean())
    # resampling x and y independently would give another interval: pairing matters
    unpaired = st.bootstrap((x, y), ratio, paired=False, vectorized=False, n_resamples=400,
                            method="percentile", rng=9)
    assert ours.low != pytest.approx(unpaired.confidence_interval.low, abs=1e-6)
    with pytest.raises(ValueError, match="one length"):
        paired_bootstrap_ci((x, y[:3]), ratio)
    assert math.isnan(paired_bootstrap_ci(([1.0], [2.0]), ratio).low)


def test_contains_zero():
    assert contains_zero(Interval(0.1, -0.2, 0.4))
    assert contains_zero(Interval(0.0, 0.0, 0.3))  # a bound at 0 does not exclude it
    assert not contains_zero(Interval(0.1, 0.05, 0.4))
    assert not contains_zero(Interval(-0.1, -0.4, -0.05))
    assert contains_zero(Interval(0.1, math.nan, math.nan))  # unknown: cannot exclude 0


def test_bootstrap_ci_non_vectorised_statistic_and_determinism():
    values = SAMPLES[0][1]
    trimmed = lambda x: float(np.sort(x)[1:-1].mean())  # noqa: E731 - no axis argument
    first = bootstrap_ci(values, stat=trimmed, n_resamples=500, seed=3)
    assert first == bootstrap_ci(values, stat=trimmed, n_resamples=500, seed=3)
    assert first != bootstrap_ci(values, stat=trimmed, n_resamples=500, seed=4)
    assert first.low <= first.estimate <= first.high


def _brute_force_otsu(values, bins):
    """Reference: try every split of the histogram, compute both classes' weights and means
    directly, keep the first split with the largest between-class variance."""
    x = np.asarray(values, dtype=float)
    counts, edges = np.histogram(x, bins=bins, range=(x.min(), x.max()))
    centres = (edges[:-1] + edges[1:]) / 2
    best, best_t = -1.0, None
    total = counts.sum()
    for k in range(bins - 1):
        c0, c1 = counts[: k + 1], counts[k + 1:]
        if c0.sum() == 0 or c1.sum() == 0:
            continue
        m0 = (c0 * centres[: k + 1]).sum() / c0.sum()
        m1 = (c1 * centres[k + 1:]).sum() / c1.sum()
        between = (c0.sum() / total) * (c1.sum() / total) * (m0 - m1) ** 2
        if between > best:
            best, best_t = between, centres[k]
    return best_t


@pytest.mark.parametrize("bins", [16, 64, 256])
def test_otsu_matches_brute_force(bins):
    values = np.concatenate([RNG.beta(2, 5, 200), RNG.beta(5, 2, 120)])
    assert otsu_threshold(values, bins=bins) == pytest.approx(_brute_force_otsu(values, bins), abs=1e-9)


def test_otsu_bimodal_threshold_lies_between_the_modes():
    values = np.concatenate([RNG.normal(0.1, 0.02, 300), RNG.normal(0.7, 0.03, 200)])
    threshold = otsu_threshold(values)
    assert values[:300].max() < threshold < values[300:].min()
    assert otsu_threshold([0.0, 0.0, 1.0, 1.0], bins=4) == pytest.approx(0.125)


def test_compare_groups_record_shape_and_values():
    a, b = SAMPLES[0]
    record = compare_groups(a, b, "ntc", "kmeans", "GCR")
    assert set(record) == {"method_a", "method_b", "metric", "t", "p", "welch_t", "welch_p",
                           "cohens_d", "n_a", "n_b"}
    assert record["t"] == pytest.approx(st.ttest_ind(a, b).statistic, abs=1e-9)
    assert record["welch_p"] == pytest.approx(st.ttest_ind(a, b, equal_var=False).pvalue, abs=1e-9)
    assert (record["n_a"], record["n_b"]) == (12, 9)


# ----------------------------------------------------------------------------- issue 26.3 / 32.6


def test_every_ci_at_n3_is_scipys_t_interval():
    """At n = 3 a mean's CI is x̄ ± t_{0.975, 2} s/√3 (scipy), never x̄ ± 1.96 SE (2.2x narrower)."""
    from dknbench.stats import mean_of_means_ci

    values = [24.1, 26.9, 27.96]
    expected = st.t.interval(0.95, 2, loc=np.mean(values), scale=st.sem(values))
    for interval in (mean_ci(values), mean_of_means_ci([values])):
        assert (interval.low, interval.high) == pytest.approx(expected, abs=1e-12)
    z_half = 1.959963984540054 * st.sem(values)
    assert (expected[1] - expected[0]) / 2 > 2 * z_half


def test_mean_of_means_ci_is_welch_satterthwaite_and_matches_statsmodels_for_two_groups():
    """For two groups the mean of means ± t·SE is half of Welch's difference CI machinery:
    same SE² (Σ s²/n)/K² up to the 1/K factor, same df as scipy's Welch test."""
    from dknbench.stats import mean_of_means_ci

    a, b = SAMPLES[0]
    interval = mean_of_means_ci([a, b])
    df = welch_t(a, b).df  # Welch–Satterthwaite df, from scipy
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size) / 2
    assert interval.estimate == pytest.approx((a.mean() + b.mean()) / 2)
    assert interval.high - interval.estimate == pytest.approx(st.t.ppf(0.975, df) * se, abs=1e-12)
    assert math.isnan(mean_of_means_ci([a, [1.0]]).low)  # a column without spread: no interval


def test_clipped_mean_ci_keeps_a_count_in_range():
    from dknbench.stats import clipped_mean_ci

    counts = [0, 0, 30]  # the t interval reaches far below 0
    raw = mean_ci(counts)
    clipped = clipped_mean_ci(counts, low=0.0)
    assert raw.low < 0 and clipped.low == 0.0 and clipped.high == raw.high
    share = clipped_mean_ci([0.9, 1.0, 1.0], low=0.0, high=1.0)
    assert share.high == 1.0 and share.low == pytest.approx(mean_ci([0.9, 1.0, 1.0]).low)


def test_paired_t_and_compare_paired_match_scipy_on_the_common_facts():
    from dknbench.stats import compare_paired, paired_t

    a, b = RNG.normal(0, 1, 8), RNG.normal(0.5, 1, 8)
    ref = st.ttest_rel(a, b)
    ours = paired_t(a, b)
    assert (ours.statistic, ours.pvalue, ours.df) == pytest.approx((ref.statistic, ref.pvalue, 7), abs=1e-12)
    left = {f"f{i}": v for i, v in enumerate(a)} | {"only_a": 99.0}
    right = {f"f{i}": v for i, v in enumerate(b)} | {"only_b": -99.0, "f0": float("nan")}
    record = compare_paired(left, right, "x", "y", "m")
    common = [f"f{i}" for i in range(1, 8)]  # f0 is NaN on one side: not a pair
    ref = st.ttest_rel([left[f] for f in common], [right[f] for f in common])
    assert record["n_pairs"] == record["n_a"] == record["n_b"] == 7
    assert (record["paired_t"], record["paired_p"]) == pytest.approx((ref.statistic, ref.pvalue), abs=1e-12)


def test_paired_bootstrap_cis_are_one_bootstrap_of_every_component():
    from dknbench.stats import paired_bootstrap_cis

    x, y = RNG.normal(1, 1, 15), RNG.normal(2, 1, 15)
    both = paired_bootstrap_cis((x, y), lambda a, b: [a.mean(), b.mean() / a.mean()], n_resamples=300, seed=5)
    alone = paired_bootstrap_ci((x, y), lambda a, b: b.mean() / a.mean(), n_resamples=300, seed=5)
    assert both[1] == pytest.approx(alone, abs=1e-12)
    assert both[0] == pytest.approx(paired_bootstrap_ci((x, y), lambda a, b: a.mean(), n_resamples=300, seed=5))


def test_no_normal_interval_in_the_code():
    """Issue 26.3: every CI is a t interval or a seeded bootstrap. A z quantile (1.96, norm.ppf,
    norm.interval) in the package, the scripts or the benchmarks would bring one back."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    pattern = re.compile(r"1\.95996|1\.96\b|norm\.(ppf|interval)|NormalDist")
    hits = [f"{path.relative_to(root)}:{number}"
            for folder in ("dknbench", "scripts", "benchmarks", "leaderboard")
            for path in sorted((root / folder).rglob("*.py")) + sorted((root / folder).rglob("*.js"))
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if pattern.search(line)]
    assert hits == []
