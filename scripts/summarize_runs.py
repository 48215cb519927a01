"""Print a Markdown table of result records: test MAE beside the zero-prediction MAE, per task × model.

python scripts/summarize_runs.py runs/   [--scale quick]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("root", type=Path)
    p.add_argument("--scale", default=None)
    args = p.parse_args()
    rows = []
    for path in sorted(args.root.rglob("result.json")):
        r = json.loads(path.read_text())
        if args.scale and r["scale"] != args.scale:
            continue
        m = r["metrics"]
        rows.append((r["task"], r["model"], r["seed"], r["scale"], m["mae"], m["zero_mae"], m["zero_mae"] / m["mae"],
                     r["train_time_s"], r["training"]["epochs_run"]))  # fmt: skip
    print("| task | model | seed | scale | test MAE | zero-prediction MAE | ratio (zero / model) | train s | epochs |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for t, mo, s, sc, mae, zero, ratio, secs, ep in rows:
        print(f"| {t} | {mo} | {s} | {sc} | {mae:.4g} | {zero:.4g} | {ratio:.1f} | {secs:.0f} | {ep} |")


if __name__ == "__main__":
    main()
