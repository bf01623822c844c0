"""AppTest of the home page's "Import recordings": a folder per condition becomes a new
DCASE-layout dataset that the app then uses; a mistake is one error box."""

from pathlib import Path

import numpy as np
import soundfile as sf
from app_driving import click
from streamlit.testing.v1 import AppTest

from asdcore import workspace

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _recordings(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    for condition, count in (("ok", 5), ("rattle", 2)):
        for i in range(count):
            path = folder / condition / f"take{i}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, rng.normal(0, 0.1, 8000).astype(np.float32), 16000)
    return folder


def test_import_recordings_makes_and_uses_a_new_dataset(isolated, tmp_path):
    src = _recordings(tmp_path / "pump")
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    at.text_input(key="import_src").set_value(str(src))
    at.text_input(key="import_out").set_value(str(tmp_path / "imported"))
    at.text_input(key="import_normal").set_value("rattle-free, ok").run()  # one name is wrong
    click(at, "Import and use it")
    assert any("rattle-free" in e.value for e in at.error)
    assert not (tmp_path / "imported").exists()

    at.text_input(key="import_normal").set_value("ok")
    click(at, "Import and use it")
    assert workspace.chosen_dataset() == tmp_path / "imported"
    assert next(m.value for m in at.metric if m.label == "Machine types") == "1"
    assert (tmp_path / "imported" / "pump" / "train").is_dir()
