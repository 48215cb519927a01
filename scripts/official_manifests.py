"""Regenerate the committed official manifests (data/manifests/<task>-v<version>-<scale>.json).

    python scripts/official_manifests.py --scales tiny quick [--tasks spring charge ...]

Run after a change that changes the data (and bump the task family's `version`).
"""

from __future__ import annotations

import argparse
import json
import tempfile

from bench.config import task_card
from bench.registry import task_names
from bench.tasks.data import generate_dataset, official_manifest_path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scales", nargs="+", default=["tiny", "quick"])
    p.add_argument("--tasks", nargs="+", default=list(task_names()))
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as root:
        for scale in args.scales:
            for name in args.tasks:
                card = task_card(name)
                ds = generate_dataset(card, scale, root=root, force=True, progress=False)
                keep = ("task", "version", "scale", "params", "checksum", "arrays", "generation", "numpy")
                manifest = {k: ds.manifest[k] for k in keep}
                path = official_manifest_path(name, int(card.version), scale)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(manifest, indent=1) + "\n")
                print(f"{path}: {ds.checksum}")


if __name__ == "__main__":
    main()
