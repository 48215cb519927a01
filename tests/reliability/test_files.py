"""Nothing lost, nothing forged: files and disks. Every case ends in a sentence naming the problem and the path
(exit code 2 from the CLI, no traceback), and loses nothing.

=====================================================  ==============================================================
input                                                  expected outcome
=====================================================  ==============================================================
``bench run out=<a file>``                             exit 2, "cannot write to out=<file>: it is a file", before any
                                                       data is simulated (data_dir stays empty); the file untouched
``bench run out=<read-only folder>`` (as root:         exit 2, "... is not writable" / "<file> is a file, not a
``out=<file>/runs``, permission bits do not stop root)  folder"; nothing written
``bench run data_dir=<a file>``; ``bench data`` too    exit 2, "cannot write to data_dir=<file>"; the file untouched
a full disk while writing a file (``ENOSPC``)          exit 2, "no space left on the device to write <path>"; the old
                                                       file as it was, no ``.partial`` temporary file left
a full disk while writing a dataset                    exit 2, the same sentence; no dataset, no temporary folder
a run killed by SIGKILL left ``.<name>.XXXX.partial``  the next ``prepare`` of that run removes it; a temporary file a
                                                       live writer holds (locked) is kept
a killed generation left ``.<scale>-XXXXXXXX/``        the next ``generate_dataset`` removes it after an hour; a fresh
                                                       one (a live generation) is kept
a corrupt dataset under ``data_dir=D``                 exit 2, the fix is "bench data ... data_dir=D --force"; running
                                                       that very command repairs it
a deleted ``manifest.json``                            exit 2 on load, the fix is "bench data ... data_dir=D"; running
                                                       that very command regenerates the folder (incomplete = absent)
``--force`` regeneration racing another one            no raw ``rmtree``/rename error: one complete, verified dataset
                                                       and no temporary folder left
arrays edited and the local manifest forged to match   ``bench data`` says "official: DIFFERS" (the committed official
                                                       manifest against the arrays' own checksum), never "matches";
                                                       forged to claim they are official: exit 2, "stale"
a dataset made for an earlier official one             exit 2 on load, "is stale", the fix is "bench data ... --force"
                                                       (bytes equal to today's official ones load)
``result.json`` nested 100,000 lists deep              ``bench results`` exit 0; the file named as invalid ("nested too
                                                       deeply"); the valid record still shown
``result.json`` over 5 MB                              named as invalid with its size, never parsed
a FIFO named ``result.json``                           named as invalid ("not a regular file"), no hang
a record edited in place, same size, same mtime        re-read (the index is keyed by the SHA-256 of its bytes)
``bench results --csv <a folder>``                     exit 2, "cannot write --csv <folder>: it is a folder"; nothing
                                                       written
``bench submit --out <a file>``                        exit 2, "cannot write to --out <file>: it is a file"; the file
                                                       untouched
=====================================================  ==============================================================
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from bench import io as bio
from bench.cli import main
from bench.config import compose, task_card
from bench.errors import BenchError, DataError
from bench.family import get_family
from bench.leaderboard import store
from bench.tasks import data as D

ROOT = os.geteuid() == 0
OFFICIAL_RECORD = next(
    p for p in sorted(store.OFFICIAL_ROOT.rglob("result.json")) if json.loads(p.read_text())["train_time_s"] > 0
)  # a trained model's (the tests edit its time)


def _run(capsys, *args):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.out, out.err


def _run_args(out, data_dir):
    return ["run", "task=spring", "model=gnn", "scale=tiny", f"out={out}", f"data_dir={data_dir}", "progress=false",
            "sr=none"]  # fmt: skip


@pytest.fixture
def spring(data_root, tmp_path) -> Path:
    """A private copy of the session's tiny spring dataset: a data_dir of its own (nothing regenerated)."""
    ds = D.generate_dataset(task_card("spring"), "tiny", root=data_root, progress=False)
    root = tmp_path / "data"
    shutil.copytree(ds.path, root / "spring" / "v2" / "tiny")
    return root


