"""The clip plan: every clip with its name, domain, attributes, fault and severity, decided
before any audio, and each clip's own random streams."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from asdcore.errors import ASDError
from asdcore.synth import machines, plant
from asdcore.synth.signals import SAMPLE_RATE

SECTION = "00"
NO_ATTRIBUTE = "noAttribute"

MACHINES: tuple[str, ...] = ("ToyCar", "ToyTrain", "bearing", "fan", "gearbox", "slider", "valve")
HIDDEN_ATTRIBUTE_MACHINES = frozenset({"ToyTrain", "bearing", "slider"})
# Real ToyCar clips are 12 s against 10 s for the others; keep the proportion.
CLIP_LENGTH_FACTOR = {"ToyCar": 1.2}


@dataclass(frozen=True)
class SynthPreset:
    """How much data to write per machine type."""

    name: str
    n_train_source: int
    n_train_target: int
    n_test_per_cell: int  # per (source|target) x (normal|anomaly)
    n_supplemental_clean: int
    n_supplemental_noise: int
    seconds: float  # clip length (ToyCar clips are longer, see CLIP_LENGTH_FACTOR)


# Every preset keeps DCASE's 10 target training clips per section (the tiny one excepted): the
# target domain is learned from a handful of clips whatever the data size. The demo scales
# DCASE's 990 source clips down to 80 and its 10 s clips to 8 s, to stay near 300 MB and a
# minute of generation; `dcase` is the full size.
PRESETS: dict[str, SynthPreset] = {
    "tiny": SynthPreset("tiny", n_train_source=12, n_train_target=2, n_test_per_cell=4,
                        n_supplemental_clean=2, n_supplemental_noise=2, seconds=2.0),
    "demo": SynthPreset("demo", n_train_source=80, n_train_target=10, n_test_per_cell=16,
                        n_supplemental_clean=4, n_supplemental_noise=4, seconds=8.0),
    "dcase": SynthPreset("dcase", n_train_source=990, n_train_target=10, n_test_per_cell=50,
                         n_supplemental_clean=50, n_supplemental_noise=50, seconds=10.0),
}

# True attribute strings per machine and domain, cycled over clip indices so every combination
# is equally represented. The target domain is another operating condition: attribute values
# the source domain never shows (another speed, load, model or valve pattern).
ATTRIBUTES: dict[str, dict[str, tuple[str, ...]]] = {
    "ToyCar": {
        "source": tuple(f"car_{car}_spd_{spd}V_mic_1_noise_1"
                        for car in ("A1", "A2") for spd in (28, 31, 34)),
        "target": ("car_B1_spd_31V_mic_2_noise_2", "car_A1_spd_40V_mic_2_noise_2"),
    },
    "ToyTrain": {
        "source": tuple(f"car_A1_spd_{spd}_mic_1_noise_1" for spd in (5, 7, 9)),
        "target": ("car_A1_spd_6_mic_2_noise_2", "car_A1_spd_11_mic_2_noise_2"),
    },
    "bearing": {
        "source": tuple(f"vel_{vel}_loc_A" for vel in (6, 9, 13, 17)),
        "target": ("vel_9_loc_B", "vel_13_loc_B"),
    },
    "fan": {
        "source": tuple(f"m-n_{model}_spd_{spd}" for model in ("W", "X") for spd in (20, 25, 30)),
        "target": ("m-n_W_spd_36", "m-n_Y_spd_25"),
    },
    "gearbox": {
        "source": tuple(f"volt_{volt}_wt_{wt}"
                        for volt in ("1.0", "1.5", "2.0") for wt in (30, 80)),
        "target": ("volt_1.3_wt_150", "volt_2.3_wt_30"),
    },
    "slider": {
        "source": tuple(f"vel_{vel}_ac_0.10" for vel in (300, 500, 800)),
        "target": ("vel_400_ac_0.30", "vel_650_ac_0.30"),
    },
    "valve": {
        "source": ("v1pat_00_v2pat_00", "v1pat_01_v2pat_00", "v1pat_02_v2pat_01"),
        "target": ("v1pat_00_v2pat_01", "v1pat_01_v2pat_02"),
    },
}

# Fault kinds per machine type (`faults.CATALOGUE`), cycled over the anomalous clips.
ANOMALIES: dict[str, tuple[str, ...]] = {
    "ToyCar": ("gear_wear", "chipped_tooth", "imbalance", "flat_wheel", "rub", "belt_slip"),
    "ToyTrain": ("flat_wheel", "rub", "looseness", "misalignment", "belt_slip"),
    "bearing": ("outer_race", "inner_race", "ball", "imbalance", "misalignment", "rub"),
    "fan": ("imbalance", "blade_damage", "outer_race", "misalignment", "looseness", "rub"),
    "gearbox": ("gear_wear", "chipped_tooth", "misalignment", "inner_race", "looseness"),
    "slider": ("belt_slip", "rub", "ball", "looseness"),
    "valve": ("valve_sticking", "valve_leak", "cavitation", "looseness"),
}



@dataclass(frozen=True)
class Family:
    """A family of synthetic machines: which machines, how each sounds and behaves, and the
    recording situation of each domain (an object with ``background(n, rng)``, ``room(y,
    rng)``, ``snr_db`` and ``microphone``)."""

    name: str
    version: str  # bumped whenever the family's audio or layout changes
    machines: tuple[str, ...]
    hidden_attribute_machines: frozenset[str]
    attributes: Mapping[str, Mapping[str, tuple[str, ...]]]
    anomalies: Mapping[str, tuple[str, ...]]
    sound_models: Mapping[str, Callable[..., np.ndarray]]
    environments: Mapping[str, object]
    clip_length_factor: Mapping[str, float]


FAMILIES: dict[str, Family] = {
    # the demo's version is the generator's historical version (write.GENERATOR_VERSION)
    "demo": Family("demo", "4", MACHINES, HIDDEN_ATTRIBUTE_MACHINES, ATTRIBUTES, ANOMALIES,
                   machines.SOUND_MODELS, machines.ENVIRONMENTS, CLIP_LENGTH_FACTOR),
    # plant 2: one room response per machine and domain, the blower's harmonics vary
    "plant": Family("plant", "2", plant.MACHINES, plant.HIDDEN_ATTRIBUTE_MACHINES,
                    plant.ATTRIBUTES, plant.ANOMALIES, plant.SOUND_MODELS, plant.HALLS, {}),
}


def family_of(name: str) -> Family:
    """The family called ``name``, or one clear sentence."""
    if name not in FAMILIES:
        raise ASDError(f"Unknown family {name!r}; choose one of {', '.join(FAMILIES)}.")
    return FAMILIES[name]


_GOLDEN = (np.sqrt(5) - 1) / 2


def severity_of(index: int) -> float:
    """Severity of the ``index``-th anomalous clip of a (domain, split): a low-discrepancy
    sequence over [0.05, 1], so every range of severities is covered at any count."""
    return round(0.05 + 0.95 * ((0.3 + index * _GOLDEN) % 1.0), 3)


@dataclass(frozen=True)
class Clip:
    machine: str
    split: str  # train | test | supplemental
    domain: str  # source | target (the recording situation; noise clips of both are named source)
    label: str  # normal | anomaly | clean | noise
    index: int
    attributes: str  # the true attribute string
    anomaly: str  # fault kind of an anomalous clip, else ""
    samples: int
    severity: float = 0.0
    family: str = "demo"

    def _name(self, attributes: str) -> str:
        domain = "source" if self.split == "supplemental" else self.domain
        return (f"section_{SECTION}_{domain}_{self.split}_{self.label}_{self.index:04d}_"
                f"{attributes}.wav")

    @property
    def name(self) -> str:
        """The published file name: hidden attributes read ``noAttribute``."""
        hidden = self.attributes_hidden or self.label == "noise"
        return self._name(NO_ATTRIBUTE if hidden else self.attributes)

    @property
    def attributes_hidden(self) -> bool:
        """Whether the machine's attributes are hidden (``noAttribute`` in published names)."""
        return self.machine in FAMILIES[self.family].hidden_attribute_machines

    @property
    def true_name(self) -> str:
        return self._name(self.attributes)

    @property
    def relpath(self) -> str:
        """Path relative to ``dev_data/raw``, as ``attributes_00.csv`` writes it."""
        return f"{self.machine}/{self.split}/{self.name}"


