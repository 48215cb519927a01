"""Configuration composition with Hydra: groups `task`, `model`, `backend`, `scale`; strict validation.

Task cards come from the registered task families (``bench.family``): each family's config folder is on
Hydra's search path, and a family's own option groups (``Family.option_groups``) are added to a run of
one of its tasks, with their defaults. After composition, a model card's ``per_family`` block and a family
option's ``per_scale`` block (the symbolic-regression budget of ``scale=tiny``) are merged in, below what
the user typed.

Listings need no Hydra: ``group_options`` globs the search path's folders and ``listed_card`` reads a card's
YAML files (the simple form every shipped card has; anything else goes through Hydra), so that ``bench list``
answers at once; the tests check both against Hydra's own (``hydra_group_options``, ``hydra_card``).

Command-line overrides are checked before Hydra sees them, so that every mistake gets one readable
message naming the bad value, the nearest valid one and the full list (never a Hydra traceback, never
a prompt). ``-m`` sweeps (``seed=0,1,2``) are expanded with Hydra's own override parser.
"""

from __future__ import annotations

import copy
import itertools
import math
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.errors import BenchError, suggest, unknown

if TYPE_CHECKING:
    from omegaconf import DictConfig

CONF_DIR = Path(__file__).resolve().parent / "conf"
CORE_GROUPS = ("task", "model", "backend", "scale")
MODELS_CONF = "pkg://bench.baselines.conf"
MODELS_DIR = Path(__file__).resolve().parent / "baselines" / "conf"
"""The folder ``MODELS_CONF`` names (``bench/baselines`` links to the top-level ``baselines/``)."""


def family_groups() -> dict[str, list[str]]:
    """Each registered family's own option group → the families that declare it."""
    from bench.family import families

    groups: dict[str, list[str]] = {}
    for fam in families():
        for group in fam.option_groups:
            groups.setdefault(group, []).append(fam.name)
    return groups


def all_groups() -> tuple[str, ...]:
    return CORE_GROUPS + tuple(sorted(family_groups()))


def _search_path() -> str:
    """Hydra's search path: the model cards and every registered family's config folder."""
    from bench.family import families

    paths = [MODELS_CONF, *(Path(f.conf_dir).resolve().as_uri() for f in families())]
    return f"hydra.searchpath=[{','.join(paths)}]"


@contextmanager
def _hydra() -> Iterator[object]:
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        yield GlobalHydra.instance()


def _roots() -> tuple[Path, ...]:
    """The folders of Hydra's search path, in its order: ``bench/conf``, the model cards, every family's."""
    import sys

    return _roots_on(tuple(sys.path))


@cache
def _roots_on(path: tuple[str, ...]) -> tuple[Path, ...]:
    """``_roots`` for one import path (which decides the registered families, as in ``bench.family``)."""
    from bench.family import families

    return (CONF_DIR, MODELS_DIR, *(Path(f.conf_dir).resolve() for f in families()))


def group_options(group: str) -> tuple[str, ...]:
    """The valid choices of a config group (``task`` → ``('charge', 'damped', ...)``): the ``<group>/*.yaml``
    files of the search path's folders, as Hydra lists them (``hydra_group_options``), without starting Hydra."""
    return _group_options(group, _roots())


@cache
def _group_options(group: str, roots: tuple[Path, ...]) -> tuple[str, ...]:
    if group not in all_groups():
        raise unknown("config group", group, all_groups())
    options = {p.stem for root in roots for p in (root / group).glob("*.yaml") if p.is_file()}
    return tuple(sorted(o for o in options if not o.startswith("_")))


def hydra_group_options(group: str) -> tuple[str, ...]:
    """``group_options`` as Hydra's config loader lists them (slower; the tests check that both agree)."""
    if group not in all_groups():
        raise unknown("config group", group, all_groups())
    with _hydra() as gh:
        loader = gh.config_loader()  # type: ignore[attr-defined]
        options = loader.get_group_options(group, config_name="config", overrides=[_search_path()])
    return tuple(sorted(o for o in options if not o.startswith("_")))


# -- cards read without Hydra (bench list) --------------------------------------------------------------

