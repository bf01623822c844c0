"""The gamma-fit decision threshold does not depend on the scores' unit: scores of cosine
distances (~1e-4) get the threshold their scaled-up copies get, scaled back, and it lies among
the training scores rather than far above all of them."""

import numpy as np
import pytest

from asdcore.metrics import gamma_threshold


@pytest.mark.parametrize("unit", [1e-4, 1e-2, 1.0, 1e3])
def test_gamma_threshold_is_scale_equivariant(unit):
    scores = np.random.default_rng(0).gamma(2.0, 1.0, size=210)
    reference = gamma_threshold(scores)
    assert np.quantile(scores, 0.8) < reference < scores.max()
    assert gamma_threshold(scores * unit) == pytest.approx(reference * unit, rel=1e-3)
