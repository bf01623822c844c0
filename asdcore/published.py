"""Published results that `asdcore.reproduce` sets beside ours: only figures found in a source.

Values are fractions (0.6678, not 66.78). Each system has its harmonic means over the DCASE
2025 Task 2 development set (the official score and the harmonic mean of each official metric
over the 7 machines); ``per_section`` holds per-(machine, section) values where a source gives
them, and stays empty where none was found, which the report states.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from asdcore.metrics import OFFICIAL_COLUMNS

DATASET = "DCASE 2025 Task 2 development set"
DEV_MACHINES = ("ToyCar", "ToyTrain", "bearing", "fan", "gearbox", "slider", "valve")
# The 2023 and 2024 development sets have the same machine names; 2025's hides the attributes
# of these three and adds supplemental clips.
DEV_HIDDEN = ("ToyTrain", "bearing", "slider")


@dataclass(frozen=True)
class PublishedSystem:
    """One published system's figures on `DATASET`."""

    name: str
    source: str
    hmeans: dict[str, float]  # AUC_source_hmean, AUC_target_hmean, pAUC_hmean, official_score
    # (machine, section) -> {AUC_source, AUC_target, pAUC}; empty: not published per machine
    per_section: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)

    def section_table(self) -> pd.DataFrame:
        """``per_section`` as rows of machine, section and the official metrics."""
        return pd.DataFrame([{"machine": machine, "section": section, **values}
                             for (machine, section), values in self.per_section.items()],
                            columns=["machine", "section", *OFFICIAL_COLUMNS])


# Source of the three harmonic-mean rows: the project's DCASE facts sheet (shared/DCASE.md,
# section 3, "Reference numbers (2025 development set, official score)"), gathered from the
# DCASE 2025 Task 2 task description (arXiv:2506.10097) and the official baseline repository
# nttcslab/dcase2023_task2_baseline_ae. Per-machine values: the baseline's README (v4.1.0 on
# its main branch, searched for this table) has no results table, and the seed system's
# technical report (its Table 2) was not available, so none are given here.
_FACTS = ("public DCASE 2025 Task 2 material (task description arXiv:2506.10097, official "
          "baseline nttcslab/dcase2023_task2_baseline_ae)")

SYSTEMS: dict[str, PublishedSystem] = {
    "ae-mse": PublishedSystem(
        "official AE baseline, MSE", _FACTS,
        {"AUC_source_hmean": 0.6678, "AUC_target_hmean": 0.5139, "pAUC_hmean": 0.5294,
         "official_score": 0.5626}),
    "ae-mahalanobis": PublishedSystem(
        "official AE baseline, Mahalanobis", _FACTS,
        {"AUC_source_hmean": 0.6551, "AUC_target_hmean": 0.5005, "pAUC_hmean": 0.5272,
         "official_score": 0.5534}),
    "seed": PublishedSystem(
        "seed system (SE-ResNet18 + AdaCos + SSL + KNN)", _FACTS,
        {"AUC_source_hmean": 0.6871, "AUC_target_hmean": 0.6716, "pAUC_hmean": 0.5559,
         "official_score": 0.6325}),
}
