"""Submissions that prove themselves: ``bench submit`` rebuilds each run's model from the code and weights
it carries, re-predicts the official test split and compares with the saved predictions.

Runs: the example outside model (``examples/my_model/pair_force_net.py``, copied with its card into a
folder of the test's own), spring, tiny, seeds 0, 1, 2, ``sr=none``.

==========================================================================  ===================================
input                                                                       outcome
==========================================================================  ===================================
the honest runs                                                             accepted (exit 0); the folder
                                                                            carries ``best.pt``, ``model.py``
                                                                            and ``model.yaml`` per run
the written submission folder submitted again, the original model file      accepted: it carries its own model
moved away (another machine)
the test targets copied into ``predictions.npz``, the record's metrics,     rejected: ``predictions.npz``: the
metric table and SHA-256 updated to match (a careful forger)                saved predictions are not what the
                                                                            submitted model predicts:
                                                                            acceleration_pred differs by up to X
``best.pt`` deleted                                                         rejected: ``best.pt``: missing
``best.pt`` replaced by another seed's                                      rejected: ``predictions.npz``: ...
                                                                            differs by up to X
the model file edited after the run                                         rejected: ``model.py``: ... SHA-256
                                                                            ... differs from the record's
the written folder's ``model.py`` edited                                    rejected: ``model.py``: SHA-256
the written folder's ``model.py`` deleted, the original moved away          rejected: ``model.py``: missing
random bytes, or a pickled object array, in ``predictions.npz`` (its        rejected: ``predictions.file``:
SHA-256 updated)                                                            cannot be read as an .npz of
                                                                            numeric arrays (no traceback)
a symbolic-regression expression claimed recovered that is not the law      rejected: ``analyses``: ... is
                                                                            marked recovered, but the recovery
                                                                            score says not recovered
the same expression honestly marked not recovered                           accepted
==========================================================================  ===================================

Every rejection exits with code 2 and writes nothing under ``--out``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from bench.cli import main
from bench.leaderboard import submit
from bench.leaderboard.store import load
from bench.records import PREDICTIONS_NAME, RECORD_NAME

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "my_model"
CARD = """\
name: pair-force-net
authors: [Ada Example]
paper: unpublished
code_url: https://example.org/pair-force-net
licence: MIT
hardware: 2-core CPU
"""


@pytest.fixture(scope="module")
def made(tmp_path_factory, data_root) -> tuple[Path, Path]:
    """(model file, run folders): tiny runs of a private copy of the example model, seeds 0, 1, 2."""
    folder = tmp_path_factory.mktemp("model")
    for f in ("pair_force_net.py", "pair_force_net.yaml"):
        shutil.copy2(EXAMPLE / f, folder / f)
    out = tmp_path_factory.mktemp("runs")
    code = main(["run", "-m", "task=spring", f"model={folder / 'pair_force_net.py'}", "seed=0,1,2", "scale=tiny",
                 "sr=none", "progress=false", f"out={out}", f"data_dir={data_root}"])  # fmt: skip
    assert code == 0
    return folder / "pair_force_net.py", out / "spring" / "pair-force-net"


@pytest.fixture
def runs(made, tmp_path) -> Path:
    """A private copy of the runs, free to tamper with."""
    return Path(shutil.copytree(made[1], tmp_path / "runs"))


@pytest.fixture
def card(tmp_path) -> Path:
    path = tmp_path / "card.yaml"
    path.write_text(CARD)
    return path


def _run_dirs(runs: Path) -> list[Path]:
    return sorted(p.parent for p in runs.rglob(RECORD_NAME))


def _submit(capsys, runs, card, data_root, out) -> tuple[int, str]:
    code = main(["submit", str(runs), "--card", str(card), "--data-dir", str(data_root), "--out", str(out)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _rejected(capsys, runs, card, data_root, tmp_path) -> str:
    out = tmp_path / "rejected"
    code, text = _submit(capsys, runs, card, data_root, out)
    assert code == 2, text
    assert "submission rejected" in text and not out.exists()  # nothing written under --out
    return text


def _written(capsys, runs, card, data_root, tmp_path) -> Path:
    code, text = _submit(capsys, runs, card, data_root, tmp_path / "submissions")
    assert code == 0, text
    return tmp_path / "submissions" / "pair-force-net"


def test_honest_submission_carries_its_model_and_revalidates(made, runs, card, data_root, tmp_path, capsys):
    folder = _written(capsys, runs, card, data_root, tmp_path)
    written = _run_dirs(folder)
    assert len(written) == 3
    for run in written:
        record = json.loads((run / RECORD_NAME).read_text())
        original = runs / run.name
        assert (run / submit.WEIGHTS_NAME).read_bytes() == (original / submit.WEIGHTS_NAME).read_bytes()
        assert (run / submit.MODEL_FILE_NAME).read_bytes() == made[0].read_bytes()
        assert submit._sha256(run / submit.MODEL_FILE_NAME) == record["config"]["model"]["source"]["sha256"]
        assert (run / submit.MODEL_CARD_NAME).read_bytes() == made[0].with_suffix(".yaml").read_bytes()
    assert len(load(folder.parent, []).frame) == 3  # the store reads it as before
    again = _written(capsys, folder, card, data_root, tmp_path / "again")  # the written folder re-validates
    assert sorted(p.name for p in _run_dirs(again)) == sorted(p.name for p in written)


def test_written_submission_is_self_contained(made, runs, card, data_root, tmp_path, capsys):
    """Written while the original model file exists, validated again where it does not (another machine)."""
    folder = _written(capsys, runs, card, data_root, tmp_path)
    original = made[0]
    aside = original.with_name("elsewhere.py.txt")
    original.rename(aside)
    try:
        _written(capsys, folder, card, data_root, tmp_path / "again")
        for run in _run_dirs(folder):  # without its model.py, the same folder is rejected, naming the file
            (run / submit.MODEL_FILE_NAME).unlink()
        text = _rejected(capsys, folder, card, data_root, tmp_path)
    finally:
        aside.rename(original)
    assert f"{_run_dirs(folder)[0]}: model.py: missing: the code of a model loaded from a file" in text


def test_targets_copied_in_by_a_careful_forger_are_rejected(runs, card, data_root, tmp_path, capsys):
    from bench.config import task_card

    run = _run_dirs(runs)[1]
    record = json.loads((run / RECORD_NAME).read_text())
    task = task_card("spring")
    fam, data = submit.official_data(task, "tiny", data_root)
    with np.load(run / PREDICTIONS_NAME) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["acceleration_pred"] = fam.truth(task, data, tuple(arrays))["acceleration_true"].astype(np.float32)
    np.savez(run / PREDICTIONS_NAME, **arrays)
    evaluator = fam.evaluator(task)
    metrics = evaluator({**arrays, **fam.truth(task, data, tuple(arrays))})
    assert metrics["mae"] == 0.0
    table = evaluator.table_of(metrics)
    record["metrics"] = metrics
    record["metric_table"] = {k: table.get(k, v) for k, v in (record.get("metric_table") or {}).items()}
    record["predictions"]["sha256"] = submit._sha256(run / PREDICTIONS_NAME)
    (run / RECORD_NAME).write_text(json.dumps(record, indent=1))
    # the forgery passes every check on the record and its arrays: only the re-prediction catches it
    _, problems = submit.check_run(run, data_root)
    assert [p.field for p in problems] == [PREDICTIONS_NAME]
    text = _rejected(capsys, runs, card, data_root, tmp_path)
    assert (f"{run}: predictions.npz: the saved predictions are not what the submitted model predicts: "
            "acceleration_pred differs by up to") in text  # fmt: skip


@pytest.mark.parametrize("content", ["random bytes", "pickled object array"])
def test_unreadable_or_pickled_predictions_are_a_reason_not_a_traceback(content, runs, card, data_root, tmp_path,
                                                                         capsys):  # fmt: skip
    run = _run_dirs(runs)[0]
    path = run / PREDICTIONS_NAME
    if content == "random bytes":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    else:
        np.savez(path, acceleration_pred=np.array([{"a": 1}], dtype=object))
    record = json.loads((run / RECORD_NAME).read_text())
    record["predictions"]["sha256"] = submit._sha256(path)  # a careful forger updates the hash
    (run / RECORD_NAME).write_text(json.dumps(record, indent=1))
    text = _rejected(capsys, runs, card, data_root, tmp_path)
    assert f"{run}: predictions.file: 'predictions.npz' cannot be read as an .npz of numeric arrays" in text
    assert "Traceback" not in text


def _claim(run: Path, recovered: bool, mass: bool = False, mass_flags: bool | None = None) -> None:
    """Give a run's record a symbolic-regression result whose one expression (not the spring law) is claimed
    ``recovered`` or not, and recovered up to the mass factor m_i (``mass``) or not, with summary flags that follow
    from the claims (the flags up to a mass factor: ``mass_flags`` where given)."""
    record = json.loads((run / RECORD_NAME).read_text())
    front = [{"expression": "dx*rp + dy", "latex": "", "complexity": 5, "mse": 0.1, "recovered": recovered,
              "recovered_mass_factor": mass, "mass_factor": "m_i" if mass else None}]  # fmt: skip
    components = [{"component": c, "chosen": 0, "front": front} for c in (0, 1)]
    up_to_mass = recovered or mass if mass_flags is None else mass_flags
    record["analyses"]["symbolic"] = {"engine": "operon", "components": components, "recovered": recovered,
                                      "recovered_on_front": recovered, "recovered_up_to_mass": up_to_mass,
                                      "recovered_up_to_mass_on_front": up_to_mass}  # fmt: skip
    (run / RECORD_NAME).write_text(json.dumps(record, indent=1))


def test_a_recovery_verdict_the_model_does_not_earn_is_rejected(runs, card, data_root, tmp_path, capsys):
    run = _run_dirs(runs)[0]
    _claim(run, recovered=True)
    text = _rejected(capsys, runs, card, data_root, tmp_path)
    assert (f"{run}: analyses: symbolic: message 0, front expression 0 'dx*rp + dy' is marked recovered, but the "
            "recovery score says not recovered") in text  # fmt: skip


def test_a_verdict_up_to_a_mass_factor_the_model_does_not_earn_is_rejected(runs, card, data_root, tmp_path, capsys):
    """The verdict up to a mass factor is re-scored like the exact one, and so are its summary flags."""
    first, second = _run_dirs(runs)[:2]
    _claim(first, recovered=False, mass=True)
    _claim(second, recovered=False, mass_flags=True)
    text = _rejected(capsys, runs, card, data_root, tmp_path)
    assert (f"{first}: analyses: symbolic: message 0, front expression 0 'dx*rp + dy' is marked recovered up to a "
            "mass factor, but the recovery score says not recovered up to a mass factor") in text  # fmt: skip
    assert f"{second}: analyses: symbolic: the summary flag 'recovered_up_to_mass' does not follow" in text


def test_an_honest_recovery_verdict_is_accepted(runs, card, data_root, tmp_path, capsys):
    for run in _run_dirs(runs):
        _claim(run, recovered=False)
    assert _written(capsys, runs, card, data_root, tmp_path).is_dir()


def test_missing_weights_are_rejected(runs, card, data_root, tmp_path, capsys):
    run = _run_dirs(runs)[0]
    (run / submit.WEIGHTS_NAME).unlink()
    text = _rejected(capsys, runs, card, data_root, tmp_path)
    assert f"{run}: best.pt: missing: the trained weights" in text


def test_another_seeds_weights_are_rejected(runs, card, data_root, tmp_path, capsys):
    first, second = _run_dirs(runs)[:2]
    shutil.copy2(first / submit.WEIGHTS_NAME, second / submit.WEIGHTS_NAME)
    text = _rejected(capsys, runs, card, data_root, tmp_path)
    assert f"{second}: predictions.npz: the saved predictions are not what the submitted model predicts: " in text
    assert "acceleration_pred differs by up to" in text and f"{first}:" not in text


def test_model_file_edited_after_the_run_is_rejected(made, runs, card, data_root, tmp_path, capsys):
    original = made[0]
    code = original.read_text()
    original.write_text(code.replace("hidden: int = 64", "hidden: int = 65"))
    try:
        text = _rejected(capsys, runs, card, data_root, tmp_path)
    finally:
        original.write_text(code)
    assert f"{_run_dirs(runs)[0]}: model.py: '{original}' is not the model file the run was made with" in text
    assert "differs from the record's model.source.sha256" in text


def test_edited_model_copy_in_a_written_submission_is_rejected(runs, card, data_root, tmp_path, capsys):
    folder = _written(capsys, runs, card, data_root, tmp_path)
    run = _run_dirs(folder)[2]
    copy = run / submit.MODEL_FILE_NAME
    copy.chmod(0o644)
    copy.write_text(copy.read_text() + "\n# edited\n")
    text = _rejected(capsys, folder, card, data_root, tmp_path)
    assert f"{run}: model.py: '{copy}' is not the model file the run was made with" in text


def test_dry_run_lists_the_model_files(runs, card, data_root, tmp_path, capsys):
    code = main(["submit", str(runs), "--card", str(card), "--data-dir", str(data_root), "--dry-run"])
    text = capsys.readouterr().out
    assert code == 0
    for name in (submit.WEIGHTS_NAME, submit.MODEL_FILE_NAME, submit.MODEL_CARD_NAME):
        assert text.count(f"/{name}  (") == 3, name
    assert yaml.safe_load(CARD)["name"] in text
