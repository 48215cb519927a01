"""A run's identity, torch-free (the store and the submission checks use it too).

* ``config_hash(config, data_checksum)``: the run folder's hash (``<scale>-seed<k>-<hash>``) and the record's
  ``config_hash``: the configuration without the keys that do not change what a run trains (``VOLATILE_KEYS``
  and every family's own option groups), plus the checksum of the dataset it trained on. The configuration
  holds the model card (its ``version``; for a model loaded from a file, ``source`` with the file's sha256),
  so another model version, another model file or other data is another folder. The card's ``capabilities``
  list stays out: it repeats what the class exposes (checked before a run, ``bench.registry``).
* ``config_id(config)``: the same configuration without the seed: records that share it (and task, scale,
  data checksum, backend) are seeds of one experiment, one leaderboard entry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

VOLATILE_KEYS = ("progress", "out", "resume", "threads", "device", "data_dir", "compile")
"""Keys that do not change what a run trains (they stay out of the run's identity), together with every
family's own option groups (``Family.option_groups``): the same command with another such option
re-evaluates the finished run in its folder. ``data_dir`` is volatile, the content behind it is not: the
dataset's checksum is part of the identity."""


def plain_config(config: Any) -> dict[str, Any]:
    """A run configuration (a ``DictConfig`` or the record's plain mapping) as a resolved plain dict."""
    if not isinstance(config, dict):
        from omegaconf import OmegaConf

        config = OmegaConf.to_container(config, resolve=True)
    assert isinstance(config, dict)
    return json.loads(json.dumps(config))  # a deep copy, as the record's JSON reads back


def identity_config(config: Any, seed: bool = True) -> dict[str, Any]:
    """What of a configuration changes a run's numbers (``seed=False``: apart from the seed)."""
    from bench.config import family_groups

    plain = plain_config(config)
    for key in (*VOLATILE_KEYS, *family_groups()):
        plain.pop(key, None)
    if plain.get("precision") == "fp32":  # runs from before the key existed were fp32: one identity
        plain.pop("precision")
    if isinstance(plain.get("model"), dict):  # what the class exposes, listed on the card for `bench list`: the
        plain["model"].pop("capabilities", None)  # class decides it, and runs from before the key keep their identity
    if not seed:
        plain.pop("seed", None)
    return plain


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def config_hash(config: Any, data_checksum: str | None) -> str:
    """8 hex digits over the identity configuration and the dataset's checksum (None: the configuration alone)."""
    plain = identity_config(config)
    if data_checksum is not None:
        plain = {"config": plain, "data_checksum": str(data_checksum)}
    return _digest(plain)[:8]


def config_id(config: Any) -> str:
    """12 hex digits over the identity configuration without the seed: the same experiment, any seed."""
    return _digest(identity_config(config, seed=False))[:12]


def config_differences(a: Mapping[str, Any], b: Mapping[str, Any], prefix: str = "") -> list[str]:
    """``model.hparams.hidden: 64 vs 32`` for every leaf on which two (identity) configurations differ."""
    out = []
    for key in sorted(set(a) | set(b), key=str):
        path = f"{prefix}{key}"
        x, y = a.get(key, "<absent>"), b.get(key, "<absent>")
        if isinstance(x, Mapping) and isinstance(y, Mapping):
            out += config_differences(x, y, path + ".")
        elif x != y:
            out.append(f"{path}: {x} vs {y}")
    return out
