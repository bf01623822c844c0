"""Pseudo-labels from characteristic frequencies: the rate of impacts (a bearing's ball pass, a
gear's mesh, a train's rail joints) read from each clip's envelope spectrum in one band, then
grouped by 1-D clustering of the (log) frequencies into attribute labels such as ``cf55Hz``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture

from asdcore import audio, dsp
from asdcore.audio import SAMPLE_RATE
from asdcore.constants import ANALYSIS_SECONDS, CHARACTERISTIC_RANGE
from asdcore.dataset import Dataset
from asdcore.errors import ASDError, Cancelled, DiskFull
from asdcore.labels.selection import analysis_rate, load_each, machine_clips, unusable_reason
from asdcore.progress import CancelFn, ProgressFn, check_cancel, report, stage

BAND_SAMPLE_CLIPS = 16  # clips whose kurtograms are averaged to suggest a band
LINE_SAMPLE_CLIPS = 8  # clips whose envelope lines are compared band by band
DEFAULT_K_MAX = 8
# A clip must hold this many periods of the lowest fundamental searched (fmin) for its
# envelope spectrum to resolve it: shorter ones give a frequency that means nothing.
MIN_PERIODS = 10
# Within one class, speeds and their estimates scatter by about this fraction; the variance
# floor of the mixture, so BIC does not split a class on its scatter.
RELATIVE_SPREAD = 0.01
FAMILY_TOLERANCE = 0.01  # relative: where a harmonic is looked for
# Per-clip fundamentals of one speed class lie within this ratio of their neighbours'.
FAMILY_GAP = 0.03
SUBHARMONIC_T = 4.0  # pooled evidence that clips belong to a lower group's family
STRAGGLER_SHARE = 0.25  # a group this much smaller than the largest is a few stray clips


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
    harmonics: dict[str, list[int]] = field(default_factory=dict)  # numbers seen, per clip
    families: dict[str, list[int]] = field(default_factory=dict)  # per label: its family


def suggest_band(paths: list[str], fmin: float = 0.0, fmax: float | None = None,
                 progress: ProgressFn | None = None, cancel: CancelFn | None = None,
                 sr: int = SAMPLE_RATE) -> dsp.Band:
    """The band where a machine's clips are most impulsive: the maximum of the mean kurtogram
    of up to `BAND_SAMPLE_CLIPS` clips spread over ``paths`` (their first `ANALYSIS_SECONDS`,
    at ``sr``), its centre in [fmin, fmax]. Clips that cannot be read, or are too short for the
    kurtogram's longest window, are left out; raises `ASDError` when none is left."""
    grams = _over_sample_clips(paths, BAND_SAMPLE_CLIPS, lambda y: dsp.kurtogram(y, sr),
                               progress, cancel, sr, "kurtogram")
    # a short clip has fewer window lengths: average the clips that have them all
    rows = max(kurtosis.shape[0] for kurtosis, _, _ in grams)
    full = [gram for gram in grams if gram[0].shape[0] == rows]
    _, freqs, bandwidths = full[0]
    mean = np.mean([kurtosis for kurtosis, _, _ in full], axis=0)
    return dsp.best_band(mean, freqs, bandwidths, fmin, fmax)


def suggest_line_band(paths: list[str], fmin: float = CHARACTERISTIC_RANGE[0],
                      fmax: float = CHARACTERISTIC_RANGE[1],
                      n_harmonics: int = dsp.N_HARMONICS, progress: ProgressFn | None = None,
                      cancel: CancelFn | None = None, sr: int = SAMPLE_RATE) -> dsp.Band:
    """The band whose envelope shows the clearest lines: of the candidate bands
    (`dsp.line_bands`), the one whose strongest envelope line in [fmin, n_harmonics fmax]
    stands highest over its floor (`dsp.line_prominence`), as the median over up to
    `LINE_SAMPLE_CLIPS` clips spread over ``paths``.

    The kurtogram looks for impacts; a machine whose speed shows as modulated noise (a pump's
    flow, a blower's pulsation) has none, and in a hall with intermittent background sounds
    the kurtogram picks those instead (bench/RESULTS.md, "suggested band")."""
    bands = dsp.line_bands(sr)
    if not bands:
        raise ASDError(f"A sample rate of {sr} Hz leaves no band to analyse.")
    top = n_harmonics * fmax

    def prominences(y):
        _check_resolvable(y, sr, fmin)
        values = []
        for band in bands:
            spectrum, freqs = dsp.envelope_spectrum(y, sr, band, fmax=top + 1.0)
            values.append(dsp.line_prominence(spectrum, freqs, fmin, top, fmin))
        return values

    found = _over_sample_clips(paths, LINE_SAMPLE_CLIPS, prominences, progress, cancel, sr,
                               "envelope lines")
    return bands[int(np.argmax(np.median(found, axis=0)))]


