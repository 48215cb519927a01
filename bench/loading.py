"""Models from outside the package: ``model=path/to/file.py:ClassName`` or an entry point of ``bench.models``.

Every model, shipped or not, is described by a card (``name``, ``class``, ``version``, ``families``,
``capabilities``, ``hparams``, ``train``) and built from the class its card names. The shipped baselines are cards in
``baselines/conf/model/`` whose ``class`` is ``module:Class``; an outside model gets its card here:

* ``model=dir/my_model.py:MyNet`` (or ``model=dir/my_model.py`` when the file defines one model class):
  the card is ``dir/my_model.MyNet.yaml`` or ``dir/my_model.yaml`` beside the file, else the defaults
  (name = the class name in lower case, version 1, the class's ``families``, its constructor's default
  hyper-parameters, the training defaults of ``bench/conf/model_defaults.yaml``).
* ``model=NAME`` where an installed package declares ``NAME = "package.module:Class"`` in the entry-point
  group ``bench.models``: the card is looked up beside the module's file the same way; its name is NAME.

A card may leave out any key; the missing ones come from the defaults. Unknown keys are errors.
Resolved cards are registered with Hydra as options of the ``model`` group, so ``model.hparams.KEY=V``
overrides and ``-m`` sweeps work for outside models exactly as for the baselines.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import sys
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from bench import records
from bench.errors import BenchError, suggest

ENTRY_POINT_GROUP = "bench.models"
DEFAULTS_FILE = Path(__file__).resolve().parent / "conf" / "model_defaults.yaml"
CARD_KEYS = ("name", "class", "version", "families", "capabilities", "hparams", "train", "per_family", "description",
             "source")  # fmt: skip
NAME_PATTERN = re.compile(records.NAME_PATTERN)
_REGISTERED: dict[str, dict[str, Any]] = {}
"""Option key in the Hydra ``model`` group → the outside card registered under it."""
OPTION_PREFIX = "_outside_"


def is_path_spec(spec: str) -> bool:
    """Whether a ``model=`` value names a Python file (``x.py`` or ``x.py:Class``)."""
    return spec.partition(":")[0].endswith(".py")


@cache
def card_defaults() -> dict[str, Any]:
    return yaml.safe_load(DEFAULTS_FILE.read_text())


def entry_points() -> dict[str, str]:
    """Installed models: entry-point name → ``module:Class`` (group ``bench.models``)."""
    from importlib.metadata import entry_points as _eps

    return {ep.name: ep.value for ep in _eps(group=ENTRY_POINT_GROUP)}


def sha256_bytes(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _user_traceback(error: BaseException, path: Path | None = None) -> str:
    """The traceback of an error raised in a user's code, without the frames of ParticleBench itself."""
    import traceback

    ours = str(Path(__file__).resolve().parent)
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if (path is not None and Path(f.filename) == path) or not f.filename.startswith(ours)]  # fmt: skip
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(error), error)
    return "Traceback (most recent call last):\n" + "".join(lines).rstrip()


