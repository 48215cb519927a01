"""The record and card schemas (``bench.leaderboard.schema``): a valid v2 record and card pass; each kind of
bad one is refused with its field and a reason that says what is wrong; the published JSON Schemas are current."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from bench.leaderboard import schema, submit
from bench.leaderboard.schema import CAPABILITIES, ResultRecord, check_card, check_record
from bench.records import SCHEMA_VERSION, write_record

REPO = Path(__file__).resolve().parents[2]
SHA = "sha256:" + "ab" * 32


def _record() -> dict:
    """A complete, valid schema-version-2 record, made by hand."""
    return {
        "schema_version": 2,
        "created": "2025-01-01T00:00:00+00:00",
        "task": "spring",
        "task_family": "forces",
        "task_version": 1,
        "scale": "tiny",
        "data_checksum": SHA,
        "model": "pair-force-net",
        "model_version": 1,
        "model_class": "pair_force_net.PairForceNet",
        "capabilities": ["edge_messages"],
        "backend": "torch",
        "device": "cpu",
        "precision": "fp32",
        "seed": 0,
        "metrics": {"mae": 0.5, "mse": 0.25, "r2": float("nan")},
        "metric_table": {
            "mae": {"direction": "lower", "description": "mean absolute error of the accelerations"},
            "mse": {"direction": "lower", "description": "mean squared error", "units": "(m/s^2)^2"},
            "r2": {"direction": "higher", "description": "coefficient of determination"},
        },
        "primary_metric": "mae",
        "diagnostics": {"time_per_epoch_s": 0.5},
        "analyses": {"force_probe": {"components": [{"component": 0, "r2": 0.9}]}},
        "predictions": {"file": "predictions.npz", "sha256": SHA, "split": "test", "arrays": ["acceleration_pred"]},
        "n_parameters": 1234,
        "train_time_s": 1.5,
        "training": {
            "epochs_run": 2,
            "best_epoch": 1,
            "best_val_loss": 0.3,
            "stopped_early": False,
            "batch_size": 32,
            "compiled": False,
            "history": [{"epoch": 0, "train_loss": 1.0}, {"epoch": 1, "train_loss": 0.5}],
        },
        "config": {
            "task": {"name": "spring"},
            "model": {"name": "pair-force-net", "hparams": {"hidden": 16}, "train": {"lr": 0.001}},
            "backend": {"name": "torch"},
            "scale": {"name": "tiny"},
            "seed": 0,
        },
        "config_hash": "0123abcd",
        "environment": {"python": "3.11.9", "device": "cpu"},
    }


def _errors(record) -> dict[str, str]:
    errors = check_record(record)
    assert errors, "expected the record to be refused"
    return dict(errors)


def _edit(**changes) -> dict:
    record = _record()
    record.update(changes)
    return record


def test_a_valid_v2_record_passes():
    assert SCHEMA_VERSION == 2
    assert check_record(_record()) == []
    zero_epochs = _record()
    zero_epochs["training"].update(epochs_run=0, best_epoch=-1, best_val_loss=float("inf"), history=[])
    zero_epochs.update(n_parameters=0, train_time_s=0, diagnostics={}, analyses={}, capabilities=[])
    assert check_record(zero_epochs) == []


def test_capabilities_are_bench_models():
    from bench.model import CAPABILITIES as MODEL_CAPABILITIES

    assert CAPABILITIES == MODEL_CAPABILITIES


def test_missing_field():
    record = _record()
    del record["n_parameters"]
    assert _errors(record) == {"n_parameters": "missing"}


def test_wrong_type_names_what_was_expected_and_the_value():
    errors = _errors(_edit(seed="zero", train_time_s=True, precision="fp16"))
    assert errors["seed"] == "must be an integer, got 'zero'"
    assert errors["train_time_s"] == "must be a number, got True"
    assert errors["precision"] == "must be 'fp32' or 'bf16', got 'fp16'"


def test_a_long_bad_value_is_cut_short():
    reason = _errors(_edit(seed="x" * 500))["seed"]
    assert reason.startswith("must be an integer, got 'xxx") and reason.endswith("...") and len(reason) < 100


def test_nested_and_metric_errors_name_their_path():
    record = _record()
    record["metrics"]["mse"] = "small"
    record["training"]["epochs_run"] = -1
    record["capabilities"] = ["telepathy"]
    errors = _errors(record)
    assert errors["metrics.mse"] == "must be a number, got 'small'"
    assert errors["training.epochs_run"] == "must be >= 0, got -1"
    assert errors["capabilities.0"].startswith("must be 'edge_messages', 'node_embeddings'")


def test_bad_checksum():
    errors = _errors(_edit(data_checksum="sha256:x"))
    assert errors == {"data_checksum": "'sha256:x' is not 'sha256:' followed by 64 lowercase hex digits"}


def test_bad_model_name():
    assert _errors(_edit(model="Pair Net"))["model"].startswith("'Pair Net' is not a lowercase name")


def test_unknown_top_level_field_suggests_the_nearest():
    errors = _errors(_edit(metric="mae"))
    assert errors["metric"].startswith("unknown field; did you mean 'metrics'? valid: schema_version, created,")
    assert "unknown field; valid:" in _errors(_edit(lower_is_better=True))["lower_is_better"]
    record = _record()
    record["predictions"]["sha"] = SHA
    assert _errors(record)["predictions.sha"].startswith("unknown field; did you mean 'sha256'? valid: file, sha256")


def test_metric_without_a_metric_table_entry():
    record = _record()
    del record["metric_table"]["mse"]
    assert _errors(record) == {"metric_table.mse": "no entry for metric 'mse'; every metric needs one"}


def test_primary_metric_not_in_metrics():
    errors = _errors(_edit(primary_metric="rmse"))
    assert errors == {"primary_metric": "'rmse' is not among the metrics (mae, mse, r2)"}


def test_primary_metric_nan_is_refused_other_nans_are_not():
    record = _record()
    record["metrics"]["mae"] = float("nan")
    assert _errors(record) == {"metrics.mae": "is nan; the primary metric must be a finite number"}
    assert check_record(_edit(primary_metric="mse")) == []  # r2 is NaN, and not the primary metric


@pytest.mark.parametrize("file", ["../x/predictions.npz", "/abs/p.npz", "..", "sub\\p.npz", "C:p.npz"])
def test_predictions_file_must_be_a_plain_name_in_the_run_folder(file):
    record = _record()
    record["predictions"]["file"] = file
    errors = _errors(record)
    assert errors == {"predictions.file": f"{file!r} is not a plain file name inside the run folder"}


def test_predictions_file_of_the_wrong_type():
    record = _record()
    record["predictions"]["file"] = 3
    assert _errors(record) == {"predictions.file": "must be a string, got 3"}


def test_config_mismatch_is_one_error_per_field():
    record = _record()
    record["config"]["seed"] = 3
    record["config"]["model"]["name"] = "other-net"
    errors = _errors(record)
    assert errors == {
        "config.model": "says 'other-net' but the record's model is 'pair-force-net'",
        "config.seed": "says 3 but the record's seed is 0",
    }


def test_config_must_be_the_full_configuration():
    record = _record()
    del record["config"]["model"], record["config"]["backend"]
    assert _errors(record) == {"config": "not the full run configuration: no model, backend"}


def test_v1_record_is_refused_with_one_error_saying_to_rerun():
    record = _edit(schema_version=1, lower_is_better=True, probes={})
    errors = check_record(record)
    assert len(errors) == 1 and errors[0][0] == "schema_version"
    reason = errors[0][1]
    assert "no longer read" in reason and "re-run the run with this version of ParticleBench" in reason
    assert "separates the re-scorable metrics from analyses and diagnostics" in reason


@pytest.mark.parametrize("version", [3, "2", None, True])
def test_other_unsupported_versions_name_the_supported_one(version):
    errors = check_record(_edit(schema_version=version))
    assert errors == [("schema_version", f"{version!r} is not a supported schema version (supported: 2)")]
    del (record := _record())["schema_version"]
    assert check_record(record) == [("schema_version", "missing (the current schema version is 2)")]


def test_a_record_that_is_not_a_mapping():
    assert check_record([1, 2]) == [("record", "must be a JSON object, not list")]


def test_write_record_refuses_an_invalid_record(tmp_path):
    with pytest.raises(ValueError, match="not writing an invalid result record .*primary_metric: 'rmse'"):
        write_record(tmp_path / "result.json", _edit(primary_metric="rmse"))
    assert not (tmp_path / "result.json").exists()
    path = write_record(tmp_path / "result.json", _record())
    assert check_record(json.loads(path.read_text())) == []


def test_required_fields_come_from_the_schema():
    from bench.records import REQUIRED_FIELDS

    assert "metric_table" in REQUIRED_FIELDS and "diagnostics" not in REQUIRED_FIELDS
    assert set(REQUIRED_FIELDS) <= set(ResultRecord.model_fields)


# -- the card ------------------------------------------------------------------------------------------


def _card(**changes) -> dict:
    card = {
        "name": "pair-force-net",
        "authors": ["Ada Example", "Bo Example"],
        "paper": "unpublished",
        "code_url": "https://example.org/pair-force-net",
        "licence": "MIT",
        "hardware": "2-core CPU",
    }
    return {**card, **changes}


def test_a_valid_card_passes_and_a_single_author_string_is_a_list():
    assert check_card(_card()) == []
    assert check_card(_card(authors="Ada Example", notes="n", parameters=3)) == []
    assert schema.SubmissionCard.model_validate(_card(authors="Ada Example")).authors == ["Ada Example"]


def test_card_missing_required_field():
    card = _card()
    del card["licence"]
    required = "missing (required: name, authors, paper, code_url, licence, hardware)"
    assert check_card(card) == [("licence", required)]
    assert dict(check_card(_card(paper="", authors=[]))) == {"paper": required, "authors": required}
    assert submit.check_card_fields(card) == [submit.Problem("card", "licence", required)]


def test_card_derived_field_is_refused():
    assert check_card(_card(training_time="1 h")) == [
        ("training_time", "is filled in from the records by bench submit; leave it out")
    ]


def test_card_unknown_field_suggests_the_nearest():
    [(field, reason)] = check_card(_card(license="MIT"))
    assert field == "license"
    assert reason == (
        "unknown field; did you mean 'licence'? valid: name, authors, paper, code_url, licence, hardware, "
        "description, contact, parameters, notes"
    )


def test_card_bad_url_and_types():
    assert check_card(_card(code_url="github.com/x")) == [("code_url", "'github.com/x' is not an http(s) URL")]
    errors = dict(check_card(_card(authors=["Ada", 3], paper=2021, parameters=-1)))
    assert errors == {
        "authors": "must be a list of names, got ['Ada', 3]",
        "paper": "must be a string, got 2021",
        "parameters": "must be >= 0, got -1",
    }
    assert check_card("name: x") == [("card", "must be a mapping of fields (name, authors, ...)")]


def test_the_card_bench_submit_writes_validates_as_a_submitted_card():
    record = _record()
    runs = [submit.Run(Path(f"run{s}"), {**copy.deepcopy(record), "seed": s}) for s in range(3)]
    written = submit.derived_card(_card(authors="Ada Example"), runs)
    assert check_card(written, submitted=True) == []
    assert dict(check_card(written))["submitted_runs"].startswith("is filled in from the records")
    assert check_card({**written, "submitted_runs": 0}, submitted=True) == [("submitted_runs", "must be >= 1, got 0")]


# -- the published JSON Schemas ------------------------------------------------------------------------


def test_published_json_schemas_are_current():
    """``python -m bench.leaderboard.schema --write docs/schemas`` rewrites them when a model changes."""
    for name, text in schema.json_schemas().items():
        path = REPO / "docs" / "schemas" / name
        assert path.is_file(), f"{path} is missing; run python -m bench.leaderboard.schema --write docs/schemas"
        assert path.read_text() == text, f"{path} is stale; run python -m bench.leaderboard.schema --write docs/schemas"


def test_json_schemas_name_the_version_and_describe_the_fields():
    record = json.loads(schema.json_schemas()["record.schema.json"])
    card = json.loads(schema.json_schemas()["card.schema.json"])
    assert f"schema version {SCHEMA_VERSION}" in record["title"]
    assert f"schema version {SCHEMA_VERSION}" in record["description"]
    assert f"schema version {SCHEMA_VERSION}" in card["description"]
    assert record["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    assert record["additionalProperties"] is False and "metric_table" in record["required"]
    assert set(card["required"]) == set(submit.CARD_REQUIRED) and card["additionalProperties"] is False


def test_write_json_schemas(tmp_path):
    assert schema.main(["--write", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card.schema.json", "record.schema.json"]
    assert (tmp_path / "record.schema.json").read_text().endswith("}\n")