def _check_resolvable(y: np.ndarray, sr: int, fmin: float) -> None:
    """Refuse a clip too short for its envelope spectrum to resolve ``fmin``."""
    shortest = MIN_PERIODS / fmin  # seconds
    if len(y) < shortest * sr:
        raise ASDError(f"too short for an envelope spectrum: {len(y) / sr:.2f} s holds fewer "
                       f"than {MIN_PERIODS} periods of the lowest frequency searched "
                       f"({fmin:g} Hz); it needs at least {shortest:.2f} s")


def _over_sample_clips(paths: list[str], count: int, measure, progress: ProgressFn | None,
                       cancel: CancelFn | None, sr: int, what: str) -> list:
    """``measure(y)`` of up to ``count`` clips spread evenly over ``paths`` (their first
    `ANALYSIS_SECONDS` at ``sr``); clips that cannot be read or measured are left out, and
    `ASDError` says why when none is left."""
    if not paths:
        raise ASDError("There are no clips to suggest a band from.")
    chosen = np.unique(np.linspace(0, len(paths) - 1, min(count, len(paths))).astype(int))
    results, reasons = [], []
    for i, index in enumerate(chosen):
        check_cancel(cancel)
        try:
            results.append(measure(audio.load(paths[index], sr, seconds=ANALYSIS_SECONDS)))
        except (Cancelled, DiskFull):
            raise
        except ASDError as err:  # unreadable, or too short: the other clips decide
            reasons.append(f"{paths[index]}: {unusable_reason(paths[index], err)}")
        report(progress, i + 1, len(chosen), what)
    if not results:
        raise ASDError(f"No clip could be read or measured for the {what}; the first: "
                       f"{reasons[0]}.")
    return results


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

    ``band`` defaults to `suggest_line_band` (the kurtogram's band missed the speed of
    machines whose speed shows as modulated noise: bench/RESULTS.md, "Envelope labels'
    suggested band"); the fundamental is searched in
    [fmin, fmax] (`dsp.characteristic_frequency`), then the frequencies are grouped
    (`frequency_groups`) and each group named after its median frequency. Each clip is
    analysed on its first `ANALYSIS_SECONDS` (a long recording on its beginning); a
    clip that cannot be read or analysed gets no label and is listed with its reason in the
    result's ``skipped``.
    """
    fmin, fmax = dsp.check_characteristic_range(fmin, fmax)
    clips = machine_clips(ds, machine, splits)
    paths = clips["path"].tolist()
    sr = analysis_rate(paths)
    if band is None:
        band = suggest_line_band(paths, fmin, fmax, n_harmonics,
                                 progress=stage(progress, 0, 2, "band"), cancel=cancel, sr=sr)
    else:
        band = (float(band[0]), float(band[1]))
    spectra = []  # each clip's envelope spectrum over its floor, in units of its line threshold

    def estimate(y):
        _check_resolvable(y, sr, fmin)
        found = dsp.envelope_characteristic(y, sr, band, fmin, fmax, n_harmonics)
        above = found.spectrum - dsp.spectral_baseline(found.spectrum, found.freqs, fmin)
        spectra.append(LineSpectrum((above / found.line_threshold).astype(np.float32),
                                    float(found.freqs[1] - found.freqs[0])))
        return found.f0, found.salience

    found, unusable = load_each(paths, estimate,
                                stage(progress, 1, 2, "characteristic frequencies"),
                                cancel, "characteristic frequencies", sr=sr)
    skipped = [{"file": clips["file"].iloc[i], "reason": reason} for i, reason in unusable.items()]
    clips = clips.drop(index=clips.index[list(unusable)]).reset_index(drop=True)
    frequencies, harmonics = consistent_families(found[:, 0], spectra, fmin)
    salience = found[:, 1]
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
                "k": k, "k_max": k_max, "splits": list(splits), "seed": seed, "sr": sr},
        skipped=skipped,
        harmonics={f: list(h) for f, h in zip(files, harmonics, strict=True)},
        families={names[g]: _family_numbers(harmonics, groups == g) for g in range(len(names))})


def _family_numbers(harmonics: list[tuple[int, ...]], members: np.ndarray) -> list[int]:
    """Harmonic numbers seen in at least half the clips of a group: its family."""
    counts = Counter(n for h, m in zip(harmonics, members, strict=True) if m for n in h)
    return sorted(n for n, c in counts.items() if c >= members.sum() / 2)


@dataclass(frozen=True)
class LineSpectrum:
    """One clip's envelope spectrum over its floor in units of its line threshold (1: a line),
    from 0 Hz in steps of ``df``."""

    heights: np.ndarray
    df: float

    def at(self, frequencies: np.ndarray, tolerance: float = FAMILY_TOLERANCE) -> np.ndarray:
        """The highest value within ``tolerance`` (at least a bin) of each frequency."""
        freqs = np.arange(len(self.heights)) * self.df
        centres = np.asarray(frequencies, dtype=np.float64)
        inside = centres < freqs[-1]
        values = np.zeros(centres.shape)
        values[inside] = dsp.window_max(self.heights.astype(np.float64), freqs,
                                         centres[inside], tolerance)
        return values


def consistent_families(frequencies: np.ndarray, spectra: list[LineSpectrum], fmin: float
                        ) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """Each clip's fundamental made consistent across a machine's clips, and the harmonic
    numbers of the lines each clip shows: ``(fundamentals, harmonic numbers per clip)``.

    Clips whose own lines put them at a whole multiple ``n`` of another group's fundamental
    (the vane-pass rate of a pump, five times its shaft rate, say) are moved down to it when,
    pooled over the group, their spectra show the lower group's lines below ``n`` (weighted by
    how strongly the lower group shows each of them) significantly above the levels half-way
    between (`_subharmonic_score` above `SUBHARMONIC_T`). A speed twice
    another shows nothing at the lower fundamental and stays apart. Conversely a group whose
    pooled lines are mostly a higher group's family (`_superharmonic_group`) moves up to it,
    unless it is a straggler. A straggler (a clip in a group under `STRAGGLER_SHARE` of the
    largest) whose line at harmonic ``n`` falls on a common group moves up to it: its own
    estimate was a subharmonic.
    """
    frequencies = np.array(frequencies, dtype=np.float64)
    for _ in range(len(frequencies)):  # a move merges two groups: the bound is only a guard
        groups = ratio_groups(frequencies)
        centres = [float(np.median(frequencies[g])) for g in groups]
        if not (_move_down(frequencies, spectra, groups, centres, fmin)
                or _move_up(frequencies, spectra, groups, centres)):
            break
    groups = ratio_groups(frequencies)
    straggler = _stragglers(groups)
    centres = np.array([np.median(frequencies[g]) for g, s in zip(groups, straggler, strict=True)
                        if not s])
    for group in (g for g, s in zip(groups, straggler, strict=True) if s):
        for i in group:  # a straggler below a common group: its subharmonic (octave error)?
            seen = _seen_harmonics(frequencies[i], spectra[i])
            for n in seen:
                near = np.abs(frequencies[i] * n / centres - 1) <= 2 * FAMILY_TOLERANCE
                if n > 1 and near.any():
                    frequencies[i] *= n
                    break
    return frequencies, [_seen_harmonics(f, s) for f, s in zip(frequencies, spectra,
                                                                strict=True)]


def _move_down(frequencies, spectra, groups, centres, fmin) -> bool:
    """Move the highest group that belongs to a lower group's family down to it (in place)."""
    for upper in np.argsort(centres)[::-1]:
        target = _subharmonic_group(frequencies, spectra, groups, centres, int(upper), fmin)
        if target is not None:
            frequencies[groups[upper]] /= int(round(centres[upper] / centres[target]))
            return True
    return False


