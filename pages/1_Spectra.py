"""Spectra: listen to a machine's clips, see them as the model does (log-mel), compare their
spectra, and pick a frequency band whose envelope spectrum shows a characteristic frequency.

Bands are picked with the slider, by drawing a box on the spectra, or from the kurtogram, and
can be saved by name for envelope labelling on the Pseudo-labels page.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

import app_pages
import ui
from asdcore import audio, dsp, features, viz
from asdcore.constants import (
    CHARACTERISTIC_FMAX_LIMITS,
    CHARACTERISTIC_FMIN_LIMITS,
    CHARACTERISTIC_RANGE,
)
from asdcore.errors import ASDError
from asdcore.labels import suggest_band
from asdcore.labels.bands import BandStore, BearingStore, bearing_entry, check_band
from asdcore.plot_events import band_from_selection

app_pages.run_through_app()  # a deep link before app.py ever ran
st.set_page_config(page_title="Spectra - ASD workbench", layout="wide")
st.title("Spectra")

SR = audio.SAMPLE_RATE
NYQUIST = SR / 2
LOGMEL = features.LogMelConfig()  # the seed model's front end
DEFAULT_BAND = (1000.0, 3000.0)
BAND_KEY, CHART_KEY = "spectra_band", "spectra_chart"


@st.cache_data(show_spinner=False, max_entries=64)
def welch(path: str) -> tuple[np.ndarray, np.ndarray]:
    return dsp.welch_spectrum(ui.load_audio(path), SR)


@st.cache_data(show_spinner=False, max_entries=128)
def envelope_analysis(path: str, band: tuple[float, float], fmin: float,
                      fmax: float) -> dsp.Characteristic:
    return dsp.envelope_characteristic(ui.load_audio(path), SR, band, fmin, fmax)


@st.cache_data(show_spinner=False, max_entries=32)
def kurtogram(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return dsp.kurtogram(ui.load_audio(path), SR)


@st.cache_data(show_spinner=False, max_entries=16)
def kurtogram_band(paths: tuple[str, ...]) -> tuple[float, float]:
    bar = ui.StreamlitProgress("Kurtograms of the selected clips")
    band = suggest_band(list(paths), progress=bar)
    bar.clear()
    return band


def default_clips(clips: pd.DataFrame, count: int = 4) -> list[str]:
    """One clip of each domain / label group (normal and anomalous, source and target) first."""
    firsts = clips.groupby(viz.clip_groups(clips), sort=False).head(1)["clip_id"].tolist()
    rest = [c for c in clips["clip_id"] if c not in firsts]
    return (firsts + rest)[:count]


def choose_clips(clips: pd.DataFrame, machine: str) -> pd.DataFrame:
    """Filters in the sidebar, the clip picker on the page; the chosen clips' rows."""
    with st.sidebar:
        st.header("Clips")
        splits = st.multiselect("Split", sorted(clips["split"].unique()), default=[],
                                placeholder="all splits")
        domains = st.multiselect("Domain", sorted(clips["domain"].unique()), placeholder="all")
        labels = st.multiselect("Label", sorted(clips["label"].unique()), placeholder="all")
        attributes = st.multiselect("Attributes", sorted(clips["attributes"].unique()),
                                    placeholder="all")
        shown = clips
        for column, chosen in (("split", splits), ("domain", domains), ("label", labels),
                               ("attributes", attributes)):
            if chosen:
                shown = shown[shown[column].isin(chosen)]
        key = f"spectra_clips_{machine}"
        options = shown["clip_id"].tolist()
        if key in st.session_state:  # filters changed: keep only clips still offered
            st.session_state[key] = [c for c in st.session_state[key] if c in set(options)]
        else:
            st.session_state[key] = default_clips(shown)
    names = dict(zip(clips["clip_id"], clips["file"].map(lambda f: Path(f).stem), strict=True))
    chosen_ids = st.multiselect(f"Clips ({len(options)} match the filters in the sidebar)",
                                options, key=key, format_func=names.get)
    return clips.set_index("clip_id").loc[chosen_ids].reset_index()


