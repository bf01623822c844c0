"""Deterministic synthetic data in the DCASE 2025 Task 2 layout: the workbench's built-in demo.

Seven physically motivated machine models (the 2025 development machine types, `machines`)
with a catalogue of faults grounded in machine physics (`faults`: bearing defects, imbalance,
misalignment, gear wear, a chipped tooth, looseness, belt slip, cavitation, a sticking or
leaking valve, rubbing), each with a severity from barely audible to clear. The source domain
is one factory, one microphone and some operating conditions; the target domain another
factory, another microphone and operating conditions the source never shows, with 10 target
training clips per section, as in DCASE. The fault levels are calibrated so that the official
AE baseline lands near its published DCASE 2025 development figures (bench/bench_calibration.py).

Families (`FAMILIES`, ``generate(..., family=...)``): "demo" (the above, the default) and
"plant" (`plant`: a centrifugal pump, a reciprocating compressor, a roots blower, a conveyor
and an induction motor in reverberant halls with non-stationary background), so that a default
can be checked on data of another family than the one it was chosen on.

Modules: `signals` (signal primitives), `machines` (machine models, recording environments),
`plant` (the plant family), `faults` (the fault catalogue), `plan` (families, presets and
every clip decided before any audio),
`write` (rendering and writing, resumable and atomic). Every clip draws its randomness from its
own generators seeded by (seed, machine, split, domain, label, index), so the bytes written do
not depend on the number of workers or on the order of work.
"""

from asdcore.synth.faults import CATALOGUE, FAULT_LEVEL_DB, BearingGeometry, FaultKind, Rotor
from asdcore.synth.machines import (
    BALL_PASS_RATIO,
    ENVIRONMENTS,
    SOUND_MODELS,
    TEST_BEARING,
    Environment,
    Microphone,
    background,
)
from asdcore.synth.plan import (
    ANOMALIES,
    ATTRIBUTES,
    CLIP_LENGTH_FACTOR,
    FAMILIES,
    HIDDEN_ATTRIBUTE_MACHINES,
    MACHINES,
    NO_ATTRIBUTE,
    PRESETS,
    SECTION,
    Clip,
    Family,
    SynthPreset,
    clip_rngs,
    family_of,
    plan_machine,
    severity_of,
)
from asdcore.synth.signals import SAMPLE_RATE, rms
from asdcore.synth.write import (
    GENERATOR_NAME,
    GENERATOR_VERSION,
    MANIFEST_NAME,
    TRUTH_COLUMNS,
    TRUTH_NAME,
    damaged_clips,
    generate,
    is_dataset,
    manifest_family,
    read_manifest,
    render,
    truth_table,
)

__all__ = [
    "ANOMALIES", "ATTRIBUTES", "BALL_PASS_RATIO", "CATALOGUE", "CLIP_LENGTH_FACTOR",
    "ENVIRONMENTS", "FAMILIES", "FAULT_LEVEL_DB", "GENERATOR_NAME", "GENERATOR_VERSION",
    "HIDDEN_ATTRIBUTE_MACHINES", "MACHINES", "MANIFEST_NAME", "NO_ATTRIBUTE", "PRESETS",
    "SAMPLE_RATE", "SECTION", "SOUND_MODELS", "TEST_BEARING", "TRUTH_COLUMNS", "TRUTH_NAME",
    "BearingGeometry", "Clip", "Environment", "Family", "FaultKind", "Microphone", "Rotor",
    "SynthPreset", "background", "clip_rngs", "damaged_clips", "family_of", "generate",
    "is_dataset", "manifest_family", "plan_machine", "read_manifest", "render", "rms",
    "severity_of", "truth_table",
]