def _move_up(frequencies, spectra, groups, centres) -> bool:
    """Move the lowest group whose lines are a higher group's family up to it (in place);
    stragglers are left to the straggler step (moved into a large label, a misread clip costs
    more than on its own: bench/RESULTS.md, "the upward family step for groups that are not
    stragglers")."""
    straggler = _stragglers(groups)
    for lower in np.argsort(centres):
        if straggler[lower]:
            continue
        target = _superharmonic_group(frequencies, spectra, groups, centres, int(lower))
        if target is not None:
            frequencies[groups[lower]] *= int(round(centres[target] / centres[lower]))
            return True
    return False


def _stragglers(groups: list[np.ndarray]) -> list[bool]:
    """Whether each group holds under `STRAGGLER_SHARE` of the largest group's clips."""
    largest = max(len(g) for g in groups)
    return [len(g) < STRAGGLER_SHARE * largest for g in groups]


def _multiple(centres: list[float], lower: int, upper: int) -> int | None:
    """``n`` when group ``upper``'s centre is n = 2..`dsp.MAX_HARMONIC` times ``lower``'s
    (within the family tolerance), else None."""
    ratio = centres[upper] / centres[lower]
    n = int(round(ratio))
    if n < 2 or n > dsp.MAX_HARMONIC or abs(ratio - n) > FAMILY_TOLERANCE * n:
        return None
    return n


