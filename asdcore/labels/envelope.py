"""Pseudo-labels from characteristic frequencies: the rate of impacts (a bearing's ball pass, a
gear's mesh, a train's rail joints) read from each clip's envelope spectrum in one band, then
grouped by 1-D clustering of the (log) frequencies into attribute labels such as ``cf55Hz``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture

from asdcore import audio, dsp
from asdcore.audio import SAMPLE_RATE
from asdcore.constants import ANALYSIS_SECONDS, CHARACTERISTIC_RANGE
from asdcore.dataset import Dataset
from asdcore.errors import ASDError, Cancelled, DiskFull
from asdcore.labels.selection import load_each, machine_clips, unusable_reason
from asdcore.progress import CancelFn, ProgressFn, check_cancel, report, stage

BAND_SAMPLE_CLIPS = 16  # clips whose kurtograms are averaged to suggest a band
DEFAULT_K_MAX = 8
# A clip must hold this many periods of the lowest fundamental searched (fmin) for its
# envelope spectrum to resolve it: shorter ones give a frequency that means nothing.
MIN_PERIODS = 10
# Within one class, speeds and their estimates scatter by about this fraction; the variance
# floor of the mixture, so BIC does not split a class on its scatter.
RELATIVE_SPREAD = 0.01


@dataclass
class EnvelopeResult:
    """Labels (``file`` -> label), each clip's characteristic frequency and salience, and the
    centre (median frequency) of every label."""

    labels: dict[str, str]
    frequencies: dict[str, float]
    salience: dict[str, float]
    centres: dict[str, float]
    band: dsp.Band
    k: int
    criterion: str
    scores: dict[int, float] = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    # clips left unlabelled because they could not be read or analysed: {"file", "reason"}
    skipped: list[dict] = field(default_factory=list)


def suggest_band(paths: list[str], fmin: float = 0.0, fmax: float | None = None,
                 progress: ProgressFn | None = None, cancel: CancelFn | None = None) -> dsp.Band:
    """The band where a machine's clips are most impulsive: the maximum of the mean kurtogram
    of up to `BAND_SAMPLE_CLIPS` clips spread over ``paths`` (their first `ANALYSIS_SECONDS`),
    its centre in [fmin, fmax]. Clips that cannot be read, or are too short for the kurtogram's
    longest window, are left out; raises `ASDError` when none is left."""
    if not paths:
        raise ASDError("There are no clips to suggest a band from.")
    chosen = np.unique(np.linspace(0, len(paths) - 1,
                                   min(BAND_SAMPLE_CLIPS, len(paths))).astype(int))
    grams, reasons = [], []
    for i, index in enumerate(chosen):
        check_cancel(cancel)
        try:
            grams.append(dsp.kurtogram(audio.load(paths[index], seconds=ANALYSIS_SECONDS),
                                       SAMPLE_RATE))
        except (Cancelled, DiskFull):
            raise
        except ASDError as err:  # unreadable, or too short: the other clips decide
            reasons.append(f"{paths[index]}: {unusable_reason(paths[index], err)}")
        report(progress, i + 1, len(chosen), "kurtogram")
    if not grams:
        raise ASDError(f"No clip could be read for a kurtogram; the first: {reasons[0]}.")
    # a short clip has fewer window lengths: average the clips that have them all
    rows = max(kurtosis.shape[0] for kurtosis, _, _ in grams)
    full = [gram for gram in grams if gram[0].shape[0] == rows]
    _, freqs, bandwidths = full[0]
    mean = np.mean([kurtosis for kurtosis, _, _ in full], axis=0)
    return dsp.best_band(mean, freqs, bandwidths, fmin, fmax)


def frequency_groups(frequencies: np.ndarray, k: int | str = "auto", k_max: int = DEFAULT_K_MAX,
                     seed: int = 0) -> tuple[np.ndarray, str, dict[int, float]]:
    """Group frequencies by 1-D clustering of their logarithms (speed classes are ratios):
    ``(group 0..k-1 ascending in frequency, criterion, scores)``. ``k="auto"``: the lowest BIC
    of a Gaussian mixture with 1..k_max components; a given k: 1-D k-means."""
    log_f = np.log(np.asarray(frequencies, dtype=np.float64)).reshape(-1, 1)
    distinct = len(np.unique(log_f))
    if k == "auto":
        def mixture(n):
            return GaussianMixture(n, n_init=3, reg_covar=RELATIVE_SPREAD ** 2,
                                   random_state=seed).fit(log_f)
        scores = {n: float(mixture(n).bic(log_f)) for n in range(1, min(k_max, distinct) + 1)}
        k, criterion = min(scores, key=scores.get), "bic"
        groups = mixture(k).predict(log_f)
    else:
        if not isinstance(k, (int, np.integer)) or not 1 <= k <= distinct:
            raise ASDError(f"Cannot make {k!r} frequency groups of {distinct} distinct "
                           "frequencies.")
        groups = KMeans(k, n_init=10, random_state=seed).fit_predict(log_f)
        criterion, scores = "given", {}
    # renumber in order of frequency, so labels read low to high
    order = np.argsort([np.median(log_f[groups == g]) for g in np.unique(groups)])
    rank = {int(g): r for r, g in enumerate(np.unique(groups)[order])}
    return np.array([rank[int(g)] for g in groups]), criterion, scores


def group_names(centres: list[float]) -> list[str]:
    """Readable, distinct names for groups with these centre frequencies: ``cf55Hz``, ..."""
    for decimals in (0, 1, 2, 3):
        names = [f"cf{c:.{decimals}f}Hz" for c in centres]
        if len(set(names)) == len(names):
            return names
    return [f"cf{i}-{c:.3f}Hz" for i, c in enumerate(centres)]


def envelope_labels(ds: Dataset, machine: str, band: dsp.Band | None = None,
                    fmin: float = CHARACTERISTIC_RANGE[0],
                    fmax: float = CHARACTERISTIC_RANGE[1],
                    n_harmonics: int = dsp.N_HARMONICS, k: int | str = "auto",
                    k_max: int = DEFAULT_K_MAX, splits: tuple[str, ...] = ("train",),
                    seed: int = 0, progress: ProgressFn | None = None,
                    cancel: CancelFn | None = None) -> EnvelopeResult:
    """Label a machine's clips by the characteristic frequency of their envelope in ``band``.

    ``band`` defaults to the kurtogram's suggestion; the fundamental is searched in
    [fmin, fmax] (`dsp.characteristic_frequency`), then the frequencies are grouped
    (`frequency_groups`) and each group named after its median frequency. Each clip is
    analysed on its first `ANALYSIS_SECONDS` (a long recording on its beginning); a
    clip that cannot be read or analysed gets no label and is listed with its reason in the
    result's ``skipped``.
    """
    fmin, fmax = dsp.check_characteristic_range(fmin, fmax)
    clips = machine_clips(ds, machine, splits)
    paths = clips["path"].tolist()
    if band is None:
        band = suggest_band(paths, progress=stage(progress, 0, 2, "band"), cancel=cancel)
    else:
        band = (float(band[0]), float(band[1]))
    shortest = MIN_PERIODS / fmin  # seconds

    def estimate(y):
        if len(y) < shortest * SAMPLE_RATE:
            raise ASDError(f"too short for an envelope spectrum: {len(y) / SAMPLE_RATE:.2f} s "
                           f"holds fewer than {MIN_PERIODS} periods of the lowest frequency "
                           f"searched ({fmin:g} Hz); it needs at least {shortest:.2f} s")
        found = dsp.envelope_characteristic(y, SAMPLE_RATE, band, fmin, fmax, n_harmonics)
        return found.f0, found.salience

    found, unusable = load_each(paths, estimate,
                                stage(progress, 1, 2, "characteristic frequencies"),
                                cancel, "characteristic frequencies")
    skipped = [{"file": clips["file"].iloc[i], "reason": reason} for i, reason in unusable.items()]
    clips = clips.drop(index=clips.index[list(unusable)]).reset_index(drop=True)
    frequencies, salience = found[:, 0], found[:, 1]
    groups, criterion, scores = frequency_groups(frequencies, k, k_max, seed)
    centres = [float(np.median(frequencies[groups == g])) for g in range(groups.max() + 1)]
    names = group_names(centres)
    files = clips["file"].tolist()
    return EnvelopeResult(
        labels={f: names[g] for f, g in zip(files, groups, strict=True)},
        frequencies={f: float(v) for f, v in zip(files, frequencies, strict=True)},
        salience={f: float(v) for f, v in zip(files, salience, strict=True)},
        centres=dict(zip(names, centres, strict=True)), band=band, k=len(names),
        criterion=criterion,
        scores=scores,
        params={"band": list(band), "fmin": fmin, "fmax": fmax, "n_harmonics": n_harmonics,
                "k": k, "k_max": k_max, "splits": list(splits), "seed": seed},
        skipped=skipped)
