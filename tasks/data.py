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
import re
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from bench.errors import DataError, unknown
from bench.family import get_family
from bench.io import STALE_AGE_S, check_writable_dir, file_lock, save_npz, write_error

MANIFEST_SCHEMA = 1
OFFICIAL_MANIFESTS = Path(__file__).resolve().parent / "manifests"
"""The committed official manifests of the shipped families (``tasks/manifests`` links to
``data/manifests`` so that they ship as package data in a wheel too); each family names its own folder
(``Family.official_manifests``)."""


def data_params(card, scale: str) -> dict[str, Any]:
    """The generator parameters that determine a dataset's bytes (a plain dict): the family's
    ``data_keys`` of the card (those of ``per_scale_data_keys`` at this scale) and the scale's simulation count."""
    fam = get_family(str(card.family))
    if scale not in card.simulations:
        raise unknown("scale", scale, card.simulations.keys())
    keys = [k for k in fam.data_keys if k not in fam.optional_data_keys or card.get(k) is not None]
    params = {k: OmegaConf.to_object(card[k]) if OmegaConf.is_config(card[k]) else card[k] for k in keys}
    params["simulations"] = int(card.simulations[scale])
    for key in fam.per_scale_data_keys:  # {scale: value} on the card: only this scale's value makes the bytes
        if isinstance(params.get(key), dict):
            params[key] = params[key].get(scale)
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
    params = data_params(card, scale)
    default = _shipped_params(str(card.name), scale) == params
    suffix = "" if default else f"-{_params_hash(params)}"
    return Path(root) / str(card.name) / f"v{card.version}" / f"{scale}{suffix}"


def _shipped_params(task: str, scale: str) -> dict[str, Any]:
    """``data_params`` of the task's card as shipped (no overrides), read by ``bench.config.listed_card`` (cached;
    the card as Hydra composes it, without composing it: a sweep asks once per job)."""
    from bench.config import listed_card

    return data_params(OmegaConf.create(listed_card("task", task)), scale)


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


def _data_command(card, scale: str, root: str | Path) -> str:
    """The ``bench data`` command of this very dataset: its task, scale, variant keys and ``data_dir=``."""
    words = [f"bench data task={card.name} scale={scale}"]
    params, default = data_params(card, scale), _shipped_params(str(card.name), scale)
    for key, value in params.items():
        if key != "simulations" and default.get(key) != value:
            words.append(f"task.{key}={json.dumps(value, separators=(',', ':'))}")
    words.append(f"data_dir={root}")
    return " ".join(words)


def _regenerate_hint(card, scale: str, root: str | Path = "data") -> str:
    return f"regenerate it with: {_data_command(card, scale, root)} --force"


_TEMP_NAME = "[a-z0-9_]{8}"  # what tempfile.mkdtemp adds to its prefix


def _remove_stale_temporaries(path: Path, max_age_s: float = STALE_AGE_S) -> None:
    """Remove the temporary folders (``.<scale>-XXXXXXXX``) of the dataset at ``path`` that a killed
    generation left behind, older than ``max_age_s`` (a live one is renamed into place within seconds)."""
    pattern = re.compile(rf"\.{re.escape(path.name)}-{_TEMP_NAME}")
    try:
        leftovers = [p for p in path.parent.iterdir() if pattern.fullmatch(p.name)]
    except OSError:
        return
    for p in leftovers:
        try:
            if p.is_dir() and not p.is_symlink() and time.time() - p.stat().st_mtime > max_age_s:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass


def _complete(path: Path) -> bool:
    return (path / "manifest.json").is_file() and (path / "dataset.npz").is_file()


