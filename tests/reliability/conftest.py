"""Reliability: every bad input a user can make ends in a sentence, exit code 2 and nothing lost; nothing
forged is accepted. Each module's docstring is its table of cases (input → expected outcome):

- ``test_values.py``: every numeric key in range before any data is generated; divergence above the task's
  loss bound; an output of the wrong shape stopped before the first step;
- ``test_files.py``: unwritable or mistaken ``out=``/``data_dir=``/``--csv``/``--out``, a full disk, stale
  temporary files, corrupt or forged datasets and manifests, hostile record files in the store;
- ``test_identity.py``: a run's identity (configuration and data checksum), foreign or corrupt checkpoints,
  records never overwritten by another run, one entry per experiment, relabelled seeds, mixed
  configurations, duplicated predictions, names that would become paths;
- ``test_submissions.py``: submissions that prove themselves (weights and model code re-predict the test
  split; targets copied in as predictions are caught).
"""
