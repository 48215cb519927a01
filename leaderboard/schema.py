"""The result record (schema version ``bench.records.SCHEMA_VERSION``) and the submission card, declared once.

``ResultRecord`` is one run's ``result.json``; ``SubmissionCard`` is the ``card.yaml`` a submitter writes and
``SubmittedCard`` the one ``bench submit`` writes (plus what it fills in from the records). The models give
the validation, one readable error per field, and the JSON Schema published for submitters
(``python -m bench.leaderboard.schema --write docs/schemas``).

``check_record(record) -> [(field, reason), ...]`` and ``check_card(card) -> [(field, reason), ...]`` are
empty when valid. The store lists records that fail instead of showing them; ``bench submit`` rejects them.
This module must stay torch-free: the store and the leaderboard app import it.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path, PureWindowsPath
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from bench.errors import suggest
from bench.records import NAME_PATTERN, SCHEMA_VERSION

SUPPORTED_SCHEMA_VERSIONS = (2,)
assert SCHEMA_VERSION in SUPPORTED_SCHEMA_VERSIONS, "ResultRecord must describe bench.records.SCHEMA_VERSION"
CONFIG_SECTIONS = ("task", "model", "backend", "scale", "seed")
"""What a full run configuration has at least (``bench run --cfg`` prints it)."""

# bench.model.CAPABILITIES, repeated here because importing bench.model imports torch (a test keeps them equal).
CAPABILITIES = ("edge_messages", "node_embeddings", "interaction", "hidden_field", "edge_types", "equation")

SHA256_PATTERN = r"^sha256:[0-9a-f]{64}$"
CONFIG_HASH_PATTERN = r"^[0-9a-f]{8}$"
URL_PATTERN = r"^https?://\S+$"
_PATTERN_HINTS = {
    SHA256_PATTERN: "'sha256:' followed by 64 lowercase hex digits",
    NAME_PATTERN: "a lowercase name (a-z, 0-9, '_', '.', '-'; starting with a letter or digit)",
    CONFIG_HASH_PATTERN: "8 lowercase hex digits",
    URL_PATTERN: "an http(s) URL",
}
_V1_REASON = (
    "1: schema version 1 records are no longer read; re-run the run with this version of ParticleBench "
    "(schema version 2 separates the re-scorable metrics from analyses and diagnostics)"
)

NonEmptyStr = Annotated[str, Field(min_length=1)]
Sha256 = Annotated[str, Field(pattern=SHA256_PATTERN, examples=["sha256:" + "0" * 64])]
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
Capability = Literal["edge_messages", "node_embeddings", "interaction", "hidden_field", "edge_types", "equation"]
assert get_args(Capability) == CAPABILITIES


def _plain_file_name(name: str) -> str:
    """A file directly inside the run folder: no directory part, not '.' or '..', not absolute."""
    if name in (".", "..") or any(c in name for c in "/\\\0") or PureWindowsPath(name).drive:
        raise PydanticCustomError(
            "plain_file_name", "{name} is not a plain file name inside the run folder", {"name": _show(name)}
        )
    return name


def _one_or_many(value: Any) -> Any:
    """``authors: Ada Example`` is read as ``[Ada Example]``; anything but a list of names is refused."""
    if isinstance(value, str) and value:
        return [value]
    if value is None or value == "" or value == []:
        return value  # reported as missing
    if not (isinstance(value, list) and all(isinstance(a, str) and a for a in value)):
        raise PydanticCustomError("names", "must be a list of names, got {value}", {"value": _show(value)})
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", protected_namespaces=())


# -- the result record ---------------------------------------------------------------------------------


class MetricInfo(_Strict):
    """How to read one metric."""

    direction: Literal["lower", "higher"] = Field(description="Which values are better.")
    description: str = Field(description="What the metric measures, in a sentence.")
    units: str = Field("", description="Units of the value ('' when dimensionless).")


class Predictions(_Strict):
    """The saved test-split predictions, from which the task's official evaluator recomputes every metric."""

    file: Annotated[NonEmptyStr, AfterValidator(_plain_file_name)] = Field(
        description="Plain file name inside the run folder (no directory part).", examples=["predictions.npz"]
    )
    sha256: Sha256 = Field(description="SHA-256 of the file.")
    split: NonEmptyStr = Field(description="The split predicted.", examples=["test"])
    arrays: list[NonEmptyStr] = Field(min_length=1, description="Names of the arrays in the file.")


