"""Yardsticks for pseudo-labels: machines whose hidden classes are known, written as
attribute-free DCASE-style machine folders, with the truth per clip.

- ``demo``: the demo preset's attribute-less machines (truth: their hidden attributes);
- ``plant``: the same for the plant family's attribute-less machines (pump speed, compressor
  load, blower speed; demo preset, seed 0, written under ``base/plant``; other dataset seeds on
  request, named ``plant seed N machine`` under ``base/plant-seedN``): another family of
  machines, rooms and noise than the demo's;
- ``real-fan``: the shared fan recordings cut into clips (truth: the recording's state);
  ``real-fan normal`` the same of the states a normal training set can hold;
- ``cwru``: the shared CWRU bearing vibration cut into 1 s clips at its own 12 kHz rate
  (truth: the fault condition);
- ``pump``: a machine at four speeds whose clips each show a different member of one harmonic
  family strongest (truth: the speed; ``tests/harmonic_family_data.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import soundfile as sf

from asdcore import dataset, synth
from asdcore.labels import machine_clips
from asdcore.labels.quality import truth_of

SHARED = Path(__file__).resolve().parents[2] / "shared"


def _clip_name(index: int) -> str:
    return f"section_00_source_train_normal_{index:04d}_.wav"


def _cut(root: Path, machine: str, recordings: list[tuple[Path, str]], seconds: float
         ) -> dict[str, str]:
    """Cut each recording into clips of ``seconds`` (at its own rate): file -> truth."""
    folder = root / machine / "train"
    folder.mkdir(parents=True, exist_ok=True)
    truth, index = {}, 0
    for path, state in recordings:
        y, sr = sf.read(path, dtype="float32", always_2d=True)
        n = int(seconds * sr)
        for start in range(0, y.shape[0] - n + 1, n):
            name = _clip_name(index)
            sf.write(folder / name, y[start:start + n, 0], sr, subtype="FLOAT")
            truth[f"{machine}/train/{name}"] = state
            index += 1
    return truth


# The states a fan's normal training clips can hold (the source calls FAN_GUARDS a normally
# running fan): pseudo-labels never see the fault states
NORMAL_FAN_STATES = ("ON", "OFF", "FAN_GUARDS")


def real_fan(root: Path, seconds: float = 3.0, states: tuple[str, ...] | None = None
             ) -> dict[str, str]:
    table = pd.read_csv(SHARED / "real-fan" / "truth.csv")
    if states is not None:
        table = table[table["state"].isin(states)]
    return _cut(root, "fan", [(SHARED / "real-fan" / f, s)
                              for f, s in zip(table["file"], table["state"], strict=True)],
                seconds)


def real_fan_normal(root: Path) -> dict[str, str]:
    return real_fan(root, states=NORMAL_FAN_STATES)


def cwru(root: Path, seconds: float = 1.0) -> dict[str, str]:
    table = pd.read_csv(SHARED / "real-vibration" / "cwru" / "truth.csv")
    return _cut(root, "cwru", [(SHARED / "real-vibration" / "cwru" / f, c)
                               for f, c in zip(table["file"], table["condition"], strict=True)],
                seconds)


def pump(root: Path) -> dict[str, str]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from harmonic_family_data import write_machine
    return write_machine(root, clips_per_speed=12)


def _hidden_attribute_machines(family: str, data: Path, seed: int = 0
                               ) -> list[tuple[str, dataset.Dataset, str, dict[str, str]]]:
    """The attribute-less machines of a family's demo preset (dataset ``seed``), generated into
    ``data`` unless there already, each with its hidden attributes as truth."""
    machines = sorted(synth.FAMILIES[family].hidden_attribute_machines)
    # the demo's yardstick is the whole demo (the folder may be the app's); the plant's holds
    # only the machines measured
    synth.generate(data, preset="demo", seed=seed, family=family,
                   machines=None if family == "demo" else machines)
    ds, found = dataset.scan(data), []
    for machine in machines:
        clips = machine_clips(ds, machine)
        name = f"{family} {machine}" if seed == 0 else f"{family} seed {seed} {machine}"
        found.append((name, ds, machine,
                      dict(zip(clips["file"], truth_of(clips), strict=True))))
    return found


def yardsticks(base: Path, demo_data: Path | None = None, plant_seeds: tuple[int, ...] = (0,),
               demo_seeds: tuple[int, ...] = ()
               ) -> list[tuple[str, dataset.Dataset, str, dict[str, str]]]:
    """``(name, dataset, machine, truth)`` for every yardstick whose data is at hand; the demo
    at dataset seed 0 in ``demo_data`` (if given), at other ``demo_seeds`` under ``base``."""
    found = []
    if demo_data is not None:
        found += _hidden_attribute_machines("demo", demo_data)
    for seed in demo_seeds:
        found += _hidden_attribute_machines("demo", base / f"demo-seed{seed}", seed)
    for seed in plant_seeds:
        folder = base / ("plant" if seed == 0 else f"plant-seed{seed}")
        found += _hidden_attribute_machines("plant", folder, seed)
    builders = {"real-fan": (real_fan, SHARED / "real-fan"),
                "real-fan normal": (real_fan_normal, SHARED / "real-fan"),
                "cwru": (cwru, SHARED / "real-vibration" / "cwru"), "pump": (pump, None)}
    for name, (build, needs) in builders.items():
        if needs is not None and not needs.exists():
            continue
        root = base / name.replace(" ", "-")
        if not root.exists():
            truth = build(root)
            pd.Series(truth).to_csv(base / f"{name}.truth.csv", header=["truth"])
        truth = pd.read_csv(base / f"{name}.truth.csv", index_col=0)["truth"].to_dict()
        ds = dataset.scan(root)
        found.append((name, ds, ds.machines()[0]["name"], truth))
    return found


def quality(labels: dict[str, str], truth: dict[str, str]) -> tuple[float, float]:
    """ARI and NMI of ``labels`` against ``truth`` over the clips both name."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
    files = sorted(set(labels) & set(truth))
    a, b = [truth[f] for f in files], [labels[f] for f in files]
    return float(adjusted_rand_score(a, b)), float(normalized_mutual_info_score(a, b))


__all__ = ["quality", "yardsticks"]
