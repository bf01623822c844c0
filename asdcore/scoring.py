"""Anomaly scorers on embeddings, following the scikit-learn estimator contract.

``fit(X, domains=None)`` returns the scorer; ``decision_function(X)`` gives one score per row,
higher = more anomalous; fitted state ends in ``_``: ``decision_scores_`` (scores of the
training samples) and ``threshold_`` (`gamma_threshold` of those, at ``threshold_percentile``).
``decide(X)`` turns scores into DCASE decisions (1 = anomalous, 0 = normal). ``domains`` is one
"source"/"target" per training row (None: all source). Fit one scorer per machine and section.

Scorers (all KNN variants use the cosine distance ``1 - cos`` of L2-normalised embeddings; a
zero vector stays zero, so its distance to anything is 1):

- `CosineKNN`: mean distance to the ``k`` nearest training embeddings.
- `DomainGeneralizationKNN`: references are ``n_centers`` k-means centres of the source
  embeddings plus ALL target embeddings, so the few target samples are not outvoted by the
  many source ones; score = mean of the ``k`` smallest distances (k=1: the minimum).
- `LocalDensityKNN`: every distance to a reference r is divided by r's local scale, the mean
  distance from r to its ``density_neighbors`` nearest other distinct references; score = mean
  of the ``k`` smallest normalised distances. References are the domain-generalisation ones
  (default) or all training embeddings.
- `Mahalanobis`: Ledoit-Wolf shrunk covariance around the mean; with ``per_domain`` one mean
  and covariance per domain and the minimum distance over domains (the baseline's selective
  Mahalanobis mode).

Training scores are leave-one-out for the KNN scorers: a training sample is never compared
with itself (nor with a k-means centre recomputed without it), else every score would be ~0
and the threshold meaningless.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans
from sklearn.covariance import LedoitWolf
from sklearn.utils.validation import check_is_fitted

from asdcore.errors import ASDError
from asdcore.metrics import gamma_threshold

# Distances at or below this count as "the same point" when estimating local density.
_SAME_POINT = 1e-9


class _Scorer(BaseEstimator):
    """Shared fit/score/threshold logic; subclasses implement `_fit` and `_score`."""

    def fit(self, X, domains=None):
        X = _check_embeddings(X)
        is_target = _target_mask(domains, len(X))
        self._check_params()
        self.n_features_in_ = X.shape[1]
        self.decision_scores_ = self._fit(X, is_target)
        self.threshold_ = gamma_threshold(self.decision_scores_, self.threshold_percentile)
        return self

    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self, "decision_scores_")
        X = _check_embeddings(X)
        if X.shape[1] != self.n_features_in_:
            raise ASDError(f"Embeddings have {X.shape[1]} dimensions, but the scorer was fitted "
                           f"on {self.n_features_in_}.")
        return self._score(X)

    def decide(self, X) -> np.ndarray:
        """DCASE decisions: 1 where the score exceeds ``threshold_``, else 0."""
        return (self.decision_function(X) > self.threshold_).astype(int)

    def _check_params(self) -> None:
        if not 0.0 < self.threshold_percentile < 1.0:
            raise ASDError("threshold_percentile must lie between 0 and 1, "
                           f"not {self.threshold_percentile}.")
        for name in ("k", "n_centers", "density_neighbors"):
            value = getattr(self, name, 1)
            if not (isinstance(value, (int, np.integer)) and value >= 1):
                raise ASDError(f"{name} must be a whole number of at least 1, not {value!r}.")


class _CosineReferenceScorer(_Scorer):
    """KNN over a reference set: score = mean of the k smallest (scaled) cosine distances."""

    def _fit(self, X: np.ndarray, is_target: np.ndarray) -> np.ndarray:
        unit = _unit_rows(X)
        self.references_, train_distances = self._references(unit, is_target)
        self.reference_scales_ = self._scales(self.references_)
        return _mean_of_smallest(train_distances / self.reference_scales_, self.k)

    def _score(self, X: np.ndarray) -> np.ndarray:
        distances = _cosine_distances(_unit_rows(X), self.references_)
        return _mean_of_smallest(distances / self.reference_scales_, self.k)

    def _scales(self, references: np.ndarray) -> np.ndarray:
        return np.ones(len(references))


class CosineKNN(_CosineReferenceScorer):
    """Mean cosine distance to the ``k`` nearest training embeddings."""

    def __init__(self, k: int = 1, threshold_percentile: float = 0.9):
        self.k = k
        self.threshold_percentile = threshold_percentile

    def _references(self, unit, is_target):
        return _all_samples_as_references(unit)


class DomainGeneralizationKNN(_CosineReferenceScorer):
    """Cosine KNN against k-means centres of the source plus every target embedding."""

    def __init__(self, n_centers: int = 16, k: int = 1, random_state: int = 0,
                 normalize_centres: bool = True, threshold_percentile: float = 0.9):
        self.n_centers = n_centers
        self.k = k
        self.random_state = random_state
        self.normalize_centres = normalize_centres
        self.threshold_percentile = threshold_percentile

    def _references(self, unit, is_target):
        return _domain_generalization_references(unit, is_target, self.n_centers,
                                                 self.random_state, self.normalize_centres)


class LocalDensityKNN(_CosineReferenceScorer):
    """Cosine KNN with each distance divided by the reference's local scale.

    The scale of reference r is the mean distance from r to its ``density_neighbors`` nearest
    other references, ignoring exact duplicates of r (which would give a zero scale); a
    reference without any distinct neighbour takes the median scale of the others (1 when
    there are none). A sample in a sparse region of normal data is thus not penalised for
    the sparsity itself.
    """

    def __init__(self, k: int = 1, density_neighbors: int = 1,
                 domain_generalization: bool = True, n_centers: int = 16,
                 random_state: int = 0, normalize_centres: bool = True,
                 threshold_percentile: float = 0.9):
        self.k = k
        self.density_neighbors = density_neighbors
        self.domain_generalization = domain_generalization
        self.n_centers = n_centers
        self.random_state = random_state
        self.normalize_centres = normalize_centres
        self.threshold_percentile = threshold_percentile

    def _references(self, unit, is_target):
        if self.domain_generalization:
            return _domain_generalization_references(unit, is_target, self.n_centers,
                                                     self.random_state, self.normalize_centres)
        return _all_samples_as_references(unit)

    def _scales(self, references):
        distances = _cosine_distances(references, references)
        distances[distances <= _SAME_POINT] = np.inf  # itself and its exact duplicates
        scales = _mean_of_smallest(distances, self.density_neighbors, empty=np.nan)
        known = scales[np.isfinite(scales)]
        fallback = float(np.median(known)) if known.size else 1.0
        return np.where(np.isfinite(scales), scales, fallback)


class AllReferencesLocalDensityKNN(LocalDensityKNN):
    """`LocalDensityKNN` with every training embedding as a reference (no k-means centres):
    a reference's scale is then its distance to the nearest other training clip, so a test
    clip is measured against the spacing of normal clips where it lands, in either domain."""

    def __init__(self, k: int = 1, density_neighbors: int = 1,
                 threshold_percentile: float = 0.9):
        super().__init__(k=k, density_neighbors=density_neighbors, domain_generalization=False,
                         threshold_percentile=threshold_percentile)


class Mahalanobis(_Scorer):
    """Mahalanobis distance with a Ledoit-Wolf shrunk covariance.

    With ``per_domain``, each domain gets its own mean and covariance and the score is the
    minimum distance over domains. A domain with fewer than two samples borrows the covariance
    of all training samples (around its own mean); a tiny ridge keeps every covariance
    invertible.
    """

    def __init__(self, per_domain: bool = False, threshold_percentile: float = 0.9):
        self.per_domain = per_domain
        self.threshold_percentile = threshold_percentile

    def _fit(self, X, is_target):
        pooled = _shrunk_covariance(X)
        groups = [~is_target, is_target] if self.per_domain else [np.ones(len(X), bool)]
        means, precisions = [], []
        for members in groups:
            if not members.any():
                continue
            covariance = _shrunk_covariance(X[members]) if members.sum() >= 2 else pooled
            means.append(X[members].mean(axis=0))
            precisions.append(np.linalg.inv(covariance))
        self.means_ = np.stack(means)
        self.precisions_ = np.stack(precisions)
        return self._score(X)

    def _score(self, X):
        distances = []
        for mean, precision in zip(self.means_, self.precisions_, strict=True):
            centred = X - mean
            squared = np.einsum("ij,jk,ik->i", centred, precision, centred)
            distances.append(np.sqrt(np.maximum(squared, 0.0)))
        return np.min(distances, axis=0)


SCORERS: dict[str, type[_Scorer]] = {
    "knn": CosineKNN,
    "knn-dg": DomainGeneralizationKNN,
    "knn-ldn": LocalDensityKNN,
    "knn-ldn-all": AllReferencesLocalDensityKNN,
    "mahalanobis": Mahalanobis,
}


def make_scorer(name: str, **params) -> _Scorer:
    """A scorer from the registry by name, e.g. ``make_scorer("knn-dg", n_centers=8)``."""
    if name not in SCORERS:
        raise ASDError(f"Unknown scorer {name!r}; choose one of {', '.join(SCORERS)}.")
    cls = SCORERS[name]
    valid = cls._get_param_names()
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ASDError(f"Scorer {name!r} has no parameter {', '.join(unknown)}; "
                       f"its parameters are {', '.join(valid)}.")
    return cls(**params)


# --- pure helpers ----------------------------------------------------------------------------

def _check_embeddings(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ASDError(f"Embeddings must be a non-empty 2-D array, got shape {X.shape}.")
    if not np.all(np.isfinite(X)):
        raise ASDError("Embeddings contain NaN or infinite values.")
    return X


def _target_mask(domains, n: int) -> np.ndarray:
    if domains is None:
        return np.zeros(n, dtype=bool)
    domains = np.asarray(domains, dtype=object)
    if domains.shape != (n,):
        raise ASDError(f"Got {domains.size} domains for {n} embeddings.")
    unknown = set(domains) - {"source", "target"}
    if unknown:
        raise ASDError(f"Domains must be 'source' or 'target', not {sorted(map(str, unknown))}.")
    return domains == "target"


def _unit_rows(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


def _cosine_distances(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    return np.clip(1.0 - A @ B.T, 0.0, 2.0)


def _mean_of_smallest(values: np.ndarray, k: int, empty: float = 0.0) -> np.ndarray:
    """Row-wise mean of the k smallest finite values (fewer if a row has fewer).

    Infinite entries mark excluded pairs; a row with none left gets ``empty`` (0 for a lone
    training sample: the only thing it can be compared with is itself).
    """
    smallest = np.sort(values, axis=1)[:, :k]
    finite = np.isfinite(smallest)
    counts = finite.sum(axis=1)
    sums = np.where(finite, smallest, 0.0).sum(axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), empty)


def _all_samples_as_references(unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    distances = _cosine_distances(unit, unit)
    np.fill_diagonal(distances, np.inf)
    return unit, distances


def _domain_generalization_references(unit: np.ndarray, is_target: np.ndarray,
                                      n_centers: int, random_state: int,
                                      normalize_centres: bool = True):
    """References (source k-means centres, then all targets) and leave-one-out training
    distances: a target sample skips itself, a source sample sees its own centre recomputed
    without it (or skips it when it is the centre's only member).

    Without ``normalize_centres`` a centre keeps the length of its members' mean (below 1 for
    a spread cluster, so its distances grow with the spread), as the SSL recipe's code uses
    k-means centres."""
    centre_rows = _unit_rows if normalize_centres else np.asarray
    source = unit[~is_target]
    centres = np.empty((0, unit.shape[1]))
    members = np.empty(0, dtype=int)
    if len(source):
        n_distinct = len(np.unique(source, axis=0))  # more centres than points is pointless
        labels = KMeans(n_clusters=min(n_centers, n_distinct), n_init=10,
                        random_state=random_state).fit(source).labels_
        # Centres as member means (not cluster_centers_) so leave-one-out is exact; ids are
        # renumbered in case k-means left a cluster empty.
        ids, members = np.unique(labels, return_inverse=True)
        centres = np.stack([source[members == c].mean(axis=0) for c in range(len(ids))])
    references = np.concatenate([centre_rows(centres), unit[is_target]])
    distances = _cosine_distances(unit, references)

    target_rows = np.flatnonzero(is_target)
    distances[target_rows, len(centres) + np.arange(len(target_rows))] = np.inf
    source_rows = np.flatnonzero(~is_target)
    sizes = np.bincount(members, minlength=len(centres))
    for row, centre in zip(source_rows, members, strict=True):
        if sizes[centre] == 1:
            distances[row, centre] = np.inf
        else:
            without_row = (centres[centre] * sizes[centre] - unit[row]) / (sizes[centre] - 1)
            distances[row, centre] = _cosine_distances(unit[row:row + 1],
                                                       centre_rows(without_row[None]))[0, 0]
    return references, distances


def _shrunk_covariance(X: np.ndarray) -> np.ndarray:
    if len(X) < 2:  # no spread to estimate: the ridge alone
        covariance = np.zeros((X.shape[1], X.shape[1]))
    else:
        covariance = LedoitWolf().fit(X).covariance_
    ridge = 1e-6 * max(float(np.trace(covariance)) / len(covariance), 1e-12)
    return covariance + ridge * np.eye(len(covariance))