def _superharmonic_group(frequencies, spectra, groups, centres, lower) -> int | None:
    """The higher group whose family the clips of ``lower`` show, or None: of the groups at
    ``n`` times its centre, the highest at whose harmonics (the multiples of n of ``lower``'s)
    its clips' pooled line levels hold `dsp.EXPLAINED_SHARE` of those at all its harmonics.
    Weak lines between them (which one clip's family search weighs almost as much as strong
    ones) then do not make a speed of their own (bench/RESULTS.md, "one family for a group
    whose lines are another group's"); a genuine speed shows its own fundamental and odd
    harmonics strongly and stays."""
    uppers = [(int(u), n) for u in np.argsort(centres)
              if (n := _multiple(centres, lower, int(u))) is not None]
    if not uppers:  # the common case: no group at a multiple, nothing to pool
        return None
    levels = _pooled_levels(frequencies, spectra, groups[lower])
    if levels.sum() <= 0:
        return None
    numbers = np.arange(1, len(levels) + 1)
    best = None
    for upper, n in uppers:
        if levels[numbers % n == 0].sum() >= dsp.EXPLAINED_SHARE * levels.sum():
            best = upper
    return best


def _pooled_levels(frequencies, spectra, members) -> np.ndarray:
    """Mean over the ``members`` clips of their line levels (`_contrast`) at harmonics 1.. of
    their own fundamental, as far as every member's spectrum reaches, clipped at 0."""
    reach = min(len(spectra[i].heights) * spectra[i].df / frequencies[i] for i in members)
    count = int(min(dsp.MAX_HARMONIC, np.floor(reach) - 1))
    if count < 1:
        return np.zeros(0)
    numbers = np.arange(1, count + 1)
    return np.clip(np.mean([_contrast(spectra[i], frequencies[i] * numbers) for i in members],
                           axis=0), 0, None)


def ratio_groups(frequencies: np.ndarray) -> list[np.ndarray]:
    """Indices of frequencies grouped where sorted neighbours differ by less than `FAMILY_GAP`
    (as a ratio)."""
    order = np.argsort(frequencies)
    log_f = np.log(np.asarray(frequencies)[order])
    cuts = np.flatnonzero(np.diff(log_f) > np.log1p(FAMILY_GAP)) + 1
    return np.split(order, cuts)


def _subharmonic_group(frequencies, spectra, groups, centres, upper, fmin) -> int | None:
    """The lower group whose family the clips of ``upper`` belong to, or None."""
    best, best_t = None, SUBHARMONIC_T
    for lower in range(len(centres)):
        n = _multiple(centres, lower, upper)
        if n is None:
            continue
        below = np.arange(1, n)
        template = np.clip(np.mean([_contrast(spectra[i], frequencies[i] * below)
                                    for i in groups[lower]], axis=0), 0, None)
        if template.sum() <= 0:
            continue
        evidence = np.array([_contrast(spectra[i], frequencies[i] / n * below) @ template
                             for i in groups[upper]]) / template.sum()
        t = _subharmonic_score(evidence)
        if t > best_t:
            best, best_t = lower, t
    return best


def _contrast(spectrum: LineSpectrum, frequencies: np.ndarray) -> np.ndarray:
    """Levels at ``frequencies`` less the levels half a step above them."""
    step = frequencies[0] if len(frequencies) else 0.0
    return spectrum.at(frequencies) - spectrum.at(frequencies + step / 2)


def _subharmonic_score(values: np.ndarray) -> float:
    """How surely clips with this evidence show the lower family: the one-sided t statistic
    of its mean, or `SUBHARMONIC_T` times the mean when that is higher (a mean at a line's
    threshold is a line however few the clips; a lone clip has no spread)."""
    mean = float(np.mean(values)) if len(values) else 0.0
    if len(values) < 2:
        return mean * SUBHARMONIC_T
    spread = float(np.std(values, ddof=1)) / np.sqrt(len(values))
    return max(mean / max(spread, 1e-12), mean * SUBHARMONIC_T)


def _seen_harmonics(f0: float, spectrum: LineSpectrum) -> tuple[int, ...]:
    """Harmonic numbers of ``f0`` at which the clip's spectrum shows a line."""
    numbers = np.arange(1, dsp.MAX_HARMONIC + 1)
    levels = spectrum.at(f0 * numbers)
    return tuple(int(n) for n in numbers[levels >= 1.0])
