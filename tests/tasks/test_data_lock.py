"""Jobs that share ``data_dir`` (a sweep on one machine or several) generate a dataset once: one process
simulates it under the dataset's lock file, the others wait and then load it, checksum verified."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import bench
from bench.io import Busy, file_lock

REPO = Path(bench.__file__).resolve().parent.parent

RACER = """\
import sys, time
from pathlib import Path

from bench.config import task_card
from bench.family import get_family
from bench.tasks import data

root, log, me, other = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
family = type(get_family("forces"))
simulate = family.generate


def counted(self, card, scale, progress=True):
    with open(log, "a") as f:
        f.write("simulated\\n")
    time.sleep(1.0)  # a generation long enough for the other process to arrive
    return simulate(self, card, scale, progress=progress)


family.generate = counted
card = task_card("spring")
me.touch()
deadline = time.time() + 60
while not other.exists() and time.time() < deadline:  # both processes start generating at the same moment
    time.sleep(0.01)
print(data.generate_dataset(card, "tiny", root=root, progress=False).checksum)
"""


def test_two_processes_racing_for_one_dataset_simulate_it_once(tmp_path):
    root, log = tmp_path / "data", tmp_path / "simulations.log"
    script = tmp_path / "racer.py"
    script.write_text(RACER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    ready = [tmp_path / "ready-a", tmp_path / "ready-b"]
    procs = [
        subprocess.Popen([sys.executable, str(script), str(root), str(log), str(me), str(other)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for me, other in (ready, ready[::-1])
    ]  # fmt: skip
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]
    checksums = {out.strip() for out, _ in results}
    assert len(checksums) == 1 and next(iter(checksums)).startswith("sha256:")
    assert log.read_text() == "simulated\n"  # one simulation; the other process loaded and verified it
    assert sum("waiting for another process: the spring tiny dataset" in err for _, err in results) == 1
    folder = root / "spring" / "v2"
    assert sorted(p.name for p in folder.iterdir()) == ["tiny"]  # no temporary folder, no lock file left
    assert (folder / "tiny").stat().st_mode & 0o777 == 0o755  # readable by every user of a shared data_dir


def test_a_lock_held_elsewhere_is_refused_without_waiting(tmp_path):
    def try_elsewhere(errors):
        try:
            with file_lock(tmp_path / "x.lock", wait=False, what="the run"):
                errors.append(None)
        except Busy as e:
            errors.append(e)

    with file_lock(tmp_path / "x.lock") as held:
        assert held
        with file_lock(tmp_path / "x.lock", wait=False) as again:  # re-entrant in the holder's thread
            assert again
        errors: list = []
        thread = threading.Thread(target=try_elsewhere, args=(errors,))
        thread.start()
        thread.join()
        assert "the run is in use by another process" in str(errors[0])
    assert not (tmp_path / "x.lock").exists()  # removed with the block
    errors.clear()
    try_elsewhere(errors)  # and released
    assert errors == [None]
