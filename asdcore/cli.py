"""The command line: ``python -m asdcore <command> ...`` (contract in DESIGN.md).

Each command is a thin wrapper over an engine function. User mistakes end in one sentence on
stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from asdcore.errors import ASDError
from asdcore.progress import terminal_progress


def _cmd_demo(args: argparse.Namespace) -> int:
    from asdcore import synth

    with terminal_progress(f"demo ({args.preset})") as bar:
        root = synth.generate(args.out, preset=args.preset, seed=args.seed, progress=bar)
    print(root)
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from asdcore import dataset

    with terminal_progress("scanning") as bar:
        ds = dataset.scan(args.data, mapping=args.mapping, progress=bar)
    if args.json:
        print(json.dumps(ds.info(), indent=2, default=str))
    else:
        print(dataset.format_info(ds))
    return 0 if ds.usable else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m asdcore",
        description="Anomalous sound detection workbench, headless.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="write a synthetic DCASE-layout dataset")
    p.add_argument("out", type=Path, help="folder to create (the dataset root)")
    p.add_argument("--preset", choices=["tiny", "demo"], default="demo")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("info", help="what a dataset holds, and what is wrong with it")
    p.add_argument("data", type=Path, help="folder of machine folders, or any folder above it")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--mapping", type=Path, default=None,
                   help="eval ground-truth list mapping anonymous test names to full names")
    p.set_defaults(func=_cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ASDError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted.", file=sys.stderr)
        return 130
