"""The number of pseudo-labels across data families (issue 17): ARI and NMI per machine of
the clustering labels with k chosen by the earlier rule (PCA of raw features, lowest BIC of a
Gaussian mixture) and by the current one (standardised features, stable clusterings of a
minimum size, highest silhouette: `asdcore.labels.clustering.choose_k`), and of the envelope
labels of machines run at several speeds, with a given band and with the bands the kurtogram
and the envelope lines suggest (RESULTS "Envelope labels' suggested band (issue 17)").
With --candidates, instead: the clustering features compared under the current rule (ARI per
yardstick against the default feature's, the decision rule of RESULTS "Pseudo-label
clustering feature (issue 17)"); with --domains, the default clustering (feature and domain
handling) against candidates with source and target apart.

    python -m bench.bench_label_k [--demo FOLDER] [--plant-seeds 0 ...] [--no-append]
        [--candidates [--features F ...] | --domains] [--only NAME ...]

Yardsticks: `bench.label_yardsticks` (written under /tmp/asd_label_yardsticks). With --demo the
demo preset's attribute-less machines are included (generating it takes a few minutes).
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

from asdcore.labels import (
    clip_features,
    cluster_machine,
    cluster_points,
    envelope_labels,
    machine_clips,
    readable_features,
    reduce,
    suggest_band,
)
from asdcore.labels.clustering import BAND_FEATURES, DEFAULT_FEATURE, DEFAULT_PER_DOMAIN
from asdcore.labels.selection import analysis_rate
from bench.label_yardsticks import quality, yardsticks
from bench.results import append

BASE = Path("/tmp/asd_label_yardsticks")
FEATURES = ("spectrum", "logmel")
# Envelope labelling: yardstick (a plant machine at any dataset seed) -> the band its speed
# shows in (the given band)
ENVELOPE_BANDS = {"pump": (2500.0, 3500.0), "demo bearing": (2500.0, 3500.0),
                  # flow noise swirling at the vane pass; air noise pulsing at the lobe pass
                  "plant pump": (1000.0, 4000.0), "plant blower": (2000.0, 6000.0)}
BAND_CHOICES = ("given", "kurtogram", "lines")
# lines, spectrum+modulation and median-spectrum were measured too (RESULTS, commit 61e585c),
# spectrum+lines and spectrum+shape+lines too (commit b2f8e20), and left out: worse than these
CANDIDATES = ("modulation", "shape+lines", "spectrum")
MAX_DROP = 0.05  # a candidate may lose at most this much ARI on any yardstick
# --domains: the default clustering and a candidate per domain (the first of --features; the
# rules "Pseudo-label clustering default on fresh data" and "... the spectral shape with its
# level", RESULTS); real-fan's fault states are never in a training set, so that yardstick is
# reported and `real-fan normal` decides
DEFAULT_CHOICE = f"{DEFAULT_FEATURE}, {'apart' if DEFAULT_PER_DOMAIN else 'together'}"
DOMAIN_CANDIDATE = "spectrum"  # the default before 2026-12-07
REPORTED_ONLY = ("real-fan",)


def compare_features(sticks, features=(DEFAULT_FEATURE, *CANDIDATES)) -> tuple[str, dict]:
    """ARI, NMI and k of each feature on each yardstick (band features: the kurtogram's band,
    as `cluster_machine` does): ``(markdown rows, {feature: {yardstick: ARI}})``."""
    rows = ["| yardstick | clips | true classes | feature | k | ARI | NMI | seconds |",
            "|---|---|---|---|---|---|---|---|"]
    scores: dict[str, dict[str, float]] = {f: {} for f in features}
    for name, ds, machine, truth in sticks:
        clips = machine_clips(ds, machine)
        band = None
        for feature in features:
            start = time.perf_counter()
            if feature in BAND_FEATURES and band is None:
                band = suggest_band(clips["path"].tolist())
            vectors, kept, _ = readable_features(clips, feature,
                                                 band if feature in BAND_FEATURES else None)
            found, info = cluster_points(reduce(vectors))
            ari, nmi = quality(dict(zip(kept["file"], map(str, found), strict=True)), truth)
            scores[feature][name] = ari
            rows.append(f"| {name} | {len(kept)} | {len(set(truth.values()))} | {feature} | "
                        f"{info['k']} | {ari:.3f} | {nmi:.3f} | "
                        f"{time.perf_counter() - start:.0f} |")
            print(rows[-1], flush=True)
    return "\n".join(rows), scores


def compare_domains(sticks, features=(DEFAULT_FEATURE, DOMAIN_CANDIDATE)) -> tuple[str, dict]:
    """ARI, NMI and k (per domain) of `cluster_machine` with source and target together and
    apart, for each feature: ``(markdown rows, {"feature, together|apart": {yardstick: ARI}})``
    (RESULTS "Pseudo-label clustering per domain (issue 17)")."""
    rows = ["| yardstick | clips | true classes | feature | domains | k | ARI | NMI | seconds |",
            "|---|---|---|---|---|---|---|---|---|"]
    scores: dict[str, dict[str, float]] = {}
    for name, ds, machine, truth in sticks:
        band = None
        for feature in features:
            if feature in BAND_FEATURES and band is None:
                band = suggest_band(machine_clips(ds, machine)["path"].tolist())
            for per_domain in (False, True):
                start = time.perf_counter()
                result = cluster_machine(ds, machine, feature=feature, per_domain=per_domain,
                                         band=band if feature in BAND_FEATURES else None)
                ari, nmi = quality(result.labels, truth)
                how = "apart" if per_domain else "together"
                scores.setdefault(f"{feature}, {how}", {})[name] = ari
                ks = " + ".join(str(group["k"]) for group in result.groups)
                rows.append(f"| {name} | {len(result.labels)} | {len(set(truth.values()))} | "
                            f"{feature} | {how} | {ks} | {ari:.3f} | {nmi:.3f} | "
                            f"{time.perf_counter() - start:.0f} |")
                print(rows[-1], flush=True)
    return "\n".join(rows), scores


def verdict(scores: dict[str, dict[str, float]], default_key: str = DEFAULT_FEATURE) -> str:
    """The rule: a candidate replaces the default when its mean ARI is higher and it loses at
    most `MAX_DROP` on every yardstick; of several, the highest mean."""
    default = scores[default_key]
    lines, passing = [], {}
    for feature, per in scores.items():
        mean = float(np.mean(list(per.values())))
        drops = {n: default[n] - a for n, a in per.items() if default[n] - a > MAX_DROP}
        lines.append(f"- {feature}: mean ARI {mean:.3f}, lowest {min(per.values()):.3f}"
                     + (f"; drops over {MAX_DROP}: "
                        + ", ".join(f"{n} {d:.3f}" for n, d in drops.items()) if drops else ""))
        if feature != default_key and not drops and mean > np.mean(list(default.values())):
            passing[feature] = mean
    winner = max(passing, key=passing.get) if passing else default_key
    return "\n".join(lines) + f"\n\nBy the rule: {winner} is the default."


def earlier_rule(vectors: np.ndarray, k_max: int = 8, seed: int = 0) -> np.ndarray:
    """PCA to 8 dimensions of the raw vectors, the mixture with the lowest BIC (k 1..k_max)."""
    points = PCA(min(8, vectors.shape[1], len(vectors) - 1), random_state=seed
                 ).fit_transform(vectors)
    best, labels = np.inf, np.zeros(len(points), dtype=int)
    for k in range(1, min(k_max, len(points) // 2) + 1):
        try:
            gmm = GaussianMixture(k, covariance_type="full", n_init=3, random_state=seed,
                                  reg_covar=1e-4 * float(points.var(axis=0).mean()) + 1e-12
                                  ).fit(points)
        except ValueError:
            break
        if gmm.bic(points) < best:
            best, labels = gmm.bic(points), gmm.predict(points)
    return labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, default=None, metavar="FOLDER",
                        help="include the demo preset (generated in FOLDER unless it is there)")
    parser.add_argument("--no-append", action="store_true", help="print only")
    parser.add_argument("--candidates", action="store_true",
                        help="compare the clustering features instead")
    parser.add_argument("--domains", action="store_true",
                        help="compare clustering source and target together and apart instead")
    parser.add_argument("--features", nargs="+", default=None, metavar="FEATURE",
                        help="the candidates measured against the default (with --domains the "
                             f"first decides, the others are reported; default {DOMAIN_CANDIDATE}"
                             f"; with --candidates default {' '.join(CANDIDATES)})")
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="these yardsticks only")
    parser.add_argument("--plant-seeds", type=int, nargs="+", default=[0],
                        help="the plant family's dataset seeds (other than 0: 'plant seed N ...')")
    parser.add_argument("--demo-seeds", type=int, nargs="+", default=[],
                        help="the demo preset at these dataset seeds too (other than 0, written "
                             "under the yardsticks' folder: 'demo seed N ...')")
    parser.add_argument("--envelope-only", action="store_true",
                        help="only the envelope labels, not the clustering's number of labels")
    parser.add_argument("--fresh", nargs="+", metavar="NAME",
                        help="with --domains: the yardsticks that decide first (never seen)")
    args = parser.parse_args()
    sticks = [s for s in yardsticks(BASE, args.demo, tuple(args.plant_seeds),
                                    tuple(args.demo_seeds))
              if not args.only or s[0] in args.only]
    if args.domains:
        candidates = args.features or [DOMAIN_CANDIDATE]
        choices = (DEFAULT_CHOICE, f"{candidates[0]}, apart")
        table, scores = compare_domains(sticks, (DEFAULT_FEATURE, *candidates))
        decided = {key: {n: a for n, a in scores[key].items() if n not in REPORTED_ONLY}
                   for key in choices}
        fresh = {key: {n: a for n, a in per.items() if n in (args.fresh or [])}
                 for key, per in decided.items()}
        others = "\n".join(f"- {key}: mean ARI {np.mean(list(per.values())):.3f}, lowest "
                           f"{min(per.values()):.3f}" for key, per in scores.items()
                           if key not in decided)
        reported = "\n".join(f"- {key} on {name}: ARI {per[name]:.3f}"
                             for key, per in scores.items() for name in REPORTED_ONLY
                             if name in per)
        body = (f"Clustering (`cluster_machine`: k auto, PCA 8, Gaussian mixture, seed 0) with "
                f"source and target together and apart; band features on the kurtogram's band."
                f"\n\n{table}\n\n"
                + (f"Decided on the fresh yardsticks ({', '.join(args.fresh)}):\n\n"
                   f"{verdict(fresh, choices[0])}\n\n" if args.fresh else "")
                + f"Decided on every yardstick but {', '.join(REPORTED_ONLY)}:\n\n"
                f"{verdict(decided, choices[0])}\n\nNot decided on:\n\n"
                f"{others}\n{reported}")
        print(body)
        if not args.no_append:
            append("bench_label_k.py --domains: pseudo-labels per domain (issue 17)", body)
        return
    if args.candidates:
        table, scores = compare_features(sticks, (DEFAULT_FEATURE,
                                                  *(args.features or CANDIDATES)))
        body = (f"Features under the rule of issue 17 (k auto, PCA 8, Gaussian mixture, seed 0); "
                f"band features on the kurtogram's band.\n\n{table}\n\n{verdict(scores)}")
        print(body)
        if not args.no_append:
            append("bench_label_k.py --candidates: pseudo-label clustering features (issue 17)",
                   body)
        return
    rows = ["| yardstick | clips | true classes | feature | earlier k | earlier ARI | earlier NMI "
            "| k | ARI | NMI | stability per k | silhouette per k |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    current: list[float] = []
    for name, ds, machine, truth in ([] if args.envelope_only else sticks):
        clips = machine_clips(ds, machine)
        files = clips["file"].tolist()
        n_true = len(set(truth.values()))
        for feature in FEATURES:
            vectors = clip_features(clips, feature)
            before = dict(zip(files, map(str, earlier_rule(vectors)), strict=True))
            start = time.perf_counter()
            found, info = cluster_points(reduce(vectors))
            seconds = time.perf_counter() - start
            after = dict(zip(files, map(str, found), strict=True))
            (a0, n0), (a1, n1) = quality(before, truth), quality(after, truth)
            if feature == "spectrum":
                current.append(a1)
            stability = " ".join(f"{k}:{v:.2f}" for k, v in info["stability"].items())
            silhouette = " ".join(f"{k}:{v:.2f}" for k, v in info["scores"].items())
            rows.append(f"| {name} | {len(files)} | {n_true} | {feature} | "
                        f"{len(set(before.values()))} | {a0:.3f} | {n0:.3f} | {info['k']} | "
                        f"{a1:.3f} | {n1:.3f} | {stability} | {silhouette} |")
            print(rows[-1], f"({seconds:.1f} s to choose k)", flush=True)
    env_rows = ["| yardstick | band | labels (family) | ARI | NMI | seconds |",
                "|---|---|---|---|---|---|"]
    env_ari: dict[str, dict[str, float]] = {choice: {} for choice in BAND_CHOICES}
    for name, ds, machine, truth in sticks:
        family_machine = re.sub(r" seed \d+", "", name)
        given = ENVELOPE_BANDS.get(family_machine)
        if given is None:
            continue
        truth_used = truth
        if family_machine == "demo bearing":  # its speed classes: the vel part of the attributes
            truth_used = {f: t.split("_loc")[0] for f, t in truth.items()}
        paths = machine_clips(ds, machine)["path"].tolist()
        for choice in BAND_CHOICES:
            start = time.perf_counter()
            # None: the engine's default, the envelope-line suggestion since the rule chose it
            band = {"given": given, "lines": None}.get(choice)
            if choice == "kurtogram":
                band = suggest_band(paths, sr=analysis_rate(paths))
            result = envelope_labels(ds, machine, band=band)
            ari, nmi = quality(result.labels, truth_used)
            env_ari[choice][name] = ari
            families = ", ".join(f"{label} ({' '.join(map(str, result.families[label][:6]))})"
                                 for label in result.centres)
            env_rows.append(f"| {name} | {choice} {result.band[0]:.0f}-{result.band[1]:.0f} Hz "
                            f"| {families} | {ari:.3f} | {nmi:.3f} | "
                            f"{time.perf_counter() - start:.1f} |")
            print(env_rows[-1], flush=True)
    env_summary = "; ".join(
        f"{choice}: mean ARI {np.mean(list(aris.values())):.3f}, lowest "
        f"{min(aris.values()):.3f}" for choice, aris in env_ari.items() if aris)
    if env_ari["lines"]:
        drop = max(env_ari["kurtogram"][n] - env_ari["lines"][n] for n in env_ari["lines"])
        env_summary += f"; largest loss of lines against the kurtogram: {drop:+.3f}"
    clustering = "" if args.envelope_only else (
        "Clustering: default feature (log spectrum) and log-mel statistics, source and target "
        "together; `earlier` is PCA of the raw features with the lowest-BIC mixture, the other "
        "columns the rule written above. Mean ARI of the current rule on the log spectrum: "
        f"{np.mean(current):.3f}, lowest {min(current):.3f}.\n\n" + "\n".join(rows) + "\n\n")
    body = (clustering + "Envelope labels of machines run at several speeds (truth: the speed; "
            "band given, suggested by the kurtogram, suggested by the envelope lines; seconds "
            "include the suggestion):\n\n" + "\n".join(env_rows) + f"\n\n{env_summary}.")
    print(body)
    if not args.no_append:
        append("bench_label_k.py: pseudo-labels across data families (issue 17)", body)


if __name__ == "__main__":
    main()
