"""Anomaly scorers: geometry, leave-one-out training scores, domain generalisation, density
normalisation, the sklearn contract and the registry."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from asdcore import scoring
from asdcore.errors import ASDError


def _blob(rng, centre, spread, n):
    return np.asarray(centre, float) + spread * rng.normal(size=(n, len(centre)))


@pytest.mark.parametrize("name", sorted(scoring.SCORERS))
def test_a_far_point_scores_higher_than_a_near_one(name):
    rng = np.random.default_rng(0)
    train = _blob(rng, [5, 0, 0, 0], 0.3, 60)
    scorer = scoring.make_scorer(name).fit(train)
    near, far = [5, 0.1, 0, 0], [0, 0, 5, 0]
    near_score, far_score = scorer.decision_function([near, far])
    assert far_score > near_score
    assert scorer.decide([near, far]).tolist() == [0, 1]
    assert scorer.decision_scores_.shape == (60,) and np.isfinite(scorer.threshold_)


@pytest.mark.parametrize("name", sorted(scoring.SCORERS))
def test_scorers_are_sklearn_clonable_and_fit_returns_self(name):
    scorer = scoring.make_scorer(name, threshold_percentile=0.8)
    copy = clone(scorer)
    assert copy.get_params() == scorer.get_params()
    X = np.random.default_rng(1).normal(size=(20, 3))
    assert scorer.fit(X) is scorer


def test_knn_training_scores_are_leave_one_out():
    X = np.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0]])
    scorer = scoring.CosineKNN().fit(X)
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    cos = 1 - unit @ unit.T
    expected = [cos[0, 1], cos[1, 0], min(cos[2, 0], cos[2, 1])]
    assert scorer.decision_scores_ == pytest.approx(expected)
    # Scoring the same points as test data matches each with itself.
    assert scorer.decision_function(X) == pytest.approx(0.0, abs=1e-12)


def test_knn_k_averages_the_k_nearest():
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    scorer = scoring.CosineKNN(k=2).fit(X)
    assert scorer.decision_function([[1.0, 0.0]]) == pytest.approx([0.5])


def test_domain_generalization_makes_target_normals_score_low():
    rng = np.random.default_rng(2)
    source = _blob(rng, [4, 0, 0, 0, 0, 0], 0.4, 300)
    target = _blob(rng, [0, 4, 0, 0, 0, 0], 0.4, 5)
    X = np.vstack([source, target])
    domains = ["source"] * 300 + ["target"] * 5
    test_target = _blob(rng, [0, 4, 0, 0, 0, 0], 0.4, 20)
    test_source = _blob(rng, [4, 0, 0, 0, 0, 0], 0.4, 20)
    anomalies = _blob(rng, [0, 0, 4, 0, 0, 0], 0.4, 20)
    scorer = scoring.DomainGeneralizationKNN(n_centers=16).fit(X, domains)
    assert scorer.references_.shape == (16 + 5, 6)
    normal_scores = scorer.decision_function(np.vstack([test_source, test_target]))
    assert normal_scores.max() < scorer.decision_function(anomalies).min()
    # Every target training sample is a reference, yet its training score is not zero.
    assert np.all(scorer.decision_scores_[300:] > 0)


def test_domain_generalization_leave_one_out_of_the_kmeans_centre():
    # Few source samples: each becomes its own centre, so leave-one-out must skip it.
    X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    scorer = scoring.DomainGeneralizationKNN(n_centers=16).fit(X)
    assert len(scorer.references_) == 3
    assert np.all(scorer.decision_scores_ > 0)
    assert scorer.decision_scores_ == pytest.approx(scoring.CosineKNN().fit(X).decision_scores_)


def test_local_density_normalisation_equalises_sparse_and_dense_clusters():
    rng = np.random.default_rng(3)
    dense = _blob(rng, [5, 0, 0], 0.05, 80)
    sparse = _blob(rng, [0, 5, 0], 0.5, 80)
    X = np.vstack([dense, sparse])
    dense_normal = _blob(rng, [5, 0, 0], 0.05, 50)
    sparse_normal = _blob(rng, [0, 5, 0], 0.5, 50)

    plain = scoring.CosineKNN().fit(X)
    ratio_plain = (np.median(plain.decision_function(sparse_normal))
                   / np.median(plain.decision_function(dense_normal)))
    ldn = scoring.LocalDensityKNN(domain_generalization=False).fit(X)
    ratio_ldn = (np.median(ldn.decision_function(sparse_normal))
                 / np.median(ldn.decision_function(dense_normal)))
    assert ratio_plain > 20           # plain distances punish the sparse cluster
    assert 0.5 < ratio_ldn < 2.0      # normalised, both look equally normal


def test_all_references_local_density_matches_a_brute_force_computation():
    """knn-ldn-all: score = min over training clips r of d(x, r) / d(r, nearest other clip),
    cosine distances, whatever the domains; training scores leave the clip itself out."""
    rng = np.random.default_rng(5)
    X = np.vstack([_blob(rng, [3, 0, 0], 0.2, 30), _blob(rng, [0, 3, 0], 1.0, 6)])
    domains = ["source"] * 30 + ["target"] * 6
    test = rng.normal(size=(12, 3))

    def cosine(a, b):
        return 1 - (a / np.linalg.norm(a)) @ (b / np.linalg.norm(b))

    scales = [min(cosine(r, q) for j, q in enumerate(X) if j != i) for i, r in enumerate(X)]
    expected_test = [min(cosine(x, r) / s for r, s in zip(X, scales, strict=True)) for x in test]
    pairs = list(zip(X, scales, strict=True))
    expected_train = [min(cosine(x, r) / s for j, (r, s) in enumerate(pairs) if j != i)
                      for i, x in enumerate(X)]
    scorer = scoring.make_scorer("knn-ldn-all").fit(X, domains)
    assert scorer.decision_function(test) == pytest.approx(expected_test, rel=1e-9)
    assert scorer.decision_scores_ == pytest.approx(expected_train, rel=1e-9)
    assert scorer.get_params()["density_neighbors"] == 1 and not scorer.domain_generalization


def test_local_density_survives_duplicates_and_zero_vectors():
    X = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    for dg in (False, True):
        scorer = scoring.LocalDensityKNN(domain_generalization=dg).fit(X)
        assert np.all(np.isfinite(scorer.decision_scores_))
        assert np.all(np.isfinite(scorer.reference_scales_))
        assert np.all(scorer.reference_scales_ > 0)
        assert np.all(np.isfinite(scorer.decision_function([[0.7, 0.7], [0.0, 0.0]])))


@pytest.mark.parametrize("name", sorted(scoring.SCORERS))
def test_one_training_sample_and_duplicates_are_handled(name):
    lone = scoring.make_scorer(name).fit([[1.0, 2.0, 3.0]])
    assert lone.decision_scores_.tolist() == [0.0]
    assert np.isfinite(lone.decision_function([[3.0, 2.0, 1.0]])).all()
    same = scoring.make_scorer(name).fit(np.ones((10, 3)))
    assert np.isfinite(same.decision_scores_).all() and np.isfinite(same.threshold_)


@pytest.mark.parametrize("name", sorted(scoring.SCORERS))
def test_nan_and_bad_shapes_are_user_errors(name):
    scorer = scoring.make_scorer(name)
    with pytest.raises(ASDError, match="NaN"):
        scorer.fit([[1.0, np.nan], [0.0, 1.0]])
    scorer.fit(np.eye(3))
    with pytest.raises(ASDError, match="dimensions"):
        scorer.decision_function(np.ones((2, 4)))
    with pytest.raises(ASDError, match="domains"):
        scoring.make_scorer(name).fit(np.eye(3), domains=["source"])


def test_mahalanobis_per_domain_takes_the_closer_domain():
    rng = np.random.default_rng(4)
    source = _blob(rng, [0, 0, 0], 1.0, 200)
    target = _blob(rng, [10, 0, 0], 0.1, 10)
    X = np.vstack([source, target])
    domains = ["source"] * 200 + ["target"] * 10
    pooled = scoring.Mahalanobis().fit(X, domains)
    selective = scoring.Mahalanobis(per_domain=True).fit(X, domains)
    target_normal = [[10, 0.05, 0]]
    assert selective.decision_function(target_normal)[0] < 3
    assert selective.decision_function(target_normal)[0] < pooled.decision_function(
        target_normal)[0]
    assert selective.means_.shape == (2, 3)


def test_registry_names_the_valid_choices():
    with pytest.raises(ASDError, match="knn, knn-dg, knn-ldn, knn-ldn-all, mahalanobis"):
        scoring.make_scorer("lof")
    with pytest.raises(ASDError, match="no parameter n_centers"):
        scoring.make_scorer("knn", n_centers=4)
    with pytest.raises(ASDError, match="k must be"):
        scoring.make_scorer("knn", k=0).fit(np.eye(2))
    assert isinstance(scoring.make_scorer("knn-dg", n_centers=4),
                      scoring.DomainGeneralizationKNN)
