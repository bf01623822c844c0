"""AppTest of the Embeddings page: first visit offers the quick run; a run's map (PCA here, UMAP
is left to the benchmark) coloured by each option; a selected point plays its clip."""

from pathlib import Path

import pytest
from app_driving import quick_run
from streamlit.testing.v1 import AppTest

from asdcore import dataset, projection, results

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "4_Embeddings.py")


@pytest.fixture
def scored_run(isolated, tiny_data):
    return quick_run("emb-run", tiny_data)


def test_first_visit_offers_the_quick_run(isolated):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any("No run has saved embeddings" in info.value for info in at.info)
    assert any(b.label.startswith("Train the quick") for b in at.button)


def test_map_of_a_run_in_every_colouring_and_a_selected_clip_plays(scored_run):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    assert at.radio(key="embedding_method").value == "PCA"  # UMAP not warmed: PCA at once
    for colour in at.selectbox[2].options:
        at.selectbox[2].select(colour).run()
        assert not at.exception, (colour, at.exception)
    clips = dataset.scan(scored_run.config()["data"]).clips
    vectors, table = results.embedding_table(scored_run, "fan", clips)
    assert projection.is_cached(vectors, "pca")
    clip_id = table["clip_id"].iloc[0]
    # A click on a point, as the browser reports it: the clip id rides in customdata.
    at.session_state["embedding_map"] = {"selection": {"points": [{"customdata": [clip_id]}]}}
    at.run()
    assert not at.exception, at.exception
    assert any("1 selected clip" in h.value for h in at.subheader)
