"""Datasets on disk: deterministic generation, manifests, checksums, verification, and the numpy API.

A dataset is identified by (task, task version, scale, generator parameters). It lives in
``<data_dir>/<task>/v<version>/<scale>[-<params hash>]/`` as ``dataset.npz`` plus ``manifest.json``
(parameters, shapes, checksum, generation facts). Official manifests of the default variants are
committed in ``data/manifests/``; a generated dataset is compared with them.

The checksum is a SHA-256 over every array's name, dtype, shape and bytes, in sorted name order
(independent of the zip container, whose timestamps change from one write to the next).

Use the data without our models::

    from bench.tasks import load_dataset
    train = load_dataset("charge", split="train", scale="quick")
    train["position"].shape  # (simulations, snapshots, particles, dim)
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from bench.errors import DataError, unknown
from bench.family import get_family
from bench.io import save_npz

MANIFEST_SCHEMA = 1
OFFICIAL_MANIFESTS = Path(__file__).resolve().parent / "manifests"
"""The committed official manifests of the shipped families (``tasks/manifests`` links to
``data/manifests`` so that they ship as package data in a wheel too); each family names its own folder
(``Family.official_manifests``)."""


def data_params(card, scale: str) -> dict[str, Any]:
    """The generator parameters that determine a dataset's bytes (a plain dict): the family's
    ``data_keys`` of the card and the scale's simulation count."""
    fam = get_family(str(card.family))
    if scale not in card.simulations:
        raise unknown("scale", scale, card.simulations.keys())
    params = {k: OmegaConf.to_object(card[k]) if OmegaConf.is_config(card[k]) else card[k] for k in fam.data_keys}
    params["simulations"] = int(card.simulations[scale])
    return params


def _params_hash(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]


def official_manifest_path(task: str, version: int, scale: str) -> Path:
    """Where the official manifest of a task's dataset is committed (in its family's folder)."""
    from bench.family import family_of_task

    fam = family_of_task(task)
    folder = fam.official_manifests() if fam else OFFICIAL_MANIFESTS
    return folder / f"{task}-v{version}-{scale}.json"


def _official_manifest(card, scale: str) -> dict[str, Any] | None:
    path = official_manifest_path(str(card.name), int(card.version), scale)
    if not path.exists():
        return None
    official = json.loads(path.read_text())
    return official if official["params"] == data_params(card, scale) else None


def dataset_dir(card, scale: str, root: str | Path = "data") -> Path:
    """Where the dataset of ``card`` at ``scale`` lives; a variant off the shipped card gets a hash suffix."""
    from bench.config import task_card

    params = data_params(card, scale)
    default = data_params(task_card(str(card.name)), scale) == params
    suffix = "" if default else f"-{_params_hash(params)}"
    return Path(root) / str(card.name) / f"v{card.version}" / f"{scale}{suffix}"


def checksum(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return "sha256:" + h.hexdigest()


@dataclass
class Dataset:
    """One generated dataset: its folder, manifest and arrays (``dataset.split('train')``)."""

    path: Path
    manifest: dict[str, Any]
    arrays: dict[str, np.ndarray]

    @property
    def checksum(self) -> str:
        return self.manifest["checksum"]

    def split(self, name: str) -> dict[str, np.ndarray]:
        prefix = f"{name}/"
        out = {k[len(prefix) :]: v for k, v in self.arrays.items() if k.startswith(prefix)}
        if not out:
            splits = sorted({k.split("/")[0] for k in self.arrays})
            raise unknown("split", name, splits)
        return out


def _regenerate_hint(card, scale: str) -> str:
    return f"regenerate it with: bench data task={card.name} scale={scale} --force"


def generate_dataset(card, scale: str, root: str | Path = "data", force: bool = False, progress: bool = True):
    """Generate (or, if present and intact, verify) the dataset; returns a ``Dataset``.

    Written into a temporary folder and renamed into place, so an interrupted generation leaves
    nothing half-written behind.
    """
    path = dataset_dir(card, scale, root)
    if path.exists() and not force:
        return load(card, scale, root)
    params = data_params(card, scale)
    arrays, info = get_family(str(card.family)).generate(card, scale, progress=progress)
    digest = checksum(arrays)
    official = _official_manifest(card, scale)
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "task": str(card.name),
        "version": int(card.version),
        "scale": scale,
        "params": params,
        "checksum": digest,
        "arrays": {k: {"shape": list(v.shape), "dtype": v.dtype.str} for k, v in sorted(arrays.items())},
        "generation": info,
        "official_checksum": official["checksum"] if official else None,
        "numpy": np.__version__,
    }
    if official and official["checksum"] != digest:
        warnings.warn(
            f"the {card.name} v{card.version} {scale} dataset generated here has checksum {digest}, "
            f"not the official {official['checksum']}: this platform's floating point differs. Results "
            "on it are marked with their own checksum and cannot be submitted as official.",
            stacklevel=2,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        with open(tmp / "dataset.npz", "wb") as f:
            save_npz(f, arrays)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        if force and path.exists():
            shutil.rmtree(path)
        try:
            os.replace(tmp, path)
        except OSError as e:
            if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            # Another process generated the same dataset meanwhile: use (and verify) theirs.
            shutil.rmtree(tmp, ignore_errors=True)
            return load(card, scale, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Dataset(path, manifest, arrays)


def load(card, scale: str, root: str | Path = "data") -> Dataset:
    """Load and verify a generated dataset; a missing, corrupted or mismatched one is a ``DataError``."""
    path = dataset_dir(card, scale, root)
    hint = _regenerate_hint(card, scale)
    if not (path / "manifest.json").exists() or not (path / "dataset.npz").exists():
        raise DataError(f"no {card.name} {scale} dataset at {path}; generate it with: "
                        f"bench data task={card.name} scale={scale}")  # fmt: skip
    try:
        manifest = json.loads((path / "manifest.json").read_text())
        with np.load(path / "dataset.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as e:  # a truncated zip, a broken manifest, ...
        raise DataError(f"the dataset at {path} cannot be read ({type(e).__name__}: {e}); {hint}") from None
    if manifest.get("params") != data_params(card, scale):
        raise DataError(
            f"the dataset at {path} was generated with other parameters than task '{card.name}' v{card.version} "
            f"now has; {hint}"
        )
    digest = checksum(arrays)
    if digest != manifest.get("checksum"):
        raise DataError(
            f"the dataset at {path} is corrupted: its checksum is {digest}, its manifest says "
            f"{manifest.get('checksum')}; {hint}"
        )
    return Dataset(path, manifest, arrays)


def load_dataset(
    task: str,
    split: str = "train",
    scale: str = "quick",
    root: str | Path = "data",
    generate: bool = True,
    **card_overrides: Any,
) -> dict[str, np.ndarray]:
    """The arrays of one split of a task, as numpy (generated first if missing and ``generate``).

    ``card_overrides`` select a variant: ``load_dataset("spring", n_particles=8, dim=3)``.
    Returns ``position``, ``velocity``, ``acceleration`` (S, T, n, d); ``charge``, ``mass`` (S, n);
    ``simulation`` (S,); ``energy_drift`` (S,).
    """
    from bench.config import task_card

    card = task_card(task, [f"{k}={v}" for k, v in card_overrides.items()])
    ds = generate_dataset(card, scale, root) if generate else load(card, scale, root)
    return ds.split(split)