def clip_samples(machine: str, preset: SynthPreset, family: str = "demo") -> int:
    factor = FAMILIES[family].clip_length_factor.get(machine, 1.0)
    return int(round(preset.seconds * factor * SAMPLE_RATE))


def plan_machine(machine: str, preset: SynthPreset, family: str = "demo") -> list[Clip]:
    """All clips of one machine type of ``family``; attributes and fault kinds cycle so each is
    well covered."""
    spec = family_of(family)
    if machine not in spec.machines:
        raise ASDError(f"Unknown machine type {machine!r} for the {family} family; choose among "
                       f"{', '.join(spec.machines)}.")
    samples = clip_samples(machine, preset, family)
    kinds = spec.anomalies[machine]
    clips = []

    def add(split, domain, label, count):
        combos = spec.attributes[machine][domain]
        for i in range(count):
            attributes = NO_ATTRIBUTE if label == "noise" else combos[i % len(combos)]
            anomalous = label == "anomaly"
            clips.append(Clip(machine, split, domain, label, i, attributes,
                              kinds[(i // len(combos)) % len(kinds)] if anomalous else "", samples,
                              severity_of(i) if anomalous else 0.0, family))

    add("train", "source", "normal", preset.n_train_source)
    add("train", "target", "normal", preset.n_train_target)
    for domain in ("source", "target"):
        for label in ("normal", "anomaly"):
            add("test", domain, label, preset.n_test_per_cell)
    add("supplemental", "source", "clean", preset.n_supplemental_clean)
    for i in range(preset.n_supplemental_noise):  # noise of both recording situations
        domain = ("source", "target")[i % 2]
        clips.append(Clip(machine, "supplemental", domain, "noise", i, NO_ATTRIBUTE, "", samples,
                          family=family))
    return clips


def clip_rngs(seed: int, clip: Clip) -> tuple[np.random.Generator, np.random.Generator]:
    """The clip's own random streams (the machine and its recording; its fault), independent
    of worker count and order of work. The demo family's keys name no family, as before
    families existed, so its clips keep their bytes."""
    keys = (clip.machine, clip.split, clip.domain, clip.label)
    if clip.family != "demo":
        keys = (clip.family, *keys)
    sound, fault = np.random.SeedSequence(
        [seed, *(zlib.crc32(key.encode()) for key in keys), clip.index]).spawn(2)
    return np.random.default_rng(sound), np.random.default_rng(fault)


def room_rng(seed: int, clip: Clip) -> np.random.Generator:
    """The random stream of the room a machine is heard in: one per (family, machine, domain),
    shared by all its clips, as one microphone placed in one hall is. The demo's rooms draw
    nothing from it (its clips' streams are `clip_rngs`)."""
    keys = (clip.family, clip.machine, clip.domain, "room")
    return np.random.default_rng([seed, *(zlib.crc32(key.encode()) for key in keys)])