class Training(_Strict):
    """How training went. Parameter-free models train zero epochs (best_epoch -1)."""

    epochs_run: int = Field(ge=0)
    best_epoch: int = Field(description="Epoch of the kept parameters; -1 when no epoch ran.")
    best_val_loss: float
    stopped_early: bool
    batch_size: int = Field(ge=0)
    compiled: bool = Field(description="Whether the model ran under torch.compile.")
    history: list[dict[str, Any]] = Field(description="One free-form entry per epoch (losses, learning rate, ...).")


class ResultRecord(_Strict):
    """The result record of one ParticleBench run (result.json), schema version 2. Every number in `metrics` can
    be recomputed by the task's official evaluator from the saved predictions; `diagnostics` are
    machine-dependent measurements (shown, never ranked); `analyses` are what the run reported about the trained
    model beyond the evaluator (kept as reported, not re-scored)."""

    model_config = ConfigDict(title="ParticleBench result record, schema version 2")

    schema_version: Literal[2] = Field(description="Version of this schema.")
    created: str = Field(description="When the record was written (ISO 8601).")
    task: NonEmptyStr
    task_family: NonEmptyStr
    task_version: int = Field(ge=1)
    scale: NonEmptyStr
    data_checksum: Sha256 = Field(description="Checksum of the dataset the run trained and was scored on.")
    model: Name
    model_version: int = Field(ge=1)
    model_class: NonEmptyStr = Field(description="Import path of the model's class.")
    capabilities: list[Capability] = Field(description="What the model exposes beyond its predictions.")
    oracle: list[NonEmptyStr] = Field(
        default_factory=list,
        description="Truths the model was given as inputs (Model.oracle: 'types', 'edges'): an upper bound, shown "
        "beside the entries and never ranked among them.",
    )
    backend: NonEmptyStr
    device: NonEmptyStr
    precision: Literal["fp32", "bf16"]
    seed: int
    metrics: dict[str, float] = Field(
        min_length=1, description="Metrics the official evaluator recomputes from the predictions (NaN allowed)."
    )
    metric_table: dict[str, MetricInfo] = Field(description="Direction, description and units of every metric.")
    primary_metric: NonEmptyStr = Field(description="The ranked metric: a key of `metrics` with a finite value.")
    diagnostics: dict[str, float] = Field(
        default_factory=dict, description="Machine-dependent measurements (timings): shown, never ranked."
    )
    analyses: dict[str, Any] = Field(
        default_factory=dict,
        description="What the run reported about the trained model beyond the evaluator; not re-scored.",
    )
    predictions: Predictions
    n_parameters: int = Field(ge=0)
    train_time_s: float = Field(ge=0)
    training: Training
    config: dict[str, Any] = Field(description="The full run configuration (`bench run --cfg`).")
    config_hash: str = Field(pattern=CONFIG_HASH_PATTERN)
    environment: dict[str, Any] = Field(description="Python, library versions, machine and device.")

    @model_validator(mode="after")
    def _consistent(self) -> ResultRecord:
        errors = _consistency_errors(self)
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self


def _consistency_errors(r: ResultRecord) -> list[InitErrorDetails]:
    """What field types cannot say: the metric table, the primary metric and the configuration agree."""
    errors: list[InitErrorDetails] = []

    def error(loc: tuple[str, ...], value: Any, message: str) -> None:
        errors.append(InitErrorDetails(type=PydanticCustomError("consistency", message), loc=loc, input=value))

    for name in r.metrics:
        if name not in r.metric_table:
            error(("metric_table", name), None, f"no entry for metric '{name}'; every metric needs one")
    if r.primary_metric not in r.metrics:
        error(("primary_metric",), r.primary_metric,
              f"'{r.primary_metric}' is not among the metrics ({', '.join(r.metrics)})")  # fmt: skip
    elif not math.isfinite(value := r.metrics[r.primary_metric]):
        error(("metrics", r.primary_metric), value, f"is {value}; the primary metric must be a finite number")
    missing = [s for s in CONFIG_SECTIONS if s not in r.config]
    if missing:
        error(("config",), None, f"not the full run configuration: no {', '.join(missing)}")
        return errors
    for field, said in (
        ("task", _get(r.config, "task", "name")),
        ("model", _get(r.config, "model", "name")),
        ("scale", _get(r.config, "scale", "name")),
        ("seed", r.config.get("seed")),
    ):
        mine = getattr(r, field)
        if said != mine:
            error(("config", field), said, f"says {_show(said)} but the record's {field} is {_show(mine)}")
    return errors


