"""Pseudo-labels by clustering a machine's clips: features, reduction, clustering, number of
clusters.

Features (one vector per clip; the default `DEFAULT_FEATURE`, with source and target apart):
``spectrum`` (high-resolution Welch log spectrum), ``envelope``
(log envelope spectrum of a band, the kurtogram's suggestion by default), ``logmel`` (mean and
standard deviation of each log-mel band over time), ``embedding`` (a trained run's clip
embeddings), ``modulation`` (where the envelope spectrum's lines are, not how strong each is:
speed as a machine's harmonic family shows it), ``shape+lines`` (spectral shape, where the
spectrum's lines are and where the envelope's are, weighed alike; bench/RESULTS.md, issue 17)
and ``shape+lines+level`` (the same and the clip's overall level).
Vectors are standardised per dimension and reduced by PCA (or UMAP when umap-learn is
installed), then clustered by k-means, a Gaussian mixture or Ward's agglomerative clustering;
the number of clusters is given or chosen (`choose_k`: stable clusterings of a minimum size, the
highest silhouette among them) up to a cap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture

from asdcore import dsp, features
from asdcore.audio import SAMPLE_RATE
from asdcore.dataset import Dataset
from asdcore.errors import ASDError, Cancelled, DiskFull
from asdcore.labels.envelope import suggest_band
from asdcore.labels.selection import load_each, machine_clips, unusable_reason
from asdcore.progress import CancelFn, ProgressFn, check_cancel, report, stage

# The blocks of each block feature, in order (bench/RESULTS.md, issue 17): ``shape`` 1/6-octave
# band levels less their mean, ``level`` that mean (a fan at rest and running differ in it),
# ``spectrum lines`` and ``modulation`` the line patterns of the spectrum and of the envelope
# spectrum. The log spectrum as one more block was measured (commit b2f8e20) and left out: it
# fails where both features do.
FEATURE_BLOCKS = {
    "modulation": ("modulation",),
    "shape+lines": ("shape", "spectrum lines", "modulation"),
    "shape+lines+level": ("shape", "spectrum lines", "modulation", "level"),
}
BLOCK_FEATURES = tuple(FEATURE_BLOCKS)
# The default clustering: bench/RESULTS.md, "the spectral shape with its level ... the rule
# applied" (issue 17); source and target apart as the seed does it (../shared/DCASE.md §5).
DEFAULT_FEATURE, DEFAULT_PER_DOMAIN = "shape+lines+level", True
FEATURES = (DEFAULT_FEATURE,  # the default first: the page offers them in this order
            *(f for f in (*BLOCK_FEATURES, "spectrum", "envelope", "logmel", "embedding")
              if f != DEFAULT_FEATURE))
BAND_FEATURES = ("envelope", *BLOCK_FEATURES)  # features of a band's envelope
METHODS = ("gmm", "kmeans", "ward")
REDUCTIONS = ("pca", "umap")
SPECTRUM_NPERSEG = 4096  # 3.9 Hz bins at 16 kHz: resolves rotation harmonics
ENVELOPE_GRID = np.arange(1.0, 500.0, 0.5)  # Hz: rates of impacts and modulations
# Line patterns: a spectrum in dB over its running median, less LINE_MARGIN_DB (a noise bin's
# maximum reaches about that), clipped at LINE_CAP_DB (so which member of a harmonic family is
# strongest in a clip hardly matters), max-pooled on a grid whose steps are LINE_STEP of the
# frequency (a speed drifting 0.5 % stays in its bin) and at least a few resolution bins.
LINE_MARGIN_DB, LINE_CAP_DB, LINE_STEP = 6.0, 20.0, 0.015
MODULATION_RANGE, MODULATION_MIN_STEP, MODULATION_MEDIAN_HZ = (5.0, 500.0), 1.0, 20.0
SPECTRUM_LINE_RANGE, SPECTRUM_LINE_MIN_STEP, SPECTRUM_MEDIAN_HZ = (30.0, 7900.0), 8.0, 100.0
SHAPE_RANGE, SHAPE_BANDS_PER_OCTAVE = (50.0, 7900.0), 6  # spectral shape: band levels
DEFAULT_K_MAX = 8


@dataclass
class ClusterResult:
    """Labels per clip (``file`` -> label) and how they came about."""

    labels: dict[str, str]
    groups: list[dict]  # per clustered group (all clips, or one domain): k, sizes, scores...
    params: dict = field(default_factory=dict)
    # clips left unlabelled because they could not be read or analysed: {"file", "reason"}
    skipped: list[dict] = field(default_factory=list)


def clip_features(clips: pd.DataFrame, feature: str, band: dsp.Band | None = None,
                  run: str | Path | None = None, progress: ProgressFn | None = None,
                  cancel: CancelFn | None = None) -> np.ndarray:
    """One feature vector per row of ``clips`` (a `Dataset.clips` slice): ``[n_clips, dims]``.

    ``band`` is the envelope feature's band (None: the whole signal); ``run`` the run (name or
    path) whose embeddings the ``embedding`` feature uses. Clips are analysed on their first
    `constants.ANALYSIS_SECONDS` (the log-mel feature: on the front end's clip length).
    Raises `ASDError`
    when a clip cannot be used; `readable_features` skips such clips instead.
    """
    vectors, _, skipped = readable_features(clips, feature, band, run, progress, cancel)
    if skipped:
        raise ASDError(f"Cannot use {skipped[0]['file']}: {skipped[0]['reason']}.")
    return vectors


def readable_features(clips: pd.DataFrame, feature: str, band: dsp.Band | None = None,
                      run: str | Path | None = None, progress: ProgressFn | None = None,
                      cancel: CancelFn | None = None
                      ) -> tuple[np.ndarray, pd.DataFrame, list[dict]]:
    """`clip_features` of the clips that can be used: ``(vectors, kept clips, skipped)``.

    A clip that cannot be read (removed or damaged since the scan) or analysed (too short) has
    no vector: it is left out of ``kept clips`` (``clips`` without it, re-indexed 0..n-1, row i
    for vector i) and listed in ``skipped`` as ``{"file": ..., "reason": ...}``. Raises
    `ASDError` when no clip can be used.
    """
    paths = clips["path"].tolist()
    if feature in BLOCK_FEATURES:
        vectors, skipped = _block_features(paths, feature, band, progress, cancel)
    elif feature == "spectrum":
        vectors, skipped = load_each(paths, _log_spectrum, progress, cancel, "spectra")
    elif feature == "envelope":
        def log_envelope_spectrum(y):
            spectrum, freqs = dsp.envelope_spectrum(y, SAMPLE_RATE, band,
                                                    fmax=ENVELOPE_GRID[-1] + 1)
            level = dsp.to_db(np.interp(ENVELOPE_GRID, freqs, spectrum), "magnitude")
            return level - level.mean()
        vectors, skipped = load_each(paths, log_envelope_spectrum, progress, cancel,
                                     "envelope spectra")
    elif feature == "logmel":
        vectors, skipped = _logmel_statistics(paths, progress, cancel)
    elif feature == "embedding":
        if run is None:
            raise ASDError("The embedding feature needs a trained run to take embeddings from.")
        return run_embeddings(run, clips), clips.reset_index(drop=True), []
    else:
        raise ASDError(f"Unknown feature {feature!r}; choose one of {', '.join(FEATURES)}.")
    keep = np.ones(len(clips), dtype=bool)
    keep[list(skipped)] = False
    return (vectors, clips[keep].reset_index(drop=True),
            [{"file": clips["file"].iloc[i], "reason": reason} for i, reason in skipped.items()])


def _log_spectrum(y: np.ndarray) -> np.ndarray:
    """Welch log spectrum at `SPECTRUM_NPERSEG` less its mean (the gain is no attribute)."""
    _check_length(y, "spectrum")
    psd, _ = dsp.welch_spectrum(y, SAMPLE_RATE, nperseg=SPECTRUM_NPERSEG)
    return psd - psd.mean()


def _check_length(y: np.ndarray, feature: str) -> None:
    if len(y) < SPECTRUM_NPERSEG:
        raise ASDError(f"is too short for the {feature} feature ({len(y)} samples, "
                       f"{SPECTRUM_NPERSEG} needed)")


def _line_grid(low: float, high: float, min_step: float) -> np.ndarray:
    """Grid from ``low`` to ``high`` in steps of `LINE_STEP` of the frequency, ``min_step`` at
    least."""
    grid = [low]
    while grid[-1] < high:
        grid.append(grid[-1] + max(LINE_STEP * grid[-1], min_step))
    return np.array(grid)


def _pool(values: np.ndarray, freqs: np.ndarray, grid: np.ndarray, how: str) -> np.ndarray:
    """``values`` pooled (``max`` or ``mean``) into cells around ``grid`` (edges half-way); a
    cell holding no frequency takes the value interpolated at its centre."""
    edges = (grid[:-1] + grid[1:]) / 2
    cell = np.searchsorted(edges, freqs)
    inside = (freqs >= 1.5 * grid[0] - 0.5 * grid[1]) & (freqs <= 1.5 * grid[-1] - 0.5 * grid[-2])
    cell, values_in = cell[inside], values[inside]
    out = np.interp(grid, freqs, values)
    if how == "max":
        pooled = np.full(len(grid), -np.inf)
        np.maximum.at(pooled, cell, values_in)
    else:
        counts = np.bincount(cell, minlength=len(grid))
        pooled = np.bincount(cell, values_in, minlength=len(grid)) / np.maximum(counts, 1)
        pooled[counts == 0] = -np.inf
    return np.where(np.isfinite(pooled), pooled, out)


def _line_pattern(level_db: np.ndarray, freqs: np.ndarray, median_hz: float, grid: np.ndarray
                  ) -> np.ndarray:
    """Where a dB spectrum has lines (see `LINE_MARGIN_DB`), pooled on ``grid``."""
    above = level_db - dsp.spectral_baseline(level_db, freqs, median_hz) - LINE_MARGIN_DB
    return _pool(np.clip(above, 0.0, LINE_CAP_DB), freqs, grid, "max")


MODULATION_GRID = _line_grid(*MODULATION_RANGE, MODULATION_MIN_STEP)
SPECTRUM_LINE_GRID = _line_grid(*SPECTRUM_LINE_RANGE, SPECTRUM_LINE_MIN_STEP)
SHAPE_GRID = SHAPE_RANGE[0] * 2.0 ** (
    np.arange(int(np.log2(SHAPE_RANGE[1] / SHAPE_RANGE[0]) * SHAPE_BANDS_PER_OCTAVE) + 1)
    / SHAPE_BANDS_PER_OCTAVE)
BLOCK_GRIDS = {"shape": SHAPE_GRID, "spectrum lines": SPECTRUM_LINE_GRID,
               "modulation": MODULATION_GRID,  # the frequencies each block is pooled on
               "level": np.zeros(1)}  # one value, over the shape's range


def _modulation_lines(y: np.ndarray, band: dsp.Band | None) -> np.ndarray:
    spectrum, freqs = dsp.envelope_spectrum(y, SAMPLE_RATE, band,
                                            fmax=MODULATION_RANGE[1] + 1.0)
    return _line_pattern(dsp.to_db(spectrum, "magnitude"), freqs, MODULATION_MEDIAN_HZ,
                         MODULATION_GRID)


def _clip_blocks(y: np.ndarray, blocks: tuple[str, ...], band: dsp.Band | None
                 ) -> list[np.ndarray]:
    """The named blocks (`FEATURE_BLOCKS`) of one clip, in order."""
    if {"shape", "level", "spectrum lines"} & set(blocks):
        power, freqs = dsp.welch_spectrum(y, SAMPLE_RATE, nperseg=SPECTRUM_NPERSEG, db=False)
        bands_db = dsp.to_db(_pool(power, freqs, SHAPE_GRID, "mean"))
    parts = []
    for name in blocks:
        if name == "shape":
            parts.append(bands_db - bands_db.mean())
        elif name == "level":
            parts.append(np.array([bands_db.mean()]))
        elif name == "spectrum lines":
            parts.append(_line_pattern(dsp.to_db(power), freqs, SPECTRUM_MEDIAN_HZ,
                                       SPECTRUM_LINE_GRID))
        else:
            parts.append(_modulation_lines(y, band))
    return parts


def _block_features(paths: list[str], feature: str, band: dsp.Band | None,
                    progress: ProgressFn | None, cancel: CancelFn | None
                    ) -> tuple[np.ndarray, dict[int, str]]:
    """The features made of blocks (`FEATURE_BLOCKS`), each block centred and scaled to a
    mean squared norm of 1 over the clips, so that none outweighs the others by its number of
    dimensions: ``(vectors, skipped)``."""
    names = FEATURE_BLOCKS[feature]

    def blocks(y):
        _check_length(y, feature)
        return np.concatenate(_clip_blocks(y, names, band))

    vectors, skipped = load_each(paths, blocks, progress, cancel, f"{feature} features")
    sizes = [len(BLOCK_GRIDS[name]) for name in names]
    scaled = []
    for block in np.split(vectors, np.cumsum(sizes)[:-1], axis=1):
        block = block - block.mean(axis=0)
        scaled.append(block / max(float(np.sqrt((block ** 2).sum(axis=1).mean())), 1e-12))
    return np.concatenate(scaled, axis=1), skipped


def _logmel_statistics(paths: list[str], progress: ProgressFn | None,
                       cancel: CancelFn | None) -> tuple[np.ndarray, dict[int, str]]:
    """Mean and standard deviation of every log-mel band: ``(vectors, skipped)`` as `load_each`."""
    def statistics(logmel):
        return np.concatenate([logmel.mean(axis=2), logmel.std(axis=2)], axis=1)

    try:
        return statistics(features.extract(paths, progress=progress, cancel=cancel)), {}
    except (Cancelled, DiskFull):
        raise
    except ASDError:
        pass
    # Some clip cannot be read: go clip by clip (the readable ones' features are cached by now,
    # except those of the batch that failed).
    rows, skipped = [], {}
    for i, path in enumerate(paths):
        check_cancel(cancel)
        try:
            rows.append(features.extract([path], num_workers=1)[0])
        except (Cancelled, DiskFull):
            raise
        except ASDError as err:
            skipped[i] = unusable_reason(path, err)
    if not rows:
        raise ASDError(f"None of the {len(paths)} clips could be used; the first: "
                       f"{paths[0]}: {skipped[0]}.")
    return statistics(np.stack(rows)), skipped


def run_embeddings(run: str | Path, clips: pd.DataFrame) -> np.ndarray:
    """The embeddings a run saved for ``clips``, matched on ``<machine>/<split>/<name>`` (so a
    run trained on another level of the same dataset folder still matches)."""
    from asdcore.results import saved_embeddings
    from asdcore.runs import open_run

    machine = clips["machine"].iloc[0]
    ids, vectors, _ = saved_embeddings(open_run(run), machine)
    row_of = {"/".join(str(i).split("/")[-3:]): row for row, i in enumerate(ids)}
    missing = [f for f in clips["file"] if f not in row_of]
    if missing:
        raise ASDError(f"The run {run} has no embedding for {len(missing)} of the clips, "
                       f"e.g. {missing[0]}; was it trained on this dataset?")
    return vectors[[row_of[f] for f in clips["file"]]].astype(np.float64)


# A dimension whose spread over the clips exceeds this many times the median dimension's is
# scaled down to it: a loud band cannot decide alone, while quiet dimensions (mostly noise in a
# high-resolution spectrum) are not blown up as full z-scores would.
LOUD_SPREAD = 3.0


def standardise(vectors: np.ndarray) -> np.ndarray:
    """``vectors`` centred, every dimension whose spread over the clips exceeds `LOUD_SPREAD`
    times the median dimension's scaled down to that."""
    vectors = np.asarray(vectors, dtype=np.float64)
    spread = vectors.std(axis=0)
    typical = float(np.median(spread))
    if typical <= 0:
        typical = float(spread.max(initial=0.0)) or 1.0
    return (vectors - vectors.mean(axis=0)) / np.maximum(spread / (LOUD_SPREAD * typical), 1.0)


def reduce(vectors: np.ndarray, method: str = "pca", n_components: int = 8,
           seed: int = 0) -> np.ndarray:
    """``vectors`` `standardise`d and reduced to at most ``n_components`` dimensions (PCA, or
    UMAP)."""
    vectors = standardise(vectors)
    n = min(n_components, vectors.shape[1], max(len(vectors) - 1, 1))
    if method == "pca":
        return PCA(n_components=n, random_state=seed).fit_transform(vectors)
    if method == "umap":
        try:
            import umap  # optional: a heavy import that compiles numba code on first use
        except ImportError:
            raise ASDError("UMAP reduction needs the umap-learn package; install it or use "
                           "PCA.") from None
        pca = PCA(n_components=min(50, vectors.shape[1], len(vectors)), random_state=seed)
        return umap.UMAP(n_components=n, n_neighbors=min(15, len(vectors) - 1),
                         random_state=seed).fit_transform(pca.fit_transform(vectors))
    raise ASDError(f"Unknown reduction {method!r}; choose one of {', '.join(REDUCTIONS)}.")


# k is chosen (``k="auto"``) by stability and silhouette, a rule fixed before it was measured
# (bench/RESULTS.md, issue 17): among k whose smallest cluster holds at least MIN_LABEL_CLIPS
# clips (and MIN_LABEL_SHARE of them) and whose clustering is stable (mean ARI of fits on
# STABILITY_FITS subsamples of SUBSAMPLE_SHARE of the clips against the fit on all, at least
# MIN_STABILITY), the highest silhouette; none: one label.
MIN_LABEL_CLIPS, MIN_LABEL_SHARE = 3, 0.02
STABILITY_FITS, SUBSAMPLE_SHARE, MIN_STABILITY = 10, 0.8, 0.8


def cluster_points(points: np.ndarray, method: str = "gmm", k: int | str = "auto",
                   k_max: int = DEFAULT_K_MAX, seed: int = 0) -> tuple[np.ndarray, dict]:
    """Cluster rows of ``points``: ``(labels 0..k-1, diagnostics)``.

    ``k="auto"`` picks the number of clusters among 2..k_max (at most a third of the clips):
    `choose_k`. Diagnostics: ``k``, ``criterion``, ``scores`` (silhouette per k tried),
    ``stability`` and ``smallest`` (per k tried), ``silhouette`` (of the result; None for one
    cluster) and ``sizes``.
    """
    if method not in METHODS:
        raise ASDError(f"Unknown clustering method {method!r}; choose one of {', '.join(METHODS)}.")
    n = len(points)
    if k != "auto" and (not isinstance(k, (int, np.integer)) or k < 1):
        raise ASDError("The number of clusters must be a positive whole number or 'auto', "
                       f"not {k!r}.")
    if k != "auto" and k > n:
        raise ASDError(f"Cannot make {k} clusters of {n} clips.")
    tried: dict = {"scores": {}, "stability": {}, "smallest": {}}
    if k == "auto":
        k, tried = choose_k(points, method, max(1, min(k_max, n // 3)), seed)
        criterion = "stability+silhouette"
    else:
        criterion = "given"
    labels = _fit(points, method, int(k), seed)
    return labels, {
        "k": int(k), "criterion": criterion, **tried,
        "silhouette": _silhouette(points, labels),
        "sizes": np.bincount(labels, minlength=int(k)).tolist(),
    }


def choose_k(points: np.ndarray, method: str, k_max: int, seed: int = 0
             ) -> tuple[int, dict[str, dict[int, float]]]:
    """The number of clusters by the rule above: ``(k, {"scores": silhouette per k,
    "stability": per k, "smallest": smallest cluster per k})``."""
    n = len(points)
    min_size = max(MIN_LABEL_CLIPS, int(np.ceil(MIN_LABEL_SHARE * n)))
    rng = np.random.default_rng(seed)
    subsamples = [np.sort(rng.choice(n, max(2, int(SUBSAMPLE_SHARE * n)), replace=False))
                  for _ in range(STABILITY_FITS)]
    tried: dict[str, dict[int, float]] = {"scores": {}, "stability": {}, "smallest": {}}
    for k in range(2, k_max + 1):
        try:
            full = _fit(points, method, k, seed)
        except ASDError:  # too few clips for k (a collapsed mixture component)
            break
        silhouette = _silhouette(points, full)
        if silhouette is None:
            break
        agreement = [adjusted_rand_score(full, _fit_predict(points, rows, method, k, seed))
                     for rows in subsamples]
        tried["scores"][k] = silhouette
        tried["stability"][k] = float(np.mean(agreement))
        tried["smallest"][k] = int(np.bincount(full, minlength=k).min())
    good = [k for k in tried["scores"]
            if tried["smallest"][k] >= min_size and tried["stability"][k] >= MIN_STABILITY]
    if not good:
        return 1, tried
    return max(good, key=lambda k: (tried["scores"][k], -k)), tried


def _fit_predict(points, rows, method, k, seed) -> np.ndarray:
    """Cluster ``points[rows]`` and assign every point: by the mixture or k-means model, for
    Ward's clustering to the nearest cluster mean."""
    subset = points[rows]
    try:
        if method == "gmm":
            return _mixture(subset, k, seed, n_init=1).predict(points)  # 10 fits: cheap ones
        if method == "kmeans":
            return KMeans(k, n_init=3, random_state=seed).fit(subset).predict(points)
    except ValueError:  # a component collapsed on the subsample: the fit disagrees
        return np.zeros(len(points), dtype=np.intp)
    found = AgglomerativeClustering(k, linkage="ward").fit_predict(subset)
    means = np.stack([subset[found == c].mean(axis=0) for c in range(k)])
    return np.argmin(((points[:, None, :] - means[None]) ** 2).sum(axis=2), axis=1)


def _mixture(points, k, seed, n_init: int = 3) -> GaussianMixture:
    # Full covariances: attribute clusters are elongated and tilted in PCA space (diagonal ones
    # made BIC split every cluster on the demo). The ridge is relative to the data's spread.
    return GaussianMixture(k, covariance_type="full", n_init=n_init,
                           reg_covar=1e-4 * float(points.var(axis=0).mean()) + 1e-12,
                           random_state=seed).fit(points)


def _fit(points, method, k, seed) -> np.ndarray:
    if k == 1:
        return np.zeros(len(points), dtype=np.intp)
    if method == "gmm":
        try:
            return _mixture(points, k, seed).predict(points)
        except ValueError:
            raise ASDError(f"A Gaussian mixture of {k} components does not fit these "
                           f"{len(points)} clips; ask for fewer clusters.") from None
    if method == "kmeans":
        return KMeans(k, n_init=10, random_state=seed).fit_predict(points)
    return AgglomerativeClustering(k, linkage="ward").fit_predict(points)


def _silhouette(points, labels) -> float | None:
    n_clusters = len(np.unique(labels))
    if not 2 <= n_clusters <= len(points) - 1:
        return None
    return float(silhouette_score(points, labels))


def cluster_machine(ds: Dataset, machine: str, feature: str = DEFAULT_FEATURE,
                    method: str = "gmm",
                    k: int | str = "auto", k_max: int = DEFAULT_K_MAX, reduction: str = "pca",
                    n_components: int = 8, per_domain: bool = DEFAULT_PER_DOMAIN,
                    splits: tuple[str, ...] = ("train",), band: dsp.Band | None = None,
                    run: str | Path | None = None, seed: int = 0,
                    progress: ProgressFn | None = None, cancel: CancelFn | None = None
                    ) -> ClusterResult:
    """Pseudo-labels for one machine's clips by clustering ``feature`` vectors.

    With ``per_domain`` the source and target clips are clustered separately (labels
    ``source-c0``, ``target-c0`` ...), else together (``c0``, ``c1`` ...). Clusters are numbered
    by size, largest first. The envelope feature's band defaults to the kurtogram's suggestion.
    Each clip is analysed on its first `constants.ANALYSIS_SECONDS` (a long recording on its
    beginning); a clip that cannot be read or analysed gets no label and is listed with its
    reason in the result's ``skipped``.
    """
    clips = machine_clips(ds, machine, splits)
    if feature in BAND_FEATURES and band is None:
        band = suggest_band(clips["path"].tolist(), cancel=cancel)
    vectors, clips, skipped = readable_features(clips, feature, band, run,
                                                stage(progress, 0, 2, "features"), cancel)
    groups = clips.groupby("domain").indices if per_domain else {"": np.arange(len(clips))}
    labels, diagnostics = {}, []
    for g, (domain, rows) in enumerate(groups.items()):
        points = reduce(vectors[rows], reduction, n_components, seed)
        found, info = cluster_points(points, method, k if k == "auto" else min(k, len(rows)),
                                     k_max, seed)
        by_size = np.argsort(-np.bincount(found), kind="stable")
        names = {int(c): f"{domain}-c{rank}" if domain else f"c{rank}"
                 for rank, c in enumerate(by_size)}
        for row, c in zip(rows, found, strict=True):
            labels[clips["file"].iloc[row]] = names[int(c)]
        info["sizes"] = sorted(info["sizes"], reverse=True)
        diagnostics.append({"domain": domain or "all", "n_clips": int(len(rows)), **info})
        report(stage(progress, 1, 2, "clustering"), g + 1, len(groups))
    params = {"feature": feature, "method": method, "k": k, "k_max": k_max,
              "reduction": reduction, "n_components": n_components, "per_domain": per_domain,
              "splits": list(splits), "band": list(band) if band else None,
              "run": str(run) if run else None, "seed": seed}
    return ClusterResult(labels, diagnostics, params, skipped)
