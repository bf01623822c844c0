"""Yardsticks for detectors (issue 16): datasets in the DCASE layout, one per seed, built once
into the cache, on which the seed system, the AE and the statistics are compared.

- ``demo``: the built-in demo preset generated with the seed (generator family "demo");
- ``dcase``: the DCASE-size preset generated with the seed, usually for a few machine types;
- ``plant``: the demo preset of the second synthetic family ("plant": other machine models in
  another room and noise model), generated with the seed;
- ``real-fan``: the shared real fan recordings (`../shared/real-fan`), cut into 4 s clips
  (training clips overlap by half, to give the models more windows; test clips do not). The
  2020-03-18 session is the source domain (7 ON recordings), the 2021-02-10 session the target
  domain (5 ON recordings, 13 s each: a few target clips, as in DCASE). Seed ``s`` is a fold:
  ON recordings 2s and 2s+1 of each session (in time order, cyclically) are held out for the
  test, the others train; the 6 BLADE FAULT and TAPPING recordings (all from the source
  session) are the anomalies of every fold. No recording is split across train and test. OFF
  (not running) and FAN_GUARDS (unclear) are left out. The official score is defined because
  the evaluator's AUC of a domain takes that domain's normals against every anomaly.
- ``real-fan-levelled``: the same folds with every clip scaled to one RMS level
  (`LEVELLED_RMS_DB`), so that loudness alone (the blade fault is about 15 dB louder, and
  clipped) no longer tells the states apart: a diagnostic of whether real recordings can rank
  systems once the trivial cue is gone.
- ``real-fan-noisy``: the levelled folds with the plant family's hall background (its source
  hall: a coloured floor, distant machines, a forklift, a beeper, air bursts, babble; a new
  draw for every clip) added `NOISY_SNR_DB` below each clip's level: real machine sounds in a
  synthetic factory's noise, for a real yardstick that the loud faults do not saturate.
"""

from __future__ import annotations

import shutil
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import torch

from asdcore import synth
from asdcore.augment import mix_at_snr
from asdcore.errors import ASDError
from asdcore.paths import cache_dir
from asdcore.synth import plant

SHARED = Path(__file__).resolve().parents[2] / "shared"
REAL_FAN = SHARED / "real-fan"
REAL_FAN_CLIP_SECONDS = 4.0
REAL_FAN_TRAIN_HOP_SECONDS = 2.0
REAL_FAN_VERSION = "1"  # bump when the fold layout changes, so cached folds are rebuilt
LEVELLED_RMS_DB = -26.0  # dBFS: the ON recordings' level
NOISY_SNR_DB = -10.0  # real-fan-noisy: the clip's level over the hall background's
YARDSTICKS = ("demo", "dcase", "plant", "real-fan", "real-fan-levelled", "real-fan-noisy")


def dataset_for(yardstick: str, seed: int, machines: list[str] | None = None) -> Path:
    """The yardstick's dataset for ``seed`` (built into the cache on first use); ``machines``
    restricts a synthetic one to those machine types."""
    base = cache_dir() / "bench"
    suffix = f"-{'-'.join(sorted(machines))}" if machines else ""
    if yardstick in ("demo", "dcase"):
        return synth.generate(base / f"{yardstick}-seed{seed}{suffix}", preset=yardstick,
                              seed=seed, machines=machines)
    if yardstick == "plant":
        return synth.generate(base / f"plant-seed{seed}{suffix}", preset="demo", seed=seed,
                              machines=machines, family="plant")
    if machines:
        raise ASDError("Only the synthetic yardsticks can be restricted to some machines.")
    if yardstick == "real-fan":
        return real_fan_fold(base / f"real-fan-v{REAL_FAN_VERSION}-fold{seed}", seed)
    if yardstick == "real-fan-levelled":
        return real_fan_fold(base / f"real-fan-levelled-v{REAL_FAN_VERSION}-fold{seed}", seed,
                             levelled=True)
    if yardstick == "real-fan-noisy":
        return real_fan_fold(base / f"real-fan-noisy{NOISY_SNR_DB:g}dB-v{REAL_FAN_VERSION}-"
                             f"fold{seed}", seed, levelled=True, snr_db=NOISY_SNR_DB)
    raise ASDError(f"Unknown yardstick {yardstick!r}; choose one of {', '.join(YARDSTICKS)}.")


