"""captum-ig (Captum's LayerIntegratedGradients) agrees with the IG engine under the same rule."""

import sys

import numpy as np
import pytest

from conftest import FAMILY_KINDS
from dknbench.errors import ConfigError
from dknbench.localization import IGEngine, build_localizer
from dknbench.scoring import AnswerScorer

pytest.importorskip("captum", reason="captum is not installed (optional extra: pip install 'dknbench[captum]')")


def _rel(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


@pytest.mark.parametrize("family", FAMILY_KINDS)
@pytest.mark.parametrize("path", ["auto", "full"])
def test_captum_ig_agrees_with_ig_on_the_right_riemann_rule(tiny, family, path):
    lm = tiny(family)
    scorer = AnswerScorer(lm)
    encoded = scorer.encode("The capital of Japan is [Y].", "Tokyo")
    engine = IGEngine(lm, scorer, steps=5, path=path)
    ig = build_localizer("ig", steps=5).scores(engine, encoded)
    captum = build_localizer("captum-ig", steps=5).scores(engine, encoded)
    assert np.abs(ig).max() > 0
    assert _rel(captum, ig) <= 1e-4
    # the rule matters: Captum's left rule is another sum, so agreement above is not vacuous
    left = build_localizer("captum-ig", steps=5, method="riemann_left").scores(engine, encoded)
    assert _rel(left, ig) > 10 * _rel(captum, ig)


def test_captum_ig_without_captum_is_one_clear_error(tiny, monkeypatch):
    lm = tiny("gpt2")
    scorer = AnswerScorer(lm)
    monkeypatch.setitem(sys.modules, "captum.attr", None)  # import fails as if not installed
    with pytest.raises(ConfigError, match=r"dknbench\[captum\]"):
        build_localizer("captum-ig", steps=2).scores(IGEngine(lm, scorer), scorer.encode("Paris is in [Y].", "France"))


def test_captum_ig_refuses_one_step():
    # the constructor stores; the declaration on the class refuses it when the localizer is built
    with pytest.raises(ConfigError, match="steps: 1 is out of range; an integer >= 2"):
        build_localizer("captum-ig", steps=1)