def clip_view(clip: pd.Series) -> None:
    """Playback, waveform and the model's log-mel of one clip."""
    y = ui.load_audio(clip["path"])
    part = ui.shown_part(clip["duration"])
    st.caption(f"{clip['file']} · {clip['split']} · {clip['domain']} · {clip['label']} · "
               f"attributes {clip['attributes']} · "
               + (f"{len(y) / SR:.2f} s" if not part else f"{part} (analysed below)"))
    st.audio(y, sample_rate=SR)
    left, right = st.columns(2)
    left.markdown("**Waveform**")
    left.plotly_chart(viz.waveform_figure(y, SR), width="stretch")
    right.markdown(f"**Log-mel as the model sees it** ({LOGMEL.n_mels} bands, "
                   f"{LOGMEL.fmin:g}-{LOGMEL.fmax:g} Hz, clip repeated or cut to "
                   f"{LOGMEL.seconds:g} s)")
    right.plotly_chart(viz.logmel_figure(ui.model_logmel(clip["path"]), LOGMEL.seconds),
                       width="stretch")


def spectra(chosen: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Welch spectra of the chosen clips that can be read (the others reported)."""
    rows, readable = [], []
    for i, clip in chosen.iterrows():
        try:
            psd, freqs = welch(clip["path"])
        except ASDError as err:
            st.error(str(err))
            continue
        rows.append(psd)
        readable.append(i)
    if not rows:
        return chosen.iloc[:0], np.empty((0, 0)), np.empty(0)
    return chosen.loc[readable].reset_index(drop=True), np.array(rows), freqs


def apply_pending_band(chosen: pd.DataFrame) -> None:
    """Move the band slider to a box drawn on the spectra or to the kurtogram's suggestion
    (before the slider exists: a widget's value can only be set then)."""
    box = band_from_selection(st.session_state.get(CHART_KEY), NYQUIST)
    if box is not None and box != st.session_state.get("spectra_applied_box"):
        st.session_state["spectra_applied_box"] = box
        st.session_state[BAND_KEY] = (round(box[0]), round(box[1]))
    if st.session_state.get("spectra_suggest"):  # the button, drawn below, was clicked
        try:
            low, high = kurtogram_band(tuple(chosen["path"]))
            st.session_state[BAND_KEY] = (round(low), round(high))
        except ASDError as err:
            st.error(str(err))


def use_saved_band(bands: dict[str, tuple[float, float]]) -> None:
    name = st.session_state.get("spectra_saved_name")
    if name in bands:
        try:
            st.session_state[BAND_KEY] = check_band(bands[name], SR)
        except ASDError as err:
            st.session_state["spectra_band_error"] = str(err)


def band_controls(store: BandStore | None,
                  bands: dict[str, tuple[float, float]]) -> tuple[float, float]:
    """The band slider, the kurtogram button and the saved bands; returns the band."""
    slider_col, suggest_col = st.columns([4, 1])
    suggest_col.button("Suggest a band", key="spectra_suggest", width="stretch",
                       help="The most impulsive band of the selected clips (mean kurtogram).")
    band = slider_col.slider("Band (Hz): drag the ends, or draw a box on the spectra above",
                             0.0, NYQUIST, step=1.0, format="%.0f", key=BAND_KEY)
    if "spectra_band_error" in st.session_state:
        st.error(st.session_state.pop("spectra_band_error"))
    if store is None:
        return band
    with st.expander(f"Saved bands of this machine ({len(bands)})", expanded=bool(bands)):
        if bands:
            pick, use, delete = st.columns([3, 1, 1], vertical_alignment="bottom")
            pick.selectbox("Saved band", list(bands), key="spectra_saved_name",
                           format_func=lambda n: f"{n}: {bands[n][0]:g}-{bands[n][1]:g} Hz")
            use.button("Use", on_click=use_saved_band, args=(bands,), width="stretch")
            if delete.button("Delete", width="stretch"):
                store.delete(st.session_state["spectra_saved_name"])
                st.rerun()
        name_col, save_col = st.columns([4, 1], vertical_alignment="bottom")
        name = name_col.text_input("Name for the current band", key="spectra_band_name",
                                   placeholder="e.g. impacts")
        if save_col.button("Save band", width="stretch"):
            try:
                store.save(name, band)
                st.success(f"Saved {name.strip()}: {band[0]:g}-{band[1]:g} Hz. The Pseudo-labels "
                           "page offers it for envelope labelling.")
            except ASDError as err:
                st.error(str(err))
    return band


def family_text(harmonics: tuple[int, ...], shown: int = 8) -> str:
    """``1, 2, 5, 10 ...`` for the first harmonic numbers seen, "none" without any."""
    if not harmonics:
        return "none"
    return ", ".join(map(str, harmonics[:shown])) + (" ..." if len(harmonics) > shown else "")


def bearing_lines(store: BearingStore | None, detected_hz: float, focused: dsp.Characteristic
                  ) -> tuple[dict[str, np.ndarray], list[dict]]:
    """Bearing fault lines for the envelope spectrum: a saved bearing, a geometry or published
    multipliers, and a shaft rate (given, or the characteristic frequency found); returns the
    marker sets (one per fault line) and the fault band metrics of the inspected clip."""
    try:
        bearings = store.bearings() if store is not None else {}
    except ASDError as err:  # an unreadable bearing file: lines can still be drawn
        st.warning(str(err))
        bearings = {}
    with st.expander("Bearing fault frequencies (BPFO, BPFI, BSF, FTF)"):
        kinds = (["Saved bearing"] if bearings else []) + ["Geometry", "Multipliers"]
        kind = st.radio("Bearing from", kinds, horizontal=True, key="spectra_bearing_kind")
        entry: dict = {}
        if kind == "Saved bearing":
            saved = st.selectbox("Saved bearing", list(bearings), key="spectra_bearing_saved")
            entry = bearings[saved]
        elif kind == "Geometry":
            cols = st.columns(4)
            entry["geometry"] = {
                "n_elements": cols[0].number_input("Rolling elements", 0, 100, 0,
                                                   key="spectra_bearing_n"),
                "ball_diameter": cols[1].number_input("Ball diameter", 0.0, 1e4, 0.0,
                                                      key="spectra_bearing_d"),
                "pitch_diameter": cols[2].number_input("Pitch diameter", 0.0, 1e4, 0.0,
                                                       key="spectra_bearing_pd"),
                "contact_angle_deg": cols[3].number_input("Contact angle (deg)", 0.0, 89.0, 0.0,
                                                          key="spectra_bearing_angle")}
        else:
            cols = st.columns(4)
            entry["multipliers"] = {
                line: cols[i].number_input(f"{line} (x shaft)", 0.0, 100.0, 0.0, format="%.4f",
                                           key=f"spectra_bearing_{line}")
                for i, line in enumerate(dsp.BEARING_LINES)}
            entry["multipliers"] = {k: v for k, v in entry["multipliers"].items() if v > 0}
        cols = st.columns(3)
        shaft = cols[0].number_input(
            "Shaft speed (Hz; 0: the characteristic frequency found)", 0.0, 1e4,
            float(entry.get("shaft_hz") or 0.0), key="spectra_bearing_shaft")
        harmonics = cols[1].number_input("Harmonics", 1, 5, 3, key="spectra_bearing_harmonics")
        sidebands = cols[2].number_input("Shaft-rate sidebands", 0, 3, 1,
                                         key="spectra_bearing_sidebands")
        if kind == "Geometry" and not entry["geometry"]["n_elements"]:
            return {}, []
        if kind == "Multipliers" and not entry["multipliers"]:
            return {}, []
        try:
            if kind != "Saved bearing":
                entry = bearing_entry(**entry, shaft_hz=shaft or None)
            shaft_hz = shaft or entry.get("shaft_hz") or detected_hz
            bands = dsp.fault_bands(shaft_hz, entry["multipliers"], harmonics, sidebands)
        except ASDError as err:
            st.error(str(err))
            return {}, []
        st.caption(f"Shaft rate {shaft_hz:.2f} Hz; " + ", ".join(
            f"{line} {m * shaft_hz:.2f} Hz" for line, m in entry["multipliers"].items()))
        if store is not None and kind != "Saved bearing":
            name_col, save_col = st.columns([4, 1], vertical_alignment="bottom")
            name = name_col.text_input("Name for this bearing", key="spectra_bearing_name",
                                       placeholder="e.g. drive end")
            if save_col.button("Save bearing", width="stretch"):
                try:
                    store.save(name, multipliers=entry["multipliers"],
                               geometry=entry["geometry"], shaft_hz=entry["shaft_hz"])
                    st.success(f"Saved the bearing {name.strip()}.")
                except ASDError as err:
                    st.error(str(err))
    markers = {line: np.array([b["centre"] for b in bands if b["line"] == line
                               and b["centre"] <= focused.freqs[-1]])
               for line in entry["multipliers"]}
    return markers, dsp.fault_band_metrics(focused.spectrum, focused.freqs, bands)


def band_analysis(focus: pd.Series, shown: pd.DataFrame, spectra_db: np.ndarray,
                  freqs: np.ndarray, band: tuple[float, float],
                  bearing_store: BearingStore | None = None) -> None:
    """Envelope spectrum of the inspected clip, band metrics of every clip, band playback."""
    with st.expander("Characteristic frequency search range"):
        low_col, high_col = st.columns(2)
        fmin = low_col.number_input("Lowest (Hz)", *CHARACTERISTIC_FMIN_LIMITS,
                                    CHARACTERISTIC_RANGE[0], key="spectra_fmin")
        fmax = high_col.number_input("Highest (Hz)", *CHARACTERISTIC_FMAX_LIMITS,
                                     CHARACTERISTIC_RANGE[1], key="spectra_fmax")
    try:
        fmin, fmax = dsp.check_characteristic_range(fmin, fmax)
    except ASDError as err:
        st.error(str(err))
        return
    rows = []
    for (_, clip), psd in zip(shown.iterrows(), spectra_db, strict=True):
        found = envelope_analysis(clip["path"], band, fmin, fmax)
        rows.append({"clip": Path(clip["file"]).name, "domain": clip["domain"],
                     "label": clip["label"], **dsp.band_metrics(psd, freqs, band),
                     "characteristic_freq": found.f0, "salience": found.salience})
    focused = envelope_analysis(focus["path"], band, fmin, fmax)
    f0 = focused.f0 if focused.salience > 0 or focused.harmonics else 0.0
    st.markdown(f"**Envelope spectrum of {Path(focus['file']).name}** in "
                f"{band[0]:g}-{band[1]:g} Hz")
    cols = st.columns(4)
    cols[0].metric("Characteristic frequency", f"{f0:.2f} Hz" if f0 else "none found")
    cols[1].metric("Harmonic family", family_text(focused.harmonics),
                   help="Harmonic numbers of the characteristic frequency whose lines the "
                        "envelope spectrum shows (its family: shaft rate, vane pass ...).")
    cols[2].metric("Harmonic salience", f"{focused.salience:.3g}")
    cols[3].metric("Band width", f"{band[1] - band[0]:g} Hz")
    family = (f0 * np.array(focused.harmonics) if focused.harmonics
              else dsp.harmonic_markers(f0, float(focused.freqs[-1]), count=2 * dsp.N_HARMONICS))
    fault_markers, fault_rows = bearing_lines(bearing_store, f0, focused)
    st.plotly_chart(viz.envelope_spectrum_figure(
        focused.freqs, focused.spectrum, family,
        f"family of {f0:.2f} Hz" if focused.harmonics else f"harmonics of {f0:.2f} Hz",
        fault_markers), width="stretch")
    if fault_rows:
        st.markdown("**Bearing fault bands** (envelope energy near each line of the inspected "
                    "clip; share: of the envelope spectrum's power)")
        st.dataframe(pd.DataFrame(fault_rows)[
            ["line", "harmonic", "sideband", "centre", "low", "high", "peak_freq",
             "peak_level", "power_share"]].round(4), hide_index=True, width="stretch",
            column_config={"centre": "centre (Hz)", "peak_freq": "peak (Hz)",
                           "peak_level": "peak amplitude"})
    st.markdown("**Band metrics** (from the Welch spectra and envelope spectra)")
    st.dataframe(pd.DataFrame(rows).round(3), hide_index=True, width="stretch",
                 column_config={"peak_freq": "peak (Hz)", "peak_level": "peak (dB)",
                                "band_power": "band power (dB)", "mean_level": "mean (dB)",
                                "characteristic_freq": "char. freq (Hz)"})
    with st.expander("Kurtogram of the inspected clip (where it is impulsive; the band outlined)"):
        st.plotly_chart(viz.kurtogram_figure(*kurtogram(focus["path"]), band=band), width="stretch")
    st.markdown("**The inspected clip, band-limited**")
    st.audio(dsp.bandpass(ui.load_audio(focus["path"]), SR, *band).astype(np.float32),
             sample_rate=SR)


def page() -> None:
    ds = ui.current_dataset()
    if ds is None:
        return
    if not ds.usable:
        st.error("This dataset holds no readable clips; see the problems on the home page.")
        return
    machines = sorted(ds.clips["machine"].unique())
    machine = st.sidebar.selectbox("Machine", machines, key="spectra_machine")
    clips = ds.clips[ds.clips["machine"] == machine].reset_index(drop=True)
    chosen = choose_clips(clips, machine)
    if chosen.empty:
        st.info("Pick one or more clips in the sidebar (filter them by split, domain, label or "
                "attributes) to listen to them and compare their spectra.")
        return
    try:
        store = BandStore.open(ds.root, machine)
        bands = store.bands()
        bearing_store = BearingStore.open(ds.root, machine)
    except ASDError as err:  # saving bands needs one folder per machine; the rest still works
        st.warning(str(err))
        store, bands, bearing_store = None, {}, None

    focus_id = st.selectbox("Clip to inspect", chosen["clip_id"],
                            format_func=dict(zip(chosen["clip_id"], chosen["file"],
                                                 strict=True)).get)
    focus = chosen[chosen["clip_id"] == focus_id].iloc[0]
    try:
        clip_view(focus)
    except ASDError as err:
        st.error(str(err))

    st.subheader("Spectra")
    shown, spectra_db, freqs = spectra(chosen)
    if shown.empty:
        st.info("None of the chosen clips can be read; pick others.")
        return
    st.session_state.setdefault(BAND_KEY, DEFAULT_BAND)
    apply_pending_band(shown)
    st.plotly_chart(viz.spectra_figure(freqs, spectra_db, shown, st.session_state[BAND_KEY]),
                    width="stretch",
                    key=CHART_KEY, on_select="rerun", selection_mode="box")
    band = band_controls(store, bands)
    try:
        band = check_band(band, SR)
    except ASDError as err:
        st.error(str(err))
        return
    if focus_id not in set(shown["clip_id"]):
        st.info("The inspected clip cannot be read; choose another to see its envelope spectrum.")
        return
    st.subheader("Envelope spectrum of the band")
    band_analysis(shown[shown["clip_id"] == focus_id].iloc[0], shown, spectra_db, freqs, band,
                  bearing_store)


page()