def _get(config: dict, section: str, key: str) -> Any:
    value = config.get(section)
    return value.get(key) if isinstance(value, dict) else None


# -- the submission card -------------------------------------------------------------------------------

Authors = Annotated[
    list[NonEmptyStr],
    Field(min_length=1),
    BeforeValidator(_one_or_many),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
                {"type": "string", "minLength": 1, "description": "One author (read as a one-item list)."},
            ]
        }
    ),
]


class SubmissionCard(_Strict):
    """The card.yaml of a ParticleBench submission (for result records of schema version 2), as the submitter
    writes it. The parameter count, training time, hyper-parameters, training data, model version and number of
    runs are filled in from the records by `bench submit`: leave them out."""

    model_config = ConfigDict(title="ParticleBench submission card (card.yaml)")

    name: Name = Field(description="The model's name, as in its runs' records.")
    authors: Authors = Field(description="Names of the authors.")
    paper: NonEmptyStr = Field(description="Reference or URL of the paper ('unpublished' if none).")
    code_url: str = Field(pattern=URL_PATTERN, description="Where the code is (http or https URL).")
    licence: NonEmptyStr = Field(description="Licence of the code.")
    hardware: NonEmptyStr = Field(description="What the runs ran on.")
    description: str | None = None
    contact: str | None = None
    parameters: int | None = Field(None, ge=0, description="Parameter count; must agree with the records.")
    notes: str | None = None


class SubmittedCard(SubmissionCard):
    """The card.yaml that `bench submit` writes: the submitter's fields plus those filled in from the records."""

    model_config = ConfigDict(title="ParticleBench submitted card (card.yaml written by bench submit)")

    parameters: int | dict[str, int] | None = Field(None, description="One count, or one per task, version, scale.")
    training_time: dict[str, str] = Field(description="Mean training time per task, version and scale.")
    hyperparameters: dict[str, Any] = Field(description="The model's hparams and train settings per task.")
    training_data: dict[str, dict[str, Any]] = Field(description="The official dataset of each task (checksum).")
    model_version: int = Field(ge=1)
    submitted_runs: int = Field(ge=1)


CARD_REQUIRED = tuple(name for name, f in SubmissionCard.model_fields.items() if f.is_required())
CARD_OPTIONAL = tuple(name for name, f in SubmissionCard.model_fields.items() if not f.is_required())
CARD_DERIVED = tuple(name for name in SubmittedCard.model_fields if name not in SubmissionCard.model_fields)
DERIVED_REASON = "is filled in from the records by bench submit; leave it out"


# -- checking ------------------------------------------------------------------------------------------


def check_record(record: Any) -> list[tuple[str, str]]:
    """Every problem of a record as (field, reason); an empty list for a valid record."""
    if not isinstance(record, dict):
        return [("record", f"must be a JSON object, not {type(record).__name__}")]
    version = record.get("schema_version")
    if "schema_version" not in record:
        return [("schema_version", f"missing (the current schema version is {SCHEMA_VERSION})")]
    if type(version) is int and version == 1:
        return [("schema_version", _V1_REASON)]
    if type(version) is not int or version not in SUPPORTED_SCHEMA_VERSIONS:
        supported = ", ".join(map(str, SUPPORTED_SCHEMA_VERSIONS))
        return [("schema_version", f"{_show(version)} is not a supported schema version (supported: {supported})")]
    return _problems(ResultRecord, record)


def check_card(card: Any, submitted: bool = False) -> list[tuple[str, str]]:
    """Every problem of a submission card as (field, reason). ``submitted``: the card ``bench submit`` wrote,
    with the fields it fills in from the records."""
    if not isinstance(card, dict):
        return [("card", "must be a mapping of fields (name, authors, ...)")]
    model = SubmittedCard if submitted else SubmissionCard
    problems = []
    for err in _errors(model, card):
        loc = err["loc"]
        field = str(loc[0]) if loc else "card"
        empty = err.get("input") is None or err.get("input") in ("", [])
        if len(loc) == 1 and field in CARD_REQUIRED and (err["type"] == "missing" or empty):
            problems.append((field, "missing (required: " + ", ".join(CARD_REQUIRED) + ")"))
        elif err["type"] == "extra_forbidden" and len(loc) == 1 and field in CARD_DERIVED and not submitted:
            problems.append((field, DERIVED_REASON))
        else:
            problems.append((_path(loc), _reason(err, model)))
    return problems