def _backdate(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


# 1. write access to out and data_dir, checked before any data is simulated


def test_out_naming_a_file_is_refused_before_any_data(tmp_path, capsys):
    out = tmp_path / "runs"
    out.write_text("mine")
    data = tmp_path / "data"
    code, _, err = _run(capsys, *_run_args(out, data))
    assert code == 2 and f"cannot write to out={out}: it is a file, not a folder" in err
    assert out.read_text() == "mine" and not data.exists()  # nothing simulated, nothing written


def test_out_in_a_read_only_folder_is_refused(tmp_path, capsys):
    """As root (where the tests usually run) permission bits do not stop a write: there the unwritable ``out`` is
    a path under a file, which fails for root too; otherwise a folder with mode 0o555."""
    data = tmp_path / "data"
    if ROOT:
        blocker = tmp_path / "blocker"
        blocker.write_text("mine")
        out, expected = blocker / "runs", f"{blocker} is a file, not a folder"
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        out, expected = locked / "runs", f"{locked} is not writable"
    try:
        code, _, err = _run(capsys, *_run_args(out, data))
    finally:
        if not ROOT:
            locked.chmod(0o755)
    assert code == 2 and f"cannot write to out={out}" in err and expected in err
    assert not data.exists() and not out.exists()


def test_data_dir_naming_a_file_is_refused(tmp_path, capsys):
    data = tmp_path / "data"
    data.write_text("mine")
    code, _, err = _run(capsys, *_run_args(tmp_path / "runs", data))
    assert code == 2 and f"cannot write to data_dir={data}" in err and "a file, not a folder" in err
    code, _, err = _run(capsys, "data", "task=spring", "scale=tiny", f"data_dir={data}", "progress=false")
    assert code == 2 and f"data_dir={data}" in err and "a file, not a folder" in err
    assert data.read_text() == "mine" and not (tmp_path / "runs").exists()


# 2. a full disk


def test_a_full_disk_names_the_path_and_keeps_the_old_file(tmp_path, monkeypatch, capsys):
    target = tmp_path / "table.csv"
    target.write_text("old")

    def full(f):
        f.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(BenchError, match=f"no space left on the device to write {target}; free some space"):
        bio.atomic_write(target, full)
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]
    # through the CLI: the real write hits a full disk at fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left")))
    code, _, err = _run(capsys, "results", "--source", "official", "--csv", target)
    assert code == 2 and f"error: no space left on the device to write {target}" in err
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]
    assert isinstance(bio.write_error(OSError(errno.EROFS, "x"), target), OSError)  # a cache still goes on


def test_a_full_disk_while_writing_a_dataset(tmp_path, monkeypatch, capsys):
    def full(f, arrays):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(D, "save_npz", full)
    code, _, err = _run(capsys, "data", "task=spring", "scale=tiny", f"data_dir={tmp_path}", "progress=false")
    assert code == 2 and f"no space left on the device to write {tmp_path}/spring/v2/tiny" in err
    assert [p for p in tmp_path.rglob("*") if not p.is_dir()] == [] and not (tmp_path / "spring/v2/tiny").exists()


# 3. temporary files of killed processes