def generate_dataset(card, scale: str, root: str | Path = "data", force: bool = False, progress: bool = True):
    """Generate (or, if present and intact, verify) the dataset; returns a ``Dataset``.

    Written into a temporary folder and renamed into place, so an interrupted generation leaves
    nothing half-written behind (and the leftovers of a killed one are removed after an hour). A folder
    without its manifest or its arrays is incomplete: it is regenerated as with ``force``. Processes that
    share ``data_dir`` (a sweep's jobs, on one machine or several) generate a dataset once: the first takes
    the dataset's lock file (``bench.io.file_lock``), the others wait for it and then verify its checksum.
    """
    path = dataset_dir(card, scale, root)
    _remove_stale_temporaries(path)
    if not force and _complete(path):
        return load(card, scale, root)
    check_writable_dir(root, "data_dir")  # before the simulation, not after it
    # One generation at a time per dataset, across processes and nodes sharing data_dir: the others wait here,
    # then load (and verify) what the first one generated.
    with file_lock(_lock_path(path), what=f"the {card.name} {scale} dataset being generated at {path}"):
        if not force and _complete(path):
            return load(card, scale, root)
        return _generate(card, scale, root, path, force, progress)


def _lock_path(path: Path) -> Path:
    """The lock file of the dataset folder ``path``: ``.<scale>.lock`` beside it, there while it is generated."""
    return path.parent / f".{path.name}.lock"


def _generate(card, scale: str, root: str | Path, path: Path, force: bool, progress: bool) -> Dataset:
    """Simulate the dataset and rename it into place at ``path`` (``generate_dataset`` holds its lock)."""
    replace = force or os.path.lexists(path)
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
    tmp: Path | None = None
    old: Path | None = None
    try:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
            tmp.chmod(0o755)  # mkdtemp makes 0700: a dataset on a shared data_dir is read by every user's jobs
            with open(tmp / "dataset.npz", "wb") as f:
                save_npz(f, arrays)
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
            if replace:
                # Move the old folder aside (one atomic rename; another process regenerating it at the same
                # time may have moved it already), put ours in its place, then delete the old one.
                old = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
                try:
                    os.replace(path, old / "old")
                except FileNotFoundError:
                    pass
        except OSError as e:
            friendly = write_error(e, path)
            if friendly is None:
                raise
            raise DataError(str(friendly)) from None
        try:
            os.replace(tmp, path)
        except OSError as e:
            if e.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                raise
            # Another process generated the same dataset meanwhile (one without the lock: an older version, or a
            # file system without locks): use (and verify) theirs.
            return load(card, scale, root)
        tmp = None
    finally:
        if tmp is not None and old is not None and (old / "old").exists() and not os.path.lexists(path):
            try:  # interrupted between the two renames: put the old folder back
                os.replace(old / "old", path)
            except OSError:
                pass
        for leftover in (tmp, old):
            if leftover is not None:
                shutil.rmtree(leftover, ignore_errors=True)
    return Dataset(path, manifest, arrays)


def load(card, scale: str, root: str | Path = "data") -> Dataset:
    """Load and verify a generated dataset; a missing, corrupted or mismatched one is a ``DataError``."""
    path = dataset_dir(card, scale, root)
    hint = _regenerate_hint(card, scale, root)
    if not _complete(path):
        what = "an incomplete" if os.path.lexists(path) else "no"
        raise DataError(f"{what} {card.name} {scale} dataset at {path}; generate it with: "
                        f"{_data_command(card, scale, root)}")  # fmt: skip
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
    # Made when the shipped official dataset was another one (a dataset made before any official manifest existed,
    # official_checksum None, is not checked): the generator changed since without a version bump, the official
    # manifest was re-recorded elsewhere, or the local manifest was edited. Neither official nor this code's.
    try:
        official = _official_manifest(card, scale)
        official_checksum = official["checksum"] if official else None
    except (OSError, ValueError, KeyError, TypeError) as e:
        path_ = official_manifest_path(str(card.name), int(card.version), scale)
        raise DataError(f"the official manifest {path_} cannot be read ({type(e).__name__}: {e}); reinstall the "
                        "package or restore the file") from None  # fmt: skip
    made_for = manifest.get("official_checksum")
    if official_checksum and made_for and made_for != official_checksum != digest:
        raise DataError(
            f"the dataset at {path} is stale: its manifest says it was made for the official {card.name} "
            f"v{card.version} {scale} dataset {made_for}, but the shipped official one is {official_checksum} "
            f"(the generator or the official manifest changed since, or the manifest was edited); {hint}"
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
