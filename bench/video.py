"""Video benchmark: every phase present, each against its goal.

    PYTHONSAFEPATH=1 .venv/bin/python bench/video.py [--cameras 20] [--viewers 5] [--seconds 20] [--only live]

Phases live in ``bench/video_<name>.py`` (live, recording, recorder: one per engineer), each with
``run(args) -> list[(name, value, goal, ratio)]``; a phase file that is absent is skipped, one that
fails is reported and the others still run. ``ratio`` is how far from the goal: at most 1.0 meets
it (value ÷ goal for "at most" goals, goal ÷ value for "at least" ones).
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
PHASES = ("live", "recording", "recorder")


def load(name: str):
    path = HERE / f"video_{name}.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(f"bench_video_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cameras", type=int, default=20)
    ap.add_argument("--viewers", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--only", action="append", choices=PHASES, help="run only this phase (repeatable)")
    args = ap.parse_args(argv)
    failed = False
    rows = []
    for name in args.only or PHASES:
        module = load(name)
        if module is None:
            print(f"[{name}] no bench/video_{name}.py: skipped", flush=True)
            continue
        started = time.monotonic()
        try:
            got = module.run(args)
        except Exception:  # noqa: BLE001 - one phase failing leaves the others' figures
            failed = True
            print(f"[{name}] FAILED\n{traceback.format_exc()}", flush=True)
            continue
        print(f"[{name}] {time.monotonic() - started:.0f} s", flush=True)
        rows += [(name, *row) for row in got]
    print()
    print(f"{'phase':<10} {'figure':<62} {'value':>10} {'goal':>8} {'ratio':>7}")
    for phase, figure, value, goal, ratio in rows:
        goal_s = "" if goal is None else f"{goal:g}"
        ratio_s = "" if ratio is None else f"{ratio:.2f}" + (" ok" if ratio <= 1.0 else " MISS")
        print(f"{phase:<10} {figure:<62} {value:>10.3f} {goal_s:>8} {ratio_s:>7}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