_HERE_DEFAULT = re.compile(r"/([A-Za-z0-9_.-]+)@_here_")


@cache
def _yaml_loader() -> type:
    """PyYAML's safe loader (the C one where built: OmegaConf's own is the pure-Python one, 0.4 s slower over
    ``bench list``'s cards) with OmegaConf's scalar resolvers (YAML 1.2 floats, no timestamps), so that a card
    read here has the values Hydra would give it, and duplicate keys refused as OmegaConf does. Importing
    OmegaConf imports neither Hydra nor torch."""
    import yaml
    from omegaconf._utils import get_yaml_loader

    class CardLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
        def construct_mapping(self, node, deep=False):
            keys = [k.value for k, _ in node.value if k.tag == yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG]
            duplicate = next((k for k in keys if keys.count(k) > 1), None)
            if duplicate is not None:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key '{duplicate}'", node.start_mark)
            return super().construct_mapping(node, deep=deep)

    CardLoader.yaml_implicit_resolvers = get_yaml_loader().yaml_implicit_resolvers
    return CardLoader


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged into ``base`` as OmegaConf merges two mappings: mappings key by key, anything else replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_simple_card(group: str, name: str, roots: tuple[Path, ...]) -> dict[str, Any] | None:
    """The card ``<group>/<name>.yaml`` read directly, when it is of the simple form every shipped card has: in
    one folder of the search path, no interpolation or package header, and at most a defaults list of
    ``/<group>@_here_: <option>`` entries (themselves of this form) and an explicit ``_self_``. None for
    anything else: the caller asks Hydra."""
    import yaml

    paths = [root / group / f"{name}.yaml" for root in roots if (root / group / f"{name}.yaml").is_file()]
    if len(paths) != 1:
        return None
    text = paths[0].read_text()
    if "${" in text or "???" in text or "@package" in text:
        return None
    try:
        own = yaml.load(text, Loader=_yaml_loader()) or {}  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        return None  # Hydra gives the error, in its words
    if not isinstance(own, dict):
        return None
    defaults = own.pop("defaults", None)
    if defaults is None:
        return own
    if not isinstance(defaults, list) or defaults.count("_self_") != 1:
        return None
    card: dict[str, Any] = {}
    for entry in defaults:
        if entry == "_self_":
            card = _merge(card, own)
            continue
        if not (isinstance(entry, dict) and len(entry) == 1):
            return None
        ((key, option),) = entry.items()
        match = _HERE_DEFAULT.fullmatch(str(key))
        if match is None or not isinstance(option, str):
            return None
        base = _read_simple_card(match.group(1), option, roots)
        if base is None:
            return None
        card = _merge(card, base)
    return card


def hydra_card(group: str, name: str) -> dict[str, Any]:
    """The card ``name`` of ``group`` as Hydra composes it into a run's configuration, before any of the
    run's own settings (a model's ``per_family``, a scale's ``per_scale``) are merged in."""
    from hydra import compose as hydra_compose

    overrides = [f"{group}={name}"]
    owners = family_groups().get(group)
    if owners:  # a family's option group: composed with one of that family's tasks
        from bench.family import get_family

        overrides.insert(0, f"task={get_family(owners[0]).tasks()[0]}")
    from omegaconf import OmegaConf

    with _hydra():
        cfg = hydra_compose(config_name="config", overrides=[_search_path(), *_family_overrides(overrides)])
    return OmegaConf.to_container(cfg[group], resolve=True)  # type: ignore[return-value]


def listed_card(group: str, name: str) -> dict[str, Any]:
    """A card of a config group (``listed_card('task', 'charge')``) as a plain dict, as ``hydra_card`` composes
    it, read from its YAML files without Hydra when it has the simple form of the shipped cards (``bench list``
    answers at once); any other card, and a model that is not a shipped card (an entry point), goes through
    Hydra."""
    return copy.deepcopy(_listed_card(group, name, _roots()))


@cache
def _listed_card(group: str, name: str, roots: tuple[Path, ...]) -> dict[str, Any]:
    valid = group_options(group)
    if name not in valid:
        if group == "model":  # an installed model (entry point) or a file: its card is built by bench.loading
            from omegaconf import OmegaConf

            return OmegaConf.to_container(model_card(name), resolve=True)  # type: ignore[return-value]
        raise unknown(group, name, valid)
    card = _read_simple_card(group, name, roots)
    return card if card is not None else hydra_card(group, name)


