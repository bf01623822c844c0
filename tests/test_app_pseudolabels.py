"""AppTest of the Pseudo-labels page on the tiny demo: clustering saved to the store, a map
selection relabelled, merge, split, table edits, undo, envelope labelling with a saved band."""

from pathlib import Path

from app_driving import click, select_on_pseudo_label_map
from streamlit.testing.v1 import AppTest

from asdcore import dataset
from asdcore.labels import LabelStore
from asdcore.labels.bands import BandStore

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "2_Pseudo-labels.py")


def _train_clips(tiny_data, machine):
    clips = dataset.scan(tiny_data).clips
    return clips[(clips["machine"] == machine) & (clips["split"] == "train")]


def test_cluster_save_relabel_a_selection_and_undo(isolated, tiny_data):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception
    assert at.sidebar.selectbox(key="pl_machine").value == "ToyTrain"  # first without attributes
    assert any("No labels yet" in i.value for i in at.info)

    click(at, "Run clustering")
    click(at, "Save these labels")
    store = LabelStore.open(tiny_data, "ToyTrain")
    clips = _train_clips(tiny_data, "ToyTrain")
    clustered = store.labels()
    assert set(clustered) == set(clips["file"])
    assert store.history()[-1]["source"] == "cluster"
    assert any(m.label == "ARI against true attributes" for m in at.metric)

    chosen = clips.iloc[:3]
    select_on_pseudo_label_map(at, "ToyTrain", chosen["clip_id"].tolist())
    assert any("3 clip(s) selected" in m.value for m in at.markdown)
    at.selectbox(key="pl_relabel_to").set_value("a new label...").run()
    at.text_input(key="pl_new_label").input("fast").run()
    click(at, "Relabel 3 clip(s)")
    labels = store.labels()
    assert {labels[f] for f in chosen["file"]} == {"fast"}
    assert store.history()[-1]["source"] == "manual"

    click(at, "Undo the last change")
    assert store.labels() == clustered


def test_merge_split_and_table_edits_go_to_the_store(isolated, tiny_data):
    store = LabelStore.open(tiny_data, "ToyTrain")
    files = _train_clips(tiny_data, "ToyTrain")["file"].tolist()
    store.apply({f: ("a" if i < 6 else "b") for i, f in enumerate(files)}, "cluster")
    at = AppTest.from_file(PAGE, default_timeout=120).run()

    at.multiselect(key="pl_merge").set_value(["a", "b"]).run()
    at.text_input(key="pl_merge_into").input("all").run()
    click(at, "Merge")
    assert set(store.labels().values()) == {"all"}

    at.selectbox(key="pl_split").set_value("all").run()
    click(at, "Split")
    assert set(store.labels().values()) == {"all-1", "all-2"}

    editor_key = f"pl_editor_ToyTrain_{store.state()['version']}"  # the table of this version
    at.session_state[editor_key] = {"edited_rows": {0: {"label": "all-2"}, 1: {"label": None}},
                                    "added_rows": [], "deleted_rows": []}
    at.run()
    click(at, "Apply table edits")
    labels = store.labels()
    assert labels[files[0]] == "all-2" and files[1] not in labels
    assert store.history()[-1]["note"] == "edited in the label table"


def test_envelope_labelling_offers_the_saved_bands(isolated, tiny_data):
    BandStore.open(tiny_data, "bearing").save("impacts", (2000, 6000))
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.sidebar.selectbox(key="pl_machine").set_value("bearing").run()
    at.radio(key="pl_how").set_value("Envelope (characteristic frequency)").run()
    assert at.selectbox(key="pl_band").options == ["suggested: clearest envelope lines",
                                                   "impacts: 2000-6000 Hz"]
    at.selectbox(key="pl_band").set_value("impacts").run()
    click(at, "Run envelope labelling")
    click(at, "Save these labels")
    store = LabelStore.open(tiny_data, "bearing")
    last = store.history()[-1]
    assert last["source"] == "envelope" and last["params"]["band"] == [2000.0, 6000.0]
    assert all("frequency_hz" in e["extra"] for e in store.entries().values())
    assert all(label.startswith("cf") for label in store.labels().values())


def test_why_k_is_shown_and_k_can_be_overridden(isolated, tiny_data):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert at.checkbox(key="pl_per_domain").value  # the default: each domain on its own
    click(at, "Run clustering")
    why = [e.label for e in at.expander if e.label.startswith("Why ")]
    assert len(why) == 2 and "(source)" in why[0] and "stable" in why[0]
    assert "(target)" in why[1]
    assert any("stability" in d.value.columns for d in at.dataframe)
    at.checkbox(key="pl_per_domain").uncheck().run()
    at.selectbox(key="pl_k").set_value(3).run()
    click(at, "Run clustering")
    assert any("3 labels, as asked" in c.value for c in at.caption)
    assert any("3 labels for" in m.value for m in at.markdown)

    at.sidebar.selectbox(key="pl_machine").set_value("bearing").run()
    at.radio(key="pl_how").set_value("Envelope (characteristic frequency)").run()
    at.selectbox(key="pl_k").set_value("auto").run()
    click(at, "Run envelope labelling")
    summary = next(d.value for d in at.dataframe if "harmonic family" in d.value.columns)
    assert summary["harmonic family"].str.startswith("1 2").all()
    assert any(e.label.startswith("Why ") and "BIC" in e.label for e in at.expander)


def test_every_machine_with_attributes_is_said_not_raised(isolated, tiny_data):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.sidebar.selectbox(key="pl_machine").set_value("fan").run()
    assert not at.exception
    assert at.sidebar.selectbox(key="pl_machine").value == "fan"


def test_a_clip_that_cannot_be_decoded_is_left_off_the_map_and_the_page_works(
        fresh_app, tiny_data):
    import shutil

    from audio_files import write_truncated_flac

    from asdcore import workspace

    data = fresh_app / "data"
    shutil.copytree(tiny_data / "dev_data" / "raw" / "bearing",
                    data / "dev_data" / "raw" / "bearing")
    train = data / "dev_data" / "raw" / "bearing" / "train"
    broken = train / "section_00_source_train_normal_0998_noAttribute.flac"
    write_truncated_flac(broken, min(train.glob("*.wav")))
    workspace.choose_dataset(data)
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception
    assert any("not on the map" in w.value and broken.name in w.value for w in at.warning)
    assert not at.error
    assert [s.value for s in at.subheader][-1].startswith("6.")  # the page ran to its end
    click(at, "Run clustering")
    click(at, "Save these labels")
    labels = LabelStore(data / "dev_data" / "raw" / "bearing").labels()
    assert len(labels) == len(list(train.glob("*.wav")))  # every readable clip, not the broken