def test_a_killed_runs_temporary_file_is_removed_on_the_next_start(spring, tmp_path):
    from bench.run import prepare, run_dir

    cfg = compose(_run_args(tmp_path / "runs", spring)[1:])
    folder = run_dir(cfg)
    folder.mkdir(parents=True)
    stale = folder / ".last.pt.k1ll3d.partial"  # what atomic_write leaves when SIGKILL ends it
    stale.write_bytes(b"half a checkpoint")
    _backdate(stale, 60)
    live = folder / ".result.json.w0rk1n.partial"  # another process writing it now: locked
    live.write_bytes(b"being written")
    _backdate(live, 60)
    with open(live, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        prepare(cfg)
        assert not stale.exists() and live.exists()
    assert bio.remove_stale_partials(folder) == [live]  # its writer gone: removed too


def test_a_killed_generations_temporary_folder_is_removed(spring):
    parent = spring / "spring" / "v2"
    old, fresh = parent / ".tiny-k1ll3d00", parent / ".tiny-runn1ng0"
    other_variant = parent / ".tiny-0123456789-k1ll3d00"  # another dataset's: not ours to judge here
    for folder in (old, fresh, other_variant):
        folder.mkdir()
        (folder / "dataset.npz").write_bytes(b"half")
    _backdate(old, 2 * 3600)
    _backdate(other_variant, 2 * 3600)
    D.generate_dataset(task_card("spring"), "tiny", root=spring, progress=False)
    assert not old.exists() and fresh.exists() and other_variant.exists()


# 4. datasets


def test_a_corrupt_datasets_fix_repeats_data_dir_and_repairs_it(spring, capsys):
    npz = spring / "spring" / "v2" / "tiny" / "dataset.npz"
    npz.write_bytes(npz.read_bytes()[:1000])
    code, _, err = _run(capsys, "data", "task=spring", "scale=tiny", f"data_dir={spring}", "progress=false")
    fix = f"bench data task=spring scale=tiny data_dir={spring} --force"
    assert code == 2 and f"the dataset at {npz.parent} cannot be read" in err and fix in err
    words = fix.split()[1:]  # the very command, quiet: progress=false before --force (argparse's order)
    code, out, _ = _run(capsys, *words[:-1], "progress=false", words[-1])
    assert code == 0 and "official: matches" in out


def test_a_deleted_manifest_is_repaired_by_the_suggested_command(spring, capsys):
    (spring / "spring" / "v2" / "tiny" / "manifest.json").unlink()
    with pytest.raises(DataError) as e:
        D.load(task_card("spring"), "tiny", root=spring)
    fix = f"bench data task=spring scale=tiny data_dir={spring}"
    assert str(e.value).endswith(fix) and f"incomplete spring tiny dataset at {spring}/spring/v2/tiny" in str(e.value)
    code, out, _ = _run(capsys, *fix.split()[1:], "progress=false")
    assert code == 0 and "official: matches" in out
    assert D.load(task_card("spring"), "tiny", root=spring).manifest["checksum"].startswith("sha256:")
    assert sorted(p.name for p in (spring / "spring" / "v2").iterdir()) == ["tiny"]


def test_a_variants_fix_names_its_keys(tmp_path):
    card = task_card("spring", ["n_particles=8", "dim=3"])
    with pytest.raises(DataError) as e:
        D.load(card, "tiny", root=tmp_path)
    fix = str(e.value).split("generate it with: ")[1].split()
    assert fix[:4] == ["bench", "data", "task=spring", "scale=tiny"] and fix[-1] == f"data_dir={tmp_path}"
    assert sorted(fix[4:-1]) == ["task.dim=3", "task.n_particles=8"]


def test_force_regeneration_racing_another(spring, monkeypatch):
    """Another ``--force`` regeneration lands between ours moving the old folder aside and putting ours in its
    place (where the old code's ``rmtree`` failed): ours verifies and uses theirs."""
    card, real_replace, target = task_card("spring"), os.replace, spring / "spring" / "v2" / "tiny"
    raced = []

    def replace(src, dst):
        real_replace(src, dst)
        if Path(src) == target and not raced:  # ours just moved the old folder aside
            raced.append(True)
            D.generate_dataset(card, "tiny", root=spring, force=True, progress=False)  # the other process

    monkeypatch.setattr(os, "replace", replace)
    ds = D.generate_dataset(card, "tiny", root=spring, force=True, progress=False)
    monkeypatch.undo()
    assert raced and ds.checksum == D.load(card, "tiny", root=spring).checksum
    assert sorted(p.name for p in target.parent.iterdir()) == ["tiny"]


def test_a_forged_local_manifest_is_not_official(spring, capsys):
    folder = spring / "spring" / "v2" / "tiny"
    with np.load(folder / "dataset.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["train/position"] = arrays["train/position"] + np.float32(1e-3)
    with open(folder / "dataset.npz", "wb") as f:
        D.save_npz(f, arrays)
    manifest = json.loads((folder / "manifest.json").read_text())
    forged = D.checksum(arrays)
    manifest["checksum"] = forged  # as another platform's bytes
    (folder / "manifest.json").write_text(json.dumps(manifest))
    code, out, _ = _run(capsys, "data", "task=spring", "scale=tiny", f"data_dir={spring}", "progress=false")
    official = json.loads(D.official_manifest_path("spring", int(task_card("spring").version), "tiny").read_text())[
        "checksum"
    ]
    assert code == 0 and f"official: DIFFERS: {official}" in out and "matches" not in out
    manifest["official_checksum"] = forged  # and a manifest that claims they are the official ones
    (folder / "manifest.json").write_text(json.dumps(manifest))
    code, out, err = _run(capsys, "data", "task=spring", "scale=tiny", f"data_dir={spring}", "progress=false")
    assert code == 2 and f"made for the official spring v2 tiny dataset {forged}, but the shipped" in err
    assert "official: matches" not in out


def test_a_dataset_made_for_an_earlier_official_one_is_stale_not_used(spring, monkeypatch):
    """The official dataset moved on (a generator change) after the local one was made: loading it is an error
    that says so and how to regenerate; a local dataset with the new official bytes, or one whose platform
    differs from an unchanged official, loads."""
    card = task_card("spring")
    shipped = D._official_manifest(card, "tiny")
    moved = {**shipped, "checksum": "sha256:" + "0" * 64}
    monkeypatch.setattr(D, "_official_manifest", lambda c, s: moved)
    with pytest.raises(DataError, match=rf"is stale: its manifest says it was made for the official spring v\d+ tiny "
                                        rf"dataset {shipped['checksum']}, but the shipped official one is sha256:0+ "
                                        r"\(.*\); regenerate it with: bench data .* --force"):  # fmt: skip
        D.load(card, "tiny", root=spring)
    monkeypatch.undo()
    assert D.load(card, "tiny", root=spring).checksum == shipped["checksum"]  # unchanged official: loads
    folder = spring / "spring" / "v2" / "tiny"
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["official_checksum"] = "sha256:" + "1" * 64  # made elsewhere, for an older official...
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert D.load(card, "tiny", root=spring).checksum == shipped["checksum"]  # ...but its bytes are today's
    monkeypatch.setattr(D, "_official_manifest", lambda c, s: json.loads("{broken"))
    with pytest.raises(DataError, match=r"the official manifest .*spring-v2-tiny.json cannot be read \(JSONDecodeErr"):
        D.load(card, "tiny", root=spring)


# 5. records and the index, read defensively


@pytest.fixture
def records_root(tmp_path) -> Path:
    root = tmp_path / "runs"
    (root / "good").mkdir(parents=True)
    shutil.copy(OFFICIAL_RECORD, root / "good" / "result.json")
    return root


def test_a_deeply_nested_record_is_named_not_a_crash(records_root, capsys):
    bad = records_root / "deep" / "result.json"
    bad.parent.mkdir()
    bad.write_text("[" * 100_000 + "]" * 100_000)
    code, out, err = _run(capsys, "results", "--source", "local", "--runs", records_root, "--records")
    assert code == 0 and f"skipped invalid record {bad.parent}: cannot be read as JSON (nested too deeply)" in err
    assert str(records_root / "good") in out


def test_an_oversized_record_is_skipped_with_its_size(records_root):
    big = records_root / "big" / "result.json"
    big.parent.mkdir()
    big.write_bytes(b"{" + b" " * store.MAX_RECORD_BYTES + b"}")
    records = store.load(None, [records_root])
    assert len(records.frame) == 1
    assert records.invalid == [(str(big.parent), f"result.json skipped: {store.MAX_RECORD_BYTES + 2:,} bytes, over "
                                                 f"the {store.MAX_RECORD_BYTES:,}-byte limit of a record")]  # fmt: skip


def test_a_fifo_named_result_json_does_not_hang(records_root):
    fifo = records_root / "fifo" / "result.json"
    fifo.parent.mkdir()
    os.mkfifo(fifo)

    def hung(*_):
        raise AssertionError("reading the store hung on a FIFO")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        records = store.load(None, [records_root])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert len(records.frame) == 1
    assert records.invalid == [(str(fifo.parent), "result.json skipped: not a regular file")]


def test_the_index_is_keyed_by_content(records_root):
    path = records_root / "good" / "result.json"
    before = store.load(None, [records_root]).frame["train_time_s"].item()
    assert store.index_path(records_root).is_file()
    text, st = path.read_text(), path.stat()
    start = text.index('"train_time_s": ') + len('"train_time_s": ')
    digit = next(k for k in range(start, len(text)) if text[k] in "123456789")  # a significant digit
    edited = text[:digit] + str(int(text[digit]) % 9 + 1) + text[digit + 1 :]  # another digit, never 0 (922 → 122)
    assert edited != text and len(edited) == len(text)
    path.write_text(edited)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # the same size and time stamp
    after = store.load(None, [records_root])
    assert not after.invalid and after.frame["train_time_s"].item() != before


# 6. output paths


def test_results_csv_naming_a_folder(tmp_path, capsys):
    folder = tmp_path / "tables"
    folder.mkdir()
    code, _, err = _run(capsys, "results", "--source", "official", "--csv", folder)
    assert code == 2 and f"cannot write --csv {folder}: it is a folder" in err
    assert list(folder.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["tables"]


def test_submit_out_naming_a_file(tmp_path, capsys):
    out = tmp_path / "submissions"
    out.write_text("mine")
    code, _, err = _run(capsys, "submit", tmp_path / "runs", "--card", tmp_path / "card.yaml", "--out", out)
    assert code == 2 and f"cannot write to --out {out}: it is a file, not a folder" in err
    assert out.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["submissions"]


def test_the_core_names_no_task_family():
    names = {fam.name for fam in __import__("bench.family", fromlist=["families"]).families()}
    for module in (bio, __import__("bench.run", fromlist=["run"])):
        text = Path(module.__file__).read_text()
        assert not [n for n in names if f'"{n}"' in text or f"'{n}'" in text], module.__name__
    assert get_family("forces")  # (the families exist: the check above is not vacuous)


def test_compressed_npz_is_deterministic_loadable_and_smaller(tmp_path):
    """Saved predictions are deflated (a uniform posterior, a copied frame repeat): the same arrays give the
    same bytes, ``np.load`` reads them back, and a repetitive array shrinks."""
    import io
    import zipfile

    from bench.io import save_npz

    arrays = {"edge_prob_pred": np.full((500, 20, 2), 0.5, np.float32), "x": np.arange(12.0).reshape(3, 4)}
    files = []
    for compress in (True, True, False):
        buffer = io.BytesIO()
        save_npz(buffer, arrays, compress=compress)
        files.append(buffer.getvalue())
    assert files[0] == files[1] and len(files[0]) < len(files[2]) / 10
    with zipfile.ZipFile(io.BytesIO(files[0])) as z:
        assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_DEFLATED}
    with np.load(io.BytesIO(files[0])) as z:
        assert all(np.array_equal(z[k], v) for k, v in arrays.items())