def format_errors(errors: list[tuple[str, str]]) -> str:
    return "; ".join(f"{field}: {reason}" for field, reason in errors)


def _errors(model: type[BaseModel], data: dict[str, Any]) -> list[dict[str, Any]]:
    try:
        model.model_validate(data)
    except ValidationError as e:
        return list(e.errors(include_url=False))
    return []


def _problems(model: type[BaseModel], data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(_path(err["loc"]), _reason(err, model)) for err in _errors(model, data)]


def _path(loc: tuple[Any, ...]) -> str:
    return ".".join(map(str, loc)) or "record"


def _show(value: Any, width: int = 60) -> str:
    """A value as it reads in an error: its repr, cut to about ``width`` characters."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


_TYPES = {
    "int_type": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "list_type": "a list",
    "finite_number": "a finite number",
}
_BOUNDS = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}


def _reason(err: dict[str, Any], model: type[BaseModel]) -> str:
    """pydantic's error as a reason: what was expected and, cut short, the value found."""
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    got = f", got {_show(value)}"
    if kind == "missing":
        return "missing"
    if kind == "extra_forbidden":
        parent = _model_at(model, err["loc"][:-1])
        valid = list(parent.model_fields) if parent else []
        hint = suggest(str(err["loc"][-1]), valid)
        did = f"did you mean '{hint}'? " if hint else ""
        return f"unknown field; {did}valid: {', '.join(valid)}"
    if kind in _TYPES:
        return f"must be {_TYPES[kind]}{got}"
    if kind == "literal_error":
        return f"must be {ctx['expected']}{got}"
    if kind == "string_pattern_mismatch":
        return f"{_show(value)} is not {_PATTERN_HINTS.get(ctx['pattern'], 'matching ' + ctx['pattern'])}"
    if kind in ("string_too_short", "too_short") and ctx.get("min_length") == 1:
        return "must not be empty"
    if kind in _BOUNDS:
        bound = next(iter(ctx.values()))
        return f"must be {_BOUNDS[kind]} {bound}{got}"
    if kind in ("consistency", "plain_file_name", "names"):
        return str(err["msg"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{msg[:1].lower()}{msg[1:]}{got}"


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model that validates the mapping at ``loc`` (for the valid field names of an unknown one)."""
    ann: Any = model
    for part in loc:
        ann = _unwrap(ann)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            if part not in ann.model_fields:
                return None
            ann = ann.model_fields[part].annotation
        elif get_origin(ann) in (dict, list):
            ann = get_args(ann)[-1]
        else:
            return None
    ann = _unwrap(ann)
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def _unwrap(ann: Any) -> Any:
    while get_origin(ann) is Annotated:
        ann = get_args(ann)[0]
    return ann


# -- the published JSON Schema -------------------------------------------------------------------------

JSON_SCHEMA_FILES = {"record.schema.json": ResultRecord, "card.schema.json": SubmissionCard}


def json_schemas() -> dict[str, str]:
    """File name → text of the JSON Schema of each model (what ``--write`` writes)."""
    out = {}
    for name, model in JSON_SCHEMA_FILES.items():
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **_normalised(model.model_json_schema())}
        out[name] = json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return out


def _normalised(schema: Any) -> Any:
    """The same text from every pydantic 2 release: what they spell differently, spelled one way
    (``additionalProperties: true`` is the default; a ``const`` integer is an integer; a bound 0.0 is 0)."""
    if isinstance(schema, list):
        return [_normalised(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _normalised(v) for k, v in schema.items() if not (k == "additionalProperties" and v is True)}
    if type(out.get("const")) is int:
        out.setdefault("type", "integer")
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if isinstance(out.get(key), float) and out[key].is_integer():
            out[key] = int(out[key])
    return out


def write_json_schemas(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in json_schemas().items():
        (folder / name).write_text(text)
        paths.append(folder / name)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.leaderboard.schema", description="Write the JSON Schemas of the record and the card."
    )
    parser.add_argument("--write", metavar="FOLDER", required=True, help="folder to write them to (docs/schemas)")
    args = parser.parse_args(argv)
    for path in write_json_schemas(args.write):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