def real_fan_split(fold: int) -> pd.DataFrame:
    """The recordings of ``fold``: ``file, domain, split, label``."""
    table = pd.read_csv(REAL_FAN / "truth.csv").sort_values("recorded_at")
    rows = []
    for session, domain in (("2020-03-18", "source"), ("2021-02-10", "target")):
        on = table[(table["state"] == "ON") & table["recorded_at"].str.startswith(session)]
        held_out = {(2 * fold) % len(on), (2 * fold + 1) % len(on)}
        rows += [(f, domain, "test" if i in held_out else "train", "normal")
                 for i, f in enumerate(on["file"])]
    faults = table[table["label"] == "anomaly"]
    rows += [(f, "source", "test", "anomaly") for f in faults["file"]]
    return pd.DataFrame(rows, columns=["file", "domain", "split", "label"])


def real_fan_fold(out: Path, fold: int, levelled: bool = False,
                  snr_db: float | None = None) -> Path:
    """Write fold ``fold`` of the real fan yardstick to ``out`` (once; written in a temporary
    folder and renamed, so a killed build leaves nothing half-written); ``levelled``: every
    clip at `LEVELLED_RMS_DB`; ``snr_db``: the plant hall's background added that many dB
    below the clip (a draw of its own per clip, the same on every rebuild)."""
    if (out / "fan" / "test").is_dir():
        return out
    if not REAL_FAN.is_dir():
        raise ASDError(f"The real fan recordings are not at {REAL_FAN}.")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    counters: dict[tuple, int] = {}
    for row in real_fan_split(fold).itertuples():
        y, sr = sf.read(REAL_FAN / row.file, dtype="int16")
        n = int(REAL_FAN_CLIP_SECONDS * sr)
        hop = int((REAL_FAN_TRAIN_HOP_SECONDS if row.split == "train"
                   else REAL_FAN_CLIP_SECONDS) * sr)
        folder = staging / "fan" / row.split
        folder.mkdir(parents=True, exist_ok=True)
        for start in range(0, len(y) - n + 1, hop):
            key = (row.domain, row.split, row.label)
            index = counters[key] = counters.get(key, -1) + 1
            name = (f"section_00_{row.domain}_{row.split}_{row.label}_{index:04d}_"
                    f"{synth.NO_ATTRIBUTE}.wav")
            clip = y[start:start + n]
            if levelled:
                samples = clip.astype(np.float64) / 32768.0
                rms = max(float(np.sqrt(np.mean(samples ** 2))), 1e-9)
                samples *= 10 ** (LEVELLED_RMS_DB / 20) / rms
                if snr_db is not None:
                    samples = _in_hall_noise(samples, snr_db,
                                             zlib.crc32(f"{fold}/{row.split}/{name}".encode()))
                clip = samples.astype(np.float32)
            sf.write(folder / name, clip, sr, subtype="FLOAT" if levelled else "PCM_16")
    try:
        staging.rename(out)
    except OSError:  # built meanwhile by another process
        shutil.rmtree(staging, ignore_errors=True)
    return out


def _in_hall_noise(samples: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    """``samples`` with the plant family's source-hall background ``snr_db`` below them (the
    engine's noise mixing, `augment.mix_at_snr`)."""
    noise = plant.hall_background(len(samples), plant.HALLS["source"],
                                  np.random.default_rng(seed))
    mixed = mix_at_snr(torch.from_numpy(samples)[None], torch.from_numpy(noise)[None],
                       torch.tensor([float(snr_db)], dtype=torch.float64))
    return mixed[0].numpy()


__all__ = ["YARDSTICKS", "dataset_for", "real_fan_fold", "real_fan_split"]
