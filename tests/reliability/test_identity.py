"""Nothing lost, nothing forged: a run's identity, one leaderboard entry per experiment, names that stay paths.

| input | outcome |
| --- | --- |
| the same command with another ``data_dir`` holding other data | a new run folder; the first record untouched |
| a foreign ``last.pt`` copied into a run folder | refused: "belongs to another run ... resume=false"; kept |
| a truncated / random-bytes ``last.pt`` | refused: "the checkpoint <file> cannot be read ... resume=false" |
| a finished record of another run in the folder | refused: "is the record of another run"; not overwritten |
| the same run again (re-evaluated) | its own record rewritten |
| ``bench results`` with 2-D and 3-D runs (and two hparams) of one model | one entry each, told apart by config id |
| ``bench submit``: seeds with different hparams | exit 2: "model.hparams.hidden: 64 vs 32" |
| ``bench submit``: a seed folder that is a relabelled copy (hash recomputed) | exit 2: "byte-identical predictions" |
| ``bench submit``: a seed folder copied, its record's seed edited | exit 2: config_hash "hash to" + folder named seed |
| ``bench submit``: ``model: ../../x`` in a record / ``name: ../../x`` in the card | exit 2: not a name / pattern |
| ``bench submit``: ``predictions.file: ../other-run/predictions.npz`` | exit 2: not a plain file name |
| ``bench submit`` of the honest runs | accepted, written only under ``--out`` |

Every rejected submission exits 2 and writes nothing under ``--out`` (nor beside it).
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

from bench.cli import main
from bench.io import save_npz
from bench.records import PREDICTIONS_NAME, RECORD_NAME

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "my_model" / "pair_force_net.py"
CARD = """\
name: pair-force-net
authors: [Ada Example]
paper: unpublished
code_url: https://example.org/pair-force-net
licence: MIT
hardware: 2-core CPU
"""


def _run(out: Path, data_dir: Path, *extra: str, seeds: str = "0") -> int:
    sweep = ["-m"] if "," in seeds else []
    return main(["run", *sweep, "task=spring", f"model={EXAMPLE}", f"seed={seeds}", "scale=tiny", "sr=none",
                 "progress=false", f"out={out}", f"data_dir={data_dir}", *extra])  # fmt: skip


def _folders(root: Path) -> dict[int, Path]:
    """Seed → run folder of the example model's 2-D runs under ``root``."""
    out = {}
    for record in sorted(root.rglob(RECORD_NAME)):
        out[json.loads(record.read_text())["seed"]] = record.parent
    return out


@pytest.fixture(scope="module")
def roots(tmp_path_factory, data_root) -> dict[str, Path]:
    """Real tiny runs, made once: ``main`` (seeds 0, 1, 2), ``h32`` (seed 2, hidden 32), ``d3`` (seed 0, 3-D on a
    small dataset)."""
    base = tmp_path_factory.mktemp("identity")
    roots = {name: base / name for name in ("main", "h32", "d3")}
    assert _run(roots["main"], data_root, seeds="0,1,2") == 0
    assert _run(roots["h32"], data_root, "model.hparams.hidden=32", seeds="2") == 0
    assert _run(roots["d3"], data_root, "task.dim=3", "task.simulations.tiny=8", "task.n_steps=200") == 0
    return roots


@pytest.fixture
def copy(roots, tmp_path) -> Path:
    """A private copy of the ``main`` runs, free to tamper with."""
    return Path(shutil.copytree(roots["main"], tmp_path / "runs"))