@cache
def default_task() -> str:
    """The task of ``bench/conf/config.yaml``'s defaults list."""
    import yaml

    defaults = yaml.safe_load((CONF_DIR / "config.yaml").read_text())["defaults"]
    return next(str(d["task"]) for d in defaults if isinstance(d, dict) and "task" in d)


def _family_overrides(overrides: Sequence[str]) -> list[str]:
    """``overrides`` with the chosen task's family groups added: ``sr=none`` becomes ``+sr=none`` and a
    group the user left out gets its default (``+sr=operon``). A group of another family is an error."""
    from bench.family import family_of_task

    task = default_task()
    for text in overrides:
        key, _, value = text.partition("=")
        if key.strip() == "task":
            task = value.strip()
    fam = family_of_task(task)
    own = dict(fam.option_groups) if fam else {}
    out = []
    for text in overrides:
        key, eq, value = text.partition("=")
        key = key.strip().lstrip("+")
        if key in family_groups() and eq:
            if key not in own:
                owners = ", ".join(family_groups()[key])
                raise BenchError(f"'{text}': '{key}' is an option of task family {owners}; task '{task}' is of "
                                 f"family '{fam.name if fam else '?'}'"
                                 f"{' (its options: ' + ', '.join(own) + ')' if own else ''}")  # fmt: skip
            own.pop(key)
            out.append(f"+{key}={value}")
        else:
            out.append(text)
    return out + [f"+{group}={default}" for group, default in own.items()]


def _leaf_keys(cfg: DictConfig, prefix: str = "") -> list[str]:
    from omegaconf import DictConfig

    keys = []
    for key in cfg:
        value = cfg._get_node(key)  # noqa: SLF001 - no interpolation resolution needed
        path = f"{prefix}{key}"
        keys.append(path)
        if isinstance(value, DictConfig):
            keys.extend(_leaf_keys(value, prefix=f"{path}."))
    return keys


def _parse(overrides: Sequence[str]):
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    parser = OverridesParser.create()
    parsed = []
    for text in overrides:
        if "=" not in text:
            raise BenchError(
                f"bad argument '{text}': expected key=value (for example task=charge, seed=1, "
                f"scale=tiny); config groups: {', '.join(all_groups())}"
            )
        try:
            parsed.extend(parser.parse_overrides([text]))
        except OverrideParseException as e:
            raise BenchError(f"cannot parse '{text}': {str(e).splitlines()[0]}") from None
    return parsed


def _choices(override) -> list[str]:
    """The values an override stands for: one, or several for a sweep (``seed=0,1,2``)."""
    if override.is_sweep_override():
        return [str(v) for v in override.sweep_string_iterator()]
    return [override.get_value_element_as_str()]


def _type_ok(value: object, default: object) -> bool:
    """Whether an override value fits the type of the key's default (None and strings: anything)."""
    if value is None or default is None:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return True


_KIND = {bool: "true or false", int: "an integer", float: "a number"}


def _check_key(key: str, value: object, base: DictConfig, valid_keys: list[str], text: str) -> None:
    if key not in valid_keys:
        parent = key.rpartition(".")[0]
        while parent and parent not in valid_keys:
            parent = parent.rpartition(".")[0]
        siblings = [k for k in valid_keys if k.rpartition(".")[0] == parent]
        hint = suggest(key, valid_keys)
        did_you_mean = f"; did you mean '{hint}'?" if hint else ";"
        where = f" under {parent}" if parent else ""
        raise BenchError(f"unknown key '{key}'{did_you_mean} valid keys{where}: {', '.join(siblings)}")
    from omegaconf import OmegaConf

    default = OmegaConf.select(base, key)
    for v in value if isinstance(value, list) else [value]:
        if not _type_ok(v, default):
            kind = _KIND.get(type(default), type(default).__name__)
            raise BenchError(f"bad value in '{text}': {key} must be {kind} (its default is {default!r})")