def _module_from_file(path: Path):
    """Import a Python file as a module of its own (re-imported when its content changes)."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()[:12]
    name = f"bench_outside_models.{re.sub(r'[^0-9a-zA-Z_]', '_', path.stem)}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py path always has a loader
        raise BenchError(f"cannot import '{path}' as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    # The file's folder goes on the path so that it can import its sibling modules.
    folder = str(path.parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except BenchError:
        raise
    except Exception as e:
        del sys.modules[name]
        raise BenchError(f"importing model file '{path}' failed: {type(e).__name__}: {e}\n"
                         f"{_user_traceback(e, path)}") from None  # fmt: skip
    finally:
        if added:
            sys.path.remove(folder)
    return module


def import_object(target: str, what: str = "model"):
    """The object named by ``package.module:Name`` or ``path/to/file.py:Name``."""
    module_name, sep, attr = target.rpartition(":")
    if not sep or not module_name or not attr:
        raise BenchError(f"{what}: '{target}' must be written 'package.module:ClassName' or 'file.py:ClassName'")
    if module_name.endswith(".py"):
        path = Path(module_name)
        if not path.is_file():
            raise BenchError(f"{what}: file '{module_name}' does not exist")
        module = _module_from_file(path.resolve())
    else:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name and module_name.startswith(e.name):  # the module itself is missing, not one it imports
                raise BenchError(f"{what}: cannot import '{target}' ({e})") from None
            raise BenchError(f"{what}: importing '{module_name}' failed: {e}\n{_user_traceback(e)}") from None
        except Exception as e:
            raise BenchError(f"{what}: importing '{module_name}' failed: {type(e).__name__}: {e}\n"
                             f"{_user_traceback(e)}") from None  # fmt: skip
    obj = getattr(module, attr, None)
    if obj is None:
        found = model_classes_in(module)
        hint = suggest(attr, found)
        did_you_mean = f"; did you mean '{hint}'?" if hint else ";"
        raise BenchError(f"{what}: '{module_name}' has no class '{attr}'{did_you_mean} "
                         f"bench.Model subclasses in it: {', '.join(found) or 'none'}")  # fmt: skip
    return obj


def import_class(target: str, what: str = "model"):
    """The class named by ``package.module:Class`` or ``path/to/file.py:Class``, checked to be a ``bench.Model``."""
    from bench.model import Model

    cls = import_object(target, what)
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise BenchError(f"{what}: '{target}' is not a subclass of bench.Model")
    return cls


def model_classes_in(module) -> list[str]:
    """Names of the ``bench.Model`` subclasses defined in ``module`` (not merely imported into it)."""
    from bench.model import Model

    return sorted(
        name
        for name, obj in vars(module).items()
        if isinstance(obj, type) and issubclass(obj, Model) and obj is not Model and obj.__module__ == module.__name__
    )


def _constructor_defaults(cls) -> dict[str, Any]:
    """The keyword defaults of ``cls.__init__`` after ``spec``: the hyper-parameters of a card-less model."""
    import inspect

    out = {}
    for p in list(inspect.signature(cls.__init__).parameters.values())[2:]:
        if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        if p.default is p.empty:
            raise BenchError(f"model class '{cls.__name__}': hyper-parameter '{p.name}' has no default; give it "
                             f"in the model's card (hparams: {{{p.name}: ...}})")  # fmt: skip
        if p.default is None or isinstance(p.default, (bool, int, float, str, list, tuple)):
            out[p.name] = list(p.default) if isinstance(p.default, tuple) else p.default
    return out


def _card_file(module_file: Path, class_name: str) -> Path | None:
    for candidate in (module_file.with_name(f"{module_file.stem}.{class_name}.yaml"), module_file.with_suffix(".yaml")):
        if candidate.is_file():
            return candidate
    return None


def _read_card(path: Path) -> dict[str, Any]:
    try:
        card = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise BenchError(f"model card '{path}' is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(card, dict):
        raise BenchError(f"model card '{path}' must be a mapping of keys (name, class, ...), not {type(card).__name__}")
    unknown_keys = [k for k in card if k not in CARD_KEYS]
    if unknown_keys:
        k = unknown_keys[0]
        hint = suggest(k, CARD_KEYS)
        did_you_mean = f"; did you mean '{hint}'?" if hint else ";"
        raise BenchError(f"model card '{path}': unknown key '{k}'{did_you_mean} valid: {', '.join(CARD_KEYS)}")
    train = card.get("train") or {}
    valid_train = list(card_defaults()["train"])
    bad = [k for k in train if k not in valid_train]
    if bad:
        hint = suggest(bad[0], valid_train)
        did_you_mean = f"; did you mean '{hint}'?" if hint else ";"
        raise BenchError(f"model card '{path}': unknown key 'train.{bad[0]}'{did_you_mean} valid: "
                         f"{', '.join(valid_train)}")  # fmt: skip
    return card


def build_card(cls, class_target: str, card_path: Path | None, default_name: str, source: dict) -> dict[str, Any]:
    """The complete card of an outside model: its own card file (if any) over the defaults."""
    own = _read_card(card_path) if card_path else {}
    where = f"model card '{card_path}'" if card_path else f"model '{class_target}'"
    if "class" in own:
        named = str(own["class"]).rpartition(":")[2]
        if named != cls.__name__:
            raise BenchError(f"{where} is for class '{own['class']}', not '{cls.__name__}'")
    defaults = card_defaults()
    name = str(own.get("name", default_name))
    if not NAME_PATTERN.match(name):
        raise BenchError(f"{where}: model name '{name}' must be lower case letters, digits, '-', '_' or '.'")
    from bench.config import group_options

    if name in group_options("model"):
        raise BenchError(f"{where}: model name '{name}' is taken by a shipped model card; choose another name")
    hparams = own["hparams"] if own.get("hparams") is not None else _constructor_defaults(cls)
    families = list(own.get("families") or cls.families)
    if not families:
        from bench.family import family_names

        raise BenchError(f"{where}: no task families: set `families = (...)` on the class or `families:` "
                         f"in its card (task families: {', '.join(family_names())})")  # fmt: skip
    card = {
        "name": name,
        "class": class_target,
        "version": int(own.get("version", defaults["version"])),
        "families": families,
        "hparams": dict(hparams),
        "train": {**defaults["train"], **(own.get("train") or {})},
        "source": {**source, "card": str(card_path) if card_path else None},
    }
    if own.get("capabilities") is not None:  # checked against the class before a run (bench.registry)
        card["capabilities"] = own["capabilities"]
    if own.get("per_family"):  # settings per task family over hparams / train (bench.config)
        card["per_family"] = own["per_family"]
    if own.get("description"):
        card["description"] = str(own["description"])
    return card


def card_from_path(spec: str) -> dict[str, Any]:
    """The card of ``dir/file.py:ClassName`` (or ``dir/file.py`` defining a single model class)."""
    file_part, _, class_name = spec.partition(":")
    path = Path(file_part)
    if not path.is_file():
        raise BenchError(f"model file '{file_part}' (from model={spec}) does not exist; give a path to a .py file "
                         "relative to the current folder, as in model=path/to/my_model.py:MyNet")  # fmt: skip
    path = path.resolve()
    module = _module_from_file(path)
    if not class_name:
        found = model_classes_in(module)
        if len(found) != 1:
            raise BenchError(f"model file '{file_part}' defines {len(found)} bench.Model subclasses "
                             f"({', '.join(found) or 'none'}); name one: model={file_part}:ClassName")  # fmt: skip
        class_name = found[0]
    target = f"{path}:{class_name}"
    cls = import_class(target, what=f"model={spec}")
    source = {"kind": "path", "spec": spec, "file": str(path), "sha256": sha256_bytes(path.read_bytes())}
    return build_card(cls, target, _card_file(path, class_name), class_name.lower(), source)


def card_from_entry_point(name: str, target: str) -> dict[str, Any]:
    cls = import_class(target, what=f"entry point '{name}' ({ENTRY_POINT_GROUP})")
    module_file = getattr(sys.modules[cls.__module__], "__file__", None)
    card_path = _card_file(Path(module_file), cls.__name__) if module_file else None
    source = {"kind": "entry_point", "spec": name, "target": target}
    card = build_card(cls, target, card_path, name, source)
    if card["name"] != name:
        raise BenchError(f"entry point '{name}' ({ENTRY_POINT_GROUP}) has a card named '{card['name']}' "
                         f"({card_path}); the two names must agree")  # fmt: skip
    return card


def outside_card(spec: str) -> dict[str, Any] | None:
    """The card of a ``model=`` value that is not a shipped card: a file path or an entry point (None if neither)."""
    if is_path_spec(spec):
        return card_from_path(spec)
    eps = entry_points()
    if spec in eps:
        return card_from_entry_point(spec, eps[spec])
    return None


def register(spec: str) -> str | None:
    """Register the card of an outside ``model=`` value as a Hydra option; returns the option's key."""
    card = outside_card(spec)
    if card is None:
        return None
    from hydra.core.config_store import ConfigStore

    digest = hashlib.sha256(repr(sorted(card.items())).encode()).hexdigest()[:10]
    key = f"{OPTION_PREFIX}{re.sub(r'[^0-9a-zA-Z_]', '_', card['name'])}_{digest}"
    if key not in _REGISTERED:
        ConfigStore.instance().store(group="model", name=key, node=card)
        _REGISTERED[key] = card
    return key


def is_registered(option: str) -> bool:
    return option in _REGISTERED