def _other_data(data_root: Path, target: Path) -> Path:
    """``target`` holding a spring tiny dataset with other numbers (a valid one: its manifest's checksum is its own)."""
    from bench.tasks.data import checksum

    src = data_root / "spring" / "v2" / "tiny"
    dst = target / "spring" / "v2" / "tiny"
    shutil.copytree(src, dst)
    with np.load(dst / "dataset.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["train/position"] = arrays["train/position"] * np.float32(1.01)
    with open(dst / "dataset.npz", "wb") as f:
        save_npz(f, arrays)
    manifest = json.loads((dst / "manifest.json").read_text())
    manifest["checksum"] = checksum(arrays)
    (dst / "manifest.json").write_text(json.dumps(manifest))
    return target


# -- a run's identity ----------------------------------------------------------------------------------


def test_other_data_is_another_folder_and_the_first_record_stays(copy, data_root, tmp_path, capsys):
    first = _folders(copy)[0]
    before = (first / RECORD_NAME).read_bytes()
    other = _other_data(data_root, tmp_path / "other-data")
    assert _run(copy, other) == 0
    folders = sorted(p.parent for p in (copy / "spring").rglob(RECORD_NAME) if "seed0" in p.parent.name)
    assert len(folders) == 2 and first in folders  # a new folder beside the first
    assert (first / RECORD_NAME).read_bytes() == before
    new = json.loads((next(f for f in folders if f != first) / RECORD_NAME).read_text())
    assert new["data_checksum"] != json.loads(before)["data_checksum"]


def test_foreign_checkpoint_is_refused_and_nothing_overwritten(copy, data_root, capsys):
    folders = _folders(copy)

    def files():  # config.yaml aside: bench run rewrites it (the same configuration; here with the copy's out=)
        return {p.name: p.read_bytes() for p in folders[0].iterdir() if p.is_file() and p.name != "config.yaml"}

    shutil.copy2(folders[1] / "last.pt", folders[0] / "last.pt")
    before = files()
    assert _run(copy, data_root) == 2
    err = capsys.readouterr().err
    assert f"the checkpoint {folders[0] / 'last.pt'} belongs to another run (config_hash" in err
    assert f"delete the run folder {folders[0]}" in err and "or pass resume=false" in err
    assert files() == before and {"result.json", "predictions.npz", "best.pt"} <= set(before)


@pytest.mark.parametrize("damage", ["truncated", "random bytes"])
def test_corrupt_checkpoint_is_a_sentence(damage, copy, data_root, capsys):
    folder = _folders(copy)[0]
    last = folder / "last.pt"
    data = last.read_bytes()
    last.write_bytes(data[: len(data) // 2] if damage == "truncated" else os.urandom(4096))
    assert _run(copy, data_root) == 2
    err = capsys.readouterr().err
    assert f"the checkpoint {last} cannot be read" in err and "or pass resume=false" in err
    assert "Traceback" not in err


def test_a_record_of_another_run_is_not_overwritten_and_its_own_is(copy, data_root, capsys):
    folder = _folders(copy)[0]
    record = json.loads((folder / RECORD_NAME).read_text())
    mine = (folder / RECORD_NAME).read_bytes()
    (folder / RECORD_NAME).write_text(json.dumps({**record, "config_hash": "0badc0de"}))
    foreign = (folder / RECORD_NAME).read_bytes()
    assert _run(copy, data_root) == 2
    err = capsys.readouterr().err
    assert f"{folder / RECORD_NAME} is the record of another run (config_hash 0badc0de" in err
    assert "not overwriting it" in err and (folder / RECORD_NAME).read_bytes() == foreign
    (folder / RECORD_NAME).write_bytes(mine)  # its own record: the same run re-evaluated rewrites it
    assert _run(copy, data_root) == 0
    assert json.loads((folder / RECORD_NAME).read_text())["metrics"] == record["metrics"]


# -- one entry, one experiment -------------------------------------------------------------------------


def test_results_table_keeps_2d_3d_and_other_hparams_apart(roots):
    from bench.leaderboard import store

    records = store.load(None, [roots["main"], roots["h32"], roots["d3"]], use_index=False)
    agg = store.aggregate(records.frame)
    assert len(agg) == 3 and sorted(agg["n_seeds"]) == [1, 1, 3]
    table = store.results_table(agg)
    labels = list(table["model"])
    assert len(set(labels)) == 3 and all(label.startswith("pair-force-net [") for label in labels)
    assert {cid[:6] for cid in agg["config_id"]} == {label.split("[")[1][:6] for label in labels}


# -- bench submit ----------------------------------------------------------------------------------------


def _submit(capsys, paths, card, data_root, out):
    code = main(["submit", *map(str, paths), "--card", str(card), "--data-dir", str(data_root), "--out", str(out)])
    return code, capsys.readouterr().err


def _rejected(capsys, paths, card, data_root, tmp_path) -> str:
    out = tmp_path / "out" / "submissions"
    code, err = _submit(capsys, paths, card, data_root, out)
    assert code == 2 and "submission rejected" in err, err
    assert not (tmp_path / "out").exists() and not (tmp_path / "x").exists()  # nothing under --out, nor beside it
    return err


@pytest.fixture
def card(tmp_path) -> Path:
    path = tmp_path / "card.yaml"
    path.write_text(textwrap.dedent(CARD))
    return path


def _edit(folder: Path, edit) -> None:
    record = json.loads((folder / RECORD_NAME).read_text())
    edit(record)
    (folder / RECORD_NAME).write_text(json.dumps(record, indent=1))
    (folder / "config.yaml").write_text(yaml.safe_dump(record["config"]))


def test_submit_refuses_mixed_hyperparameters(roots, card, data_root, tmp_path, capsys):
    main_runs, other = _folders(roots["main"]), _folders(roots["h32"])
    err = _rejected(capsys, [main_runs[0], main_runs[1], other[2]], card, data_root, tmp_path)
    assert "spring v2 tiny (torch): config: the runs mix 2 configurations" in err
    assert "model.hparams.hidden: 64 vs 32" in err


def _relabel(copy: Path, rehash: bool) -> Path:
    """Seed 0's folder copied in place of seed 1's, its record (and config.yaml) saying seed 1."""
    from bench.run import config_hash

    folders = _folders(copy)
    shutil.rmtree(folders[1])
    record = json.loads((folders[0] / RECORD_NAME).read_text())
    record["seed"] = record["config"]["seed"] = 1
    if rehash:  # a careful forger: the hash recomputed, the folder named for it
        record["config_hash"] = config_hash(record["config"], record["data_checksum"])
    target = folders[0].parent / f"tiny-seed1-{record['config_hash']}"
    shutil.copytree(folders[0], target)
    _edit(target, lambda r: r.update(record))
    return target


def test_submit_refuses_duplicated_predictions(copy, card, data_root, tmp_path, capsys):
    target = _relabel(copy, rehash=True)
    err = _rejected(capsys, [copy], card, data_root, tmp_path)
    assert f"{target}: predictions: seed 1 and seed 0" in err and "have byte-identical predictions" in err


def test_submit_refuses_a_relabelled_seed_folder(copy, card, data_root, tmp_path, capsys):
    target = _relabel(copy, rehash=False)
    err = _rejected(capsys, [copy], card, data_root, tmp_path)
    assert f"{target}: config_hash: the record says" in err and "(seed 1) and data checksum hash to" in err


@pytest.mark.parametrize(
    "where, change, message",
    [
        ("record", {"model": "../../x"}, "model: '../../x' is not a lowercase name"),
        ("card", {"name": "../../x"}, "card: name: '../../x' is not a lowercase name"),
        ("record", {"predictions": "../other-run/predictions.npz"},
         "predictions.file: '../other-run/predictions.npz' is not a plain file name inside the run folder"),
    ],
)  # fmt: skip
def test_submit_refuses_names_that_leave_the_folder(where, change, message, copy, card, data_root, tmp_path, capsys):
    if where == "card":
        card.write_text(yaml.safe_dump({**yaml.safe_load(card.read_text()), **change}))
    elif "predictions" in change:
        _edit(_folders(copy)[0], lambda r: r["predictions"].update(file=change["predictions"]))
    else:
        _edit(_folders(copy)[0], lambda r: (r.update(change), r["config"]["model"].update(name=change["model"])))
    assert message in _rejected(capsys, [copy], card, data_root, tmp_path)


def test_honest_submission_is_accepted_under_out_only(roots, card, data_root, tmp_path, capsys):
    out = tmp_path / "out"
    code, err = _submit(capsys, [roots["main"]], card, data_root, out)
    assert code == 0, err
    assert [p.name for p in out.iterdir()] == ["pair-force-net"]
    assert len(list((out / "pair-force-net").rglob(RECORD_NAME))) == 3
    assert all((p.parent / PREDICTIONS_NAME).is_file() for p in (out / "pair-force-net").rglob(RECORD_NAME))