def resolve_models(overrides: Sequence[str]) -> list[str]:
    """``overrides`` with every ``model=`` value that is not a shipped card (a file path ``x.py:Class`` or an
    entry point of ``bench.models``) replaced by the key of its card, registered with Hydra (bench.loading)."""
    from bench import loading

    out = []
    for text in overrides:
        key, eq, value = text.partition("=")
        if key.strip() != "model" or not eq:
            out.append(text)
            continue
        (override,) = _parse([text])
        valid = group_options("model")
        choices = []
        raw = override.value()
        # the raw values: Hydra's string forms escape ':' (``a.py\\:Class``)
        for choice in [str(v) for v in raw.list] if override.is_sweep_override() else [str(raw)]:
            if choice in valid or loading.is_registered(choice):
                choices.append(choice)
                continue
            option = loading.register(choice)
            if option is None:
                err = unknown("model", choice, [*valid, *loading.entry_points()])
                raise BenchError(f"{err} (or a model in a file of your own: model=path/to/my_model.py:ClassName)")
            choices.append(option)
        out.append(f"model={','.join(choices)}")
    return out


def validate(overrides: Sequence[str]) -> list:
    """Raise a ``BenchError`` for any unknown group option, key, badly typed value or malformed
    override; return the parsed overrides. Sweeps are checked choice by choice."""
    from bench import loading

    parsed = _parse(resolve_models(overrides))
    selected: dict[str, list[str]] = {}
    for o in parsed:
        if o.is_delete() or o.is_add() or o.is_force_add():
            raise BenchError(
                f"'{o.input_line}': adding or deleting keys is not allowed; set an existing key "
                "instead (see `bench run --help` for the keys)"
            )
        if o.key_or_group in all_groups():
            valid = group_options(o.key_or_group)
            for choice in _choices(o):
                if choice not in valid and not loading.is_registered(choice):
                    raise unknown(o.key_or_group, choice, valid)
            selected[o.key_or_group] = _choices(o)
    keys = [o for o in parsed if o.key_or_group not in all_groups()]
    if not keys:
        return parsed
    combos = list(itertools.product(*[[f"{g}={c}" for c in cs] for g, cs in selected.items()]))
    for combo in combos:
        base = _base(list(combo))
        valid_keys = _leaf_keys(base)
        for o in keys:
            values = list(o.sweep_iterator()) if o.is_sweep_override() else o.value()
            try:
                _check_key(o.key_or_group, values, base, valid_keys, o.input_line)
            except BenchError as e:
                raise BenchError(f"{e} (with {' '.join(combo)})" if len(combos) > 1 else str(e)) from None
    return parsed


_BASES: dict[tuple[str, ...], DictConfig] | None = None


@contextmanager
def shared_bases() -> Iterator[None]:
    """Within the block, ``validate`` composes the configuration of each choice of groups (``task=spring
    model=gnn``) once, however many overrides lists it checks with it: a sweep's jobs share them."""
    global _BASES
    outer = _BASES
    if outer is None:
        _BASES = {}
    try:
        yield
    finally:
        _BASES = outer


def _base(groups: list[str]) -> DictConfig:
    """The configuration of a choice of groups, against which ``validate`` checks the keys set beside them."""
    if _BASES is None:
        return compose_unchecked(groups)
    key = tuple(groups)
    if key not in _BASES:
        _BASES[key] = compose_unchecked(groups)
    return _BASES[key]


_COMPOSED: dict[tuple, DictConfig] = {}
"""Hydra's compositions in this process, by their overrides, search path and the stat of every card file
(``_cards_signature``): a card edited on disk is composed anew."""


