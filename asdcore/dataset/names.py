"""The DCASE file-name grammar: what a clip's name says (section, domain, split, label, clip
number, attributes) and the lenient reading of attribute strings. Pure string functions."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from asdcore.constants import DOMAINS, LABELS, NO_ATTRIBUTE, SPLITS

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".mp3"}

# Tokens that say what a supplemental clip holds (DCASE.md: classify by token, not position).
_CLEAN_TOKENS = {"clean", "machine"}
_NOISE_TOKEN = "noise"
_NAME_WORDS = set(DOMAINS + SPLITS + LABELS) | _CLEAN_TOKENS | {_NOISE_TOKEN}


_SECTION_NAME = re.compile(r"^section_(\d+)(?:_(.*))?$", re.IGNORECASE)
_LEGACY_NAME = re.compile(r"^(?:(normal|anomaly)_)?id_(\d+)_(\d+)(?:_(.*))?$", re.IGNORECASE)
_KEY_TOKEN = re.compile(r"^[a-z][a-z0-9-]*$")


def name_stem(name: str) -> str:
    """The name without folders and audio extension (string ops: this runs once per clip)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    stem, suffix = os.path.splitext(base)
    return stem if suffix.lower() in AUDIO_SUFFIXES else base


def parse_name(name: str) -> dict:
    """What a clip's file name says about it; pure, never raises.

    Returns ``section`` (2 digits, "" unknown), ``domain`` (source/target/unknown), ``split``
    (train/test/supplemental, "" when the name does not say), ``label`` (normal/anomaly/unknown),
    ``index`` (-1 unknown), ``attributes`` (raw string after the clip number), ``supplemental_kind``
    (clean/noise/unknown, "" for other splits) and ``naming``:

    - ``dcase``: ``section_00_source_train_normal_0000_<attrs>`` (2021-2025); parts that are
      missing are filled with unknowns rather than rejected;
    - ``eval``: anonymous test names, ``section_00_0000`` or 2021's ``section_03_source_test_0000``;
    - ``supplemental``:
      ``section_00_<source|noise>_supplemental_<clean|machine|noise|...>_0000...``;
    - ``legacy``: DCASE 2020 / MIMII ``normal_id_00_00000000`` (id -> section, source domain;
      the anonymous eval form ``id_05_00000000`` has an unknown label);
    - ``unknown``: anything else.

    The tokens between the section and the clip number are read by value, not position
    (supplemental names put ``noise`` where the domain usually is). The clip number is the first
    all-digit token; everything after it is the attribute string, kept raw.
    """
    stem = name_stem(name)
    parsed = {"section": "", "domain": "unknown", "split": "", "label": "unknown", "index": -1,
              "attributes": "", "supplemental_kind": "", "naming": "unknown"}

    legacy = _LEGACY_NAME.match(stem)
    if legacy:
        label, section, index, rest = legacy.groups()
        parsed.update(section=f"{int(section):02d}", domain="source", index=int(index),
                      label=label.lower() if label else "unknown", attributes=rest or "",
                      naming="legacy")
        return parsed

    match = _SECTION_NAME.match(stem)
    if not match:
        return parsed
    parsed["section"] = f"{int(match.group(1)):02d}"
    tokens = match.group(2).split("_") if match.group(2) else []
    prefix: list[str] = []
    for position, token in enumerate(tokens):
        if token.isdigit():
            parsed["index"] = int(token)
            parsed["attributes"] = "_".join(tokens[position + 1:])
            break
        prefix.append(token.lower())
    else:
        # No clip number: the leading words the scheme knows are the prefix, the rest attributes.
        known = 0
        while known < len(prefix) and prefix[known] in _NAME_WORDS:
            known += 1
        parsed["attributes"] = "_".join(tokens[known:])
        prefix = prefix[:known]

    for token in prefix:
        if token in DOMAINS:
            parsed["domain"] = token
        elif token in SPLITS:
            parsed["split"] = token
        elif token in LABELS:
            parsed["label"] = token

    if parsed["split"] == "supplemental":
        parsed["naming"] = "supplemental"
        parsed["supplemental_kind"] = supplemental_kind(prefix, parsed["attributes"])
    elif (parsed["label"] == "unknown" and parsed["split"] in ("", "test")
          and not parsed["attributes"]):
        parsed["naming"] = "eval"
    else:
        parsed["naming"] = "dcase"
    return parsed


def supplemental_kind(prefix_tokens: Iterable[str], attributes: str) -> str:
    """Clean machine sound or noise only, from the name's tokens.

    The part before the clip number decides first: ``machine``/``clean`` -> clean, ``noise`` ->
    noise. Only when it says nothing is the attribute string consulted, and there ``noise``
    counts only as a bare token: ToyCar's attribute ``noise_1`` (a key with a value) describes
    the recording set-up of a clean clip and must not make it noise.
    """
    prefix = set(prefix_tokens)
    if prefix & _CLEAN_TOKENS:
        return "clean"
    if _NOISE_TOKEN in prefix:
        return "noise"
    tokens = [t.lower() for t in attributes.split("_")] if attributes else []
    if set(tokens) & _CLEAN_TOKENS:
        return "clean"
    if parse_attributes(attributes).get(_NOISE_TOKEN) == "":
        return "noise"
    return "unknown"


def parse_attributes(raw: str) -> dict[str, str]:
    """Lenient ``key_value`` pairs from an attribute string such as ``car_A1_spd_28V_mic_1``.

    Values may themselves contain ``_`` and keys may span two tokens, so pairs are found with a
    heuristic over the ``_``-separated tokens:

    - a token "looks like a key" when it starts with a lower-case letter and holds only
      lower-case letters, digits and ``-`` (``car``, ``m-n``, ``v1pat``); anything else
      (``A1``, ``28V``, ``0.05``, ``W``) looks like a value;
    - each pair starts with a key token; if the next token looks like a key too and the one
      after it looks like a value, the two key tokens form one key (``mic_pos_A`` ->
      ``mic_pos=A``); otherwise the next token is the value (``panel_open`` -> ``panel=open``);
    - further tokens that look like values extend the value (``car_A_1`` -> ``car=A_1``);
    - a key at the end without a value maps to ""; a repeated key gets ``.2``, ``.3`` ...

    ``noAttribute`` and "" give ``{}``. The raw string stays the primary key of a clip's
    attributes; these pairs are for display and grouping.
    """
    if not raw or raw.lower() == NO_ATTRIBUTE.lower():
        return {}
    tokens = [t for t in raw.split("_") if t]
    pairs: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        key = tokens[i]
        i += 1
        if (i + 1 < len(tokens) and _KEY_TOKEN.match(tokens[i])
                and not _KEY_TOKEN.match(tokens[i + 1])):
            key = f"{key}_{tokens[i]}"
            i += 1
        value = ""
        if i < len(tokens):
            value = tokens[i]
            i += 1
            while i < len(tokens) and not _KEY_TOKEN.match(tokens[i]):
                value = f"{value}_{tokens[i]}"
                i += 1
        unique, n = key, 1
        while unique in pairs:
            n += 1
            unique = f"{key}.{n}"
        pairs[unique] = value
    return pairs

