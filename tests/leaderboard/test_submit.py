"""``bench submit``: a valid submission is written; each kind of malformed or tampered one is rejected
with its field and reason (one test per case)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from bench.cli import main
from bench.leaderboard import submit
from bench.leaderboard.store import load
from bench.records import PREDICTIONS_NAME, RECORD_NAME


def _run_dirs(runs: Path) -> list[Path]:
    return sorted(p.parent for p in runs.rglob(RECORD_NAME))


def _edit_record(run_dir: Path, edit) -> None:
    record = json.loads((run_dir / RECORD_NAME).read_text())
    edit(record)
    (run_dir / RECORD_NAME).write_text(json.dumps(record, indent=1))


def _submit(capsys, runs, card, data_root, out, *extra):
    code = main(["submit", str(runs), "--card", str(card), "--data-dir", str(data_root), "--out", str(out), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _rejected(capsys, runs, card, data_root, tmp_path) -> str:
    code, _, err = _submit(capsys, runs, card, data_root, tmp_path / "submissions")
    assert code == 2, err
    assert "submission rejected" in err and not (tmp_path / "submissions").exists()  # nothing half-written
    return err


def test_valid_submission_is_written_and_readable_by_the_store(runs, card, data_root, tmp_path, capsys):
    out = tmp_path / "submissions"
    code, stdout, err = _submit(capsys, runs, card, data_root, out)
    assert code == 0, err
    folder = out / "pair-force-net"
    assert f"submission written to {folder}/" in stdout and "over seeds 0, 1, 2" in stdout
    written = yaml.safe_load((folder / "card.yaml").read_text())
    assert written["authors"] == ["Ada Example", "Bo Example"] and written["licence"] == "MIT"
    records = [json.loads(p.read_text()) for p in folder.rglob(RECORD_NAME)]
    assert written["parameters"] == records[0]["n_parameters"] > 1000
    assert written["hyperparameters"]["spring v2 tiny"]["hparams"] == {"hidden": 64, "layers": 2}
    assert written["training_data"]["spring v2 tiny"]["checksum"] == records[0]["data_checksum"]
    assert len(records) == 3 and sorted(r["seed"] for r in records) == [0, 1, 2]
    for run_dir in _run_dirs(folder):  # copied byte for byte, plus the probe sample for the app's scatter
        original = next(p for p in _run_dirs(runs) if p.name == run_dir.name)
        assert (run_dir / PREDICTIONS_NAME).read_bytes() == (original / PREDICTIONS_NAME).read_bytes()
        with np.load(run_dir / submit.PROBE_SAMPLE_NAME) as z:
            assert z["message"].shape == z["fitted_force"].shape == (submit.PROBE_SAMPLE_POINTS, 2)
    # the folder is an official store as it stands: the store reads it, ranked with 3 seeds
    store = load(out, [])
    assert len(store.frame) == 3 and not store.invalid
    # a second submission of the same model needs --force
    code, _, err = _submit(capsys, runs, card, data_root, out)
    assert code == 2 and "exists already; pass --force" in err
    assert _submit(capsys, runs, card, data_root, out, "--force")[0] == 0


def test_dry_run_prints_and_writes_nothing(runs, card, data_root, tmp_path, capsys):
    code, stdout, _ = _submit(capsys, runs, card, data_root, tmp_path / "submissions", "--dry-run")
    assert code == 0
    assert "dry run: would write" in stdout and "card.yaml:" in stdout and "nothing was written" in stdout
    assert "spring/tiny-seed0-" in stdout and "parameters:" in stdout
    assert not (tmp_path / "submissions").exists()


def test_edited_metric_is_rejected(runs, card, data_root, tmp_path, capsys):
    run = _run_dirs(runs)[1]
    _edit_record(run, lambda r: r["metrics"].update(mae=r["metrics"]["mae"] * 0.5))
    err = _rejected(capsys, runs, card, data_root, tmp_path)
    assert f"{run}: metrics.mae: the record says" in err and "but the official evaluator gives" in err


def test_edited_predictions_are_rejected(runs, card, data_root, tmp_path, capsys):
    run = _run_dirs(runs)[0]
    with np.load(run / PREDICTIONS_NAME) as z:
        pred = {k: z[k] * 0.9 for k in z.files}
    np.savez(run / PREDICTIONS_NAME, **pred)
    err = _rejected(capsys, runs, card, data_root, tmp_path)
    assert f"{run}: predictions.sha256: 'predictions.npz' is not the file the record was written with" in err


def test_edited_predictions_with_a_matching_hash_are_recomputed(runs, card, data_root, tmp_path, capsys):
    """A forger who also rewrites the hash is caught by the re-evaluation."""
    run = _run_dirs(runs)[0]
    with np.load(run / PREDICTIONS_NAME) as z:
        pred = {k: z[k] * 0.9 for k in z.files}
    np.savez(run / PREDICTIONS_NAME, **pred)
    _edit_record(run, lambda r: r["predictions"].update(sha256=submit._sha256(run / PREDICTIONS_NAME)))
    err = _rejected(capsys, runs, card, data_root, tmp_path)
    assert f"{run}: metrics.mae: the record says" in err


def test_a_record_that_misstates_its_oracle_inputs_is_rejected(runs, card, data_root, tmp_path, capsys):
    """An oracle entry is never ranked, so the record must say what the model was told, and truly."""
    run = _run_dirs(runs)[1]
    _edit_record(run, lambda r: r.update(oracle=["types"]))
    err = _rejected(capsys, runs, card, data_root, tmp_path)
    assert f"{run}: oracle: the record says ['types'], but the submitted model is given no truths as inputs" in err


def test_wrong_task_version_is_rejected(runs, card, data_root, tmp_path, capsys):
    run = _run_dirs(runs)[2]
    _edit_record(run, lambda r: r.update(task_version=3))
    err = _rejected(capsys, runs, card, data_root, tmp_path)
    assert f"{run}: task_version: 3, but the official 'spring' task is version 2" in err


def test_wrong_data_checksum_is_rejected(runs, card, data_root, tmp_path, capsys):
    run = _run_dirs(runs)[0]
    _edit_record(run, lambda r: r.update(data_checksum="sha256:" + "0" * 64))
    err = _rejected(capsys, runs, card, data_root, tmp_path)
    assert f"{run}: data_checksum: sha256:000" in err and "is not the official spring v2 tiny dataset" in err


def test_missing_seed_is_rejected(runs, card, data_root, tmp_path, capsys):
    import shutil

    shutil.rmtree(_run_dirs(runs)[2])
    err = _rejected(capsys, runs, card, data_root, tmp_path)
    assert "spring v2 tiny (torch): seed: 2 distinct seed(s)" in err and "at least 3 distinct seeds are needed" in err


def test_duplicate_seed_is_rejected(runs, card, data_root, tmp_path, capsys):
    first, second = _run_dirs(runs)[:2]
    _edit_record(second, lambda r: (r.update(seed=r["config"]["seed"] * 0), r["config"].update(seed=0)))
    config = yaml.safe_load((second / "config.yaml").read_text())
    config["seed"] = 0
    (second / "config.yaml").write_text(yaml.safe_dump(config))
    err = _rejected(capsys, runs, card, data_root, tmp_path)
    assert "seed: seed 0 appears in 2 runs" in err and "at least 3 distinct seeds" in err


def test_missing_card_field_is_rejected(runs, card, data_root, tmp_path, capsys):
    fields = yaml.safe_load(card.read_text())
    del fields["licence"]
    card.write_text(yaml.safe_dump(fields))
    err = _rejected(capsys, runs, card, data_root, tmp_path)
    assert "card: licence: missing (required: name, authors, paper, code_url, licence, hardware)" in err


@pytest.mark.parametrize(
    "change, message",
    [
        ({"code_url": "github.com/x"}, "card: code_url: 'github.com/x' is not an http(s) URL"),
        ({"license": "MIT"}, "card: license: unknown field; did you mean 'licence'?"),
        ({"training_time": "1 h"}, "card: training_time: is filled in from the records by bench submit"),
        ({"parameters": 12}, "card: parameters: 12, but the records count"),
        ({"name": "other-net"}, "card: name: 'other-net', but the runs are of model 'pair-force-net'"),
    ],
)
def test_bad_card_field_is_rejected(change, message, runs, card, data_root, tmp_path, capsys):
    card.write_text(yaml.safe_dump({**yaml.safe_load(card.read_text()), **change}))
    assert message in _rejected(capsys, runs, card, data_root, tmp_path)


def test_missing_config_is_rejected(runs, card, data_root, tmp_path, capsys):
    run = _run_dirs(runs)[0]
    (run / "config.yaml").unlink()
    _edit_record(run, lambda r: r["config"].pop("model"))
    err = _rejected(capsys, runs, card, data_root, tmp_path)
    assert f"{run}: config: not the full run configuration: no model" in err


def test_malformed_record_is_rejected(runs, card, data_root, tmp_path, capsys):
    run = _run_dirs(runs)[0]
    _edit_record(run, lambda r: (r.pop("n_parameters"), r.update(seed="zero")))
    err = _rejected(capsys, runs, card, data_root, tmp_path)
    assert f"{run}: n_parameters: missing" in err and f"{run}: seed: must be an integer" in err


def test_every_problem_is_listed_at_once(runs, card, data_root, tmp_path, capsys):
    card.write_text("name: pair-force-net\n")
    _edit_record(_run_dirs(runs)[0], lambda r: r["metrics"].update(mse=1.0))
    err = _rejected(capsys, runs, card, data_root, tmp_path)
    assert all(f"card: {f}: missing" in err for f in ("authors", "paper", "code_url", "licence", "hardware"))
    assert "metrics.mse" in err


def test_path_without_runs_is_a_clear_error(tmp_path, card, capsys):
    (tmp_path / "empty").mkdir()
    code = main(["submit", str(tmp_path / "empty"), "--card", str(card)])
    assert code == 2 and "holds no run (result.json not found in it or below it)" in capsys.readouterr().err