def _cards_signature(roots: tuple[Path, ...]) -> tuple:
    """(folder, name, inode, size, mtime, ctime) of every ``.yaml`` under the search path's folders (about 60 files:
    1 ms). Hidden files (an editor's lock file ``.#card.yaml``, a dangling link) are not cards: Hydra skips them."""
    found = []
    for root in roots:
        for dirpath, _, files in os.walk(root):
            for name in files:
                if name.endswith(".yaml") and not name.startswith("."):
                    try:
                        st = os.stat(os.path.join(dirpath, name))
                    except OSError:  # a dangling link, or a file removed while listed
                        continue
                    found.append((dirpath, name, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(sorted(found))


def _hydra_compose(overrides: list[str]) -> DictConfig:
    """Hydra's compose of ``overrides`` (after ``_search_path()``), once per process for the same overrides and
    card files (a compose takes 0.2-0.4 s; tests and sweeps repeat them); a copy, which the caller may change."""
    from hydra import compose

    key = (tuple(overrides), _cards_signature(_roots()))
    if key not in _COMPOSED:
        if len(_COMPOSED) >= 1024:  # a long-lived process (a test session) keeps the memory bounded
            _COMPOSED.clear()
        with _hydra():
            _COMPOSED[key] = compose(config_name="config", overrides=overrides)
    return copy.deepcopy(_COMPOSED[key])


def compose_unchecked(overrides: Sequence[str]) -> DictConfig:
    from omegaconf import OmegaConf

    cfg = _hydra_compose([_search_path(), *_family_overrides(overrides)])
    OmegaConf.set_struct(cfg, False)
    if "hydra" in cfg:
        del cfg["hydra"]
    OmegaConf.set_struct(cfg, True)
    explicit = [str(o).split("=", 1)[0].lstrip("+~") for o in overrides]
    apply_family_settings(cfg, explicit)
    apply_scale_settings(cfg, explicit)
    return cfg


FAMILY_SECTIONS = ("hparams", "train")


def apply_family_settings(cfg: DictConfig, explicit: Sequence[str] = ()) -> None:
    """Merge a model card's settings for the task's family over its defaults, in place.

    A card serving several families may carry ``per_family: {<family>: {hparams: {...}, train: {...}}}``;
    for a task of that family these values replace the card's ``hparams`` / ``train`` defaults. Keys the
    user set on the command line (``explicit``, e.g. ``model.train.lr``) keep the user's value. Every key
    must exist in the defaults and every family must be one the card serves.
    """
    model = cfg.model
    blocks = model.get("per_family") if "per_family" in model else None
    if not blocks:
        return
    families = [str(f) for f in (model.get("families") or [])]
    for fam, block in blocks.items():
        if str(fam) not in families:
            raise unknown(f"family in model '{model.name}' per_family", fam, families)
        for section in block or {}:
            if section not in FAMILY_SECTIONS:
                raise unknown(f"section in model '{model.name}' per_family.{fam}", section, FAMILY_SECTIONS)
            for key in block[section] or {}:
                if key not in model[section]:
                    raise unknown(f"key in model '{model.name}' per_family.{fam}.{section}", key, model[section])
    block = blocks.get(str(cfg.task.family)) or {}
    for section in FAMILY_SECTIONS:
        for key, value in (block.get(section) or {}).items():
            if f"model.{section}.{key}" not in explicit:
                model[section][key] = value


def apply_scale_settings(cfg: DictConfig, explicit: Sequence[str] = ()) -> None:
    """Merge a family option's settings for the run's scale over its defaults, in place.

    A family's option card (``tasks/forces/conf/sr/operon.yaml``) may carry ``per_scale: {<scale>: {KEY: value}}``:
    for a run of that scale these values replace the card's own (``scale=tiny`` gets a symbolic-regression budget
    of seconds, not minutes). Keys the user set on the command line (``explicit``, e.g. ``sr.generations``) keep
    the user's value. Every scale must be a scale card and every key one of the option card's. The block is then
    dropped, so that the composed configuration (``bench run --cfg``, the run's ``config.yaml``) shows what the
    run uses.
    """
    from omegaconf import DictConfig, open_dict

    scale = str(cfg.scale.name)
    for group in family_groups():
        node = cfg.get(group)
        if not isinstance(node, DictConfig) or "per_scale" not in node:
            continue
        where = f"{group} option '{node.get('name')}'"
        blocks = node.per_scale or {}
        keys = [str(k) for k in node if k not in ("name", "per_scale")]
        scales = group_options("scale")
        for other, block in blocks.items():
            if str(other) not in scales:
                raise unknown(f"scale in {where} per_scale", other, scales)
            for key in block or {}:
                if str(key) not in keys:
                    raise unknown(f"key in {where} per_scale.{other}", key, keys)
        for key, value in (blocks.get(scale) or {}).items():
            if f"{group}.{key}" not in explicit:
                node[key] = value
        with open_dict(node):
            del node["per_scale"]


def compose(overrides: Sequence[str] = ()) -> DictConfig:
    """The full run configuration for ``overrides``, validated (a single run: no sweeps)."""
    sweeps = [o.input_line for o in _parse(overrides) if o.is_sweep_override()]
    if sweeps:
        raise BenchError(f"'{sweeps[0]}' is a sweep (several values); use `bench run -m ...` to run each")
    overrides = resolve_models(overrides)
    validate(overrides)
    cfg = compose_unchecked(overrides)
    _check_values(cfg)
    return cfg


def expand_sweep(overrides: Sequence[str]) -> list[list[str]]:
    """Every combination of a ``-m`` sweep, as plain override lists (``seed=0,1`` → two lists)."""
    validate(overrides)
    axes = [[f"{o.get_key_element()}={v}" for v in _choices(o)] for o in _parse(overrides)]
    return [list(combo) for combo in itertools.product(*axes)]


SEED_LIMIT = 2**32
"""Seeds lie in ``[0, 2**32)``: numpy's limit (``np.random.seed``), so that every generator takes them."""

SIZE_HPARAMS = frozenset({
    "hidden", "layers", "depth", "width", "heads", "channels", "units", "blocks", "identity", "product",
    "constant", "degree", "max_degree", "features", "components", "experts", "rank", "neighbours", "neighbors",
})  # fmt: skip
SIZE_SUFFIXES = ("_dim", "_dims", "_size", "_layers", "_hidden", "_heads", "_channels", "_units", "_width",
                 "_depth", "_blocks", "_degree", "_features", "_count")  # fmt: skip
SIZE_PREFIXES = ("n_", "num_")
"""A model hyper-parameter is a size or a count (at least 1) when its name is one of ``SIZE_HPARAMS``, ends
with one of ``SIZE_SUFFIXES`` or starts with one of ``SIZE_PREFIXES``; every other integer hyper-parameter
must be at least 0. Null (a model's own default) is always allowed."""

_UNSET = object()


def show_value(value: object) -> str:
    """A configuration value as the command line spells it (``null``, ``true``, ``-1``, ``nan``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def out_of_range(key: str, value: object, valid: str) -> BenchError:
    """``model.train.batch_size=-1 is out of range; valid: an integer >= 1, or null for ...``"""
    return BenchError(f"{key}={show_value(value)} is out of range; valid: {valid}")


def check_split(key: str, value: object) -> None:
    """Raise ``out_of_range`` unless ``value`` is three weights (train, val, test) >= 0 with a positive sum."""
    split = list(value) if isinstance(value, (list, tuple)) or hasattr(value, "__iter__") else [value]
    if (
        len(split) != 3
        or any(isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0 for w in split)
        or sum(split) <= 0
    ):
        raise out_of_range(key, split, "three weights (train, val, test) >= 0 with a positive sum")


def check_range(
    key: str,
    value: object,
    *,
    integer: bool = False,
    minimum: float | None = None,
    above: float | None = None,
    below: float | None = None,
    null: str | None = None,
    note: str = "",
) -> None:
    """Raise ``out_of_range`` unless ``value`` is a (finite) number, an integer with ``integer``, with
    ``value >= minimum``, ``value > above`` and ``value < below`` where given; None is valid when ``null``
    says what it means (``"the task's reference batch"``; ``""``: plain null). For the core's keys, the
    task cards' (``Family.check_card``) and a family's options (``Family.check_run``) alike. ``note``: a
    reason shown after the range (``"a size or a count"``)."""
    kind = "an integer" if integer else "a finite number"
    bounds = [f">= {minimum:g}" if minimum is not None else "", f"> {above:g}" if above is not None else "",
              f"< {below}" if below is not None else ""]  # fmt: skip
    valid = " ".join([kind, " and ".join(b for b in bounds if b)]).strip() + (f" ({note})" if note else "")
    if null is not None:
        valid += f", or null{' for ' + null if null else ''}"
    if value is None:
        if null is None:
            raise out_of_range(key, value, valid)
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise out_of_range(key, value, valid)
    if not math.isfinite(value):
        raise out_of_range(key, value, valid)
    if (minimum is not None and value < minimum) or (above is not None and value <= above):
        raise out_of_range(key, value, valid)
    if below is not None and value >= below:
        raise out_of_range(key, value, valid)


def is_size_hparam(name: str) -> bool:
    """Whether a model hyper-parameter named ``name`` is a size or a count (see ``SIZE_HPARAMS``)."""
    return name in SIZE_HPARAMS or name.endswith(SIZE_SUFFIXES) or name.startswith(SIZE_PREFIXES)


def _check_hparams(values: object, path: str, name: str) -> None:
    """Every integer hyper-parameter (in nested mappings and lists too) is >= 0, a size or count >= 1."""
    if isinstance(values, dict):
        for key, value in values.items():
            _check_hparams(value, f"{path}.{key}", str(key))
    elif isinstance(values, list):
        for k, value in enumerate(values):
            _check_hparams(value, f"{path}[{k}]", name)
    elif isinstance(values, int) and not isinstance(values, bool):
        if is_size_hparam(name):
            check_range(path, values, integer=True, minimum=1, null="", note=f"'{name}' is a size or a count")
        else:
            check_range(path, values, integer=True, minimum=0, null="", note="an integer hyper-parameter")


def _check_core_values(cfg: DictConfig) -> None:
    """The ranges of the run-level, scale and training keys every task shares (before any data)."""
    from omegaconf import DictConfig, OmegaConf

    def get(key: str) -> object:
        return OmegaConf.select(cfg, key, default=_UNSET)

    integer_checks = [  # key, minimum, below, what null means (None: not allowed)
        ("scale.epochs", 1, None, None),  # a model without parameters is not trained whatever the epochs
        ("scale.patience", 1, None, "no early stopping"),
        ("scale.max_steps_per_epoch", 1, None, "every batch of the training split"),
        ("model.train.batch_size", 1, None, "the task's reference batch"),
        ("threads", 1, None, "torch's default"),
        ("seed", 0, SEED_LIMIT, None),
    ]
    for key, minimum, below, null in integer_checks:
        value = get(key)
        if value is not _UNSET:
            check_range(key, value, integer=True, minimum=minimum, below=below, null=null)
    for key, kwargs in (
        ("model.train.lr", {"above": 0}),
        ("model.train.weight_decay", {"minimum": 0}),
        ("model.train.grad_clip", {"above": 0, "null": "no clipping"}),
        ("model.train.final_div_factor", {"above": 0, "null": "torch's default, 1e4"}),
    ):
        value = get(key)
        if value is not _UNSET:
            check_range(key, value, **kwargs)  # type: ignore[arg-type]
    hparams = get("model.hparams")
    if isinstance(hparams, DictConfig):
        _check_hparams(OmegaConf.to_container(hparams, resolve=True), "model.hparams", "hparams")


def _check_values(cfg: DictConfig) -> None:
    """Every value in its range, before any data is generated: the device, the core's numeric keys
    (``_check_core_values``), the model's integer hyper-parameters, then the task card (its family's
    ``check_card``). Each error names the key, the bad value and the valid range."""
    device = str(cfg.device)
    if not (device in ("auto", "cpu", "cuda") or device.startswith("cuda:")):
        raise BenchError(f"bad device '{device}'; valid: auto, cpu, cuda, cuda:N")
    _check_core_values(cfg)
    from bench.family import get_family

    get_family(str(cfg.task.family)).check_card(cfg.task)


def task_card(name: str, overrides: Sequence[str] = ()) -> DictConfig:
    """The card of one task (``task_card('charge')``), for use outside a run (data API, listings)."""
    valid = group_options("task")
    if name not in valid:
        raise unknown("task", name, valid)
    return compose([f"task={name}", *[f"task.{o}" for o in overrides]]).task


def model_card(name: str) -> DictConfig:
    """The card of a model: a shipped card's name, an entry point's name, or ``path/to/file.py:Class``."""
    return compose([f"model={name}"]).model
