"""The task catalogue of the leaderboard (cards, metric tables, trivial baselines) and the table's number format."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.leaderboard import catalogue, store


def test_every_registered_task_has_a_card_a_description_and_its_metric_table():
    from bench.registry import task_names

    tasks = catalogue.tasks()
    assert set(task_names()) <= set(tasks)
    for name, info in tasks.items():
        assert info.summary and info.card.get("primary_metric"), name
        primary = info.metric(info.primary)
        assert primary is not None and primary.description, name  # the evaluator's metric table
    assert tasks["spring"].metric("force_r2_robust").arrow == "↑" and tasks["spring"].metric("mae").arrow == "↓"
    assert tasks["springs5"].metric("mse_h10").units == "normalised²"  # a {k} row matches
    assert "V(r') = (r'-1)^2" in tasks["spring"].about  # the family's own description of its task
    # with its sizes and splits at each scale
    assert "quick: 1,000 simulations of 100 snapshots" in tasks["charge"].about
    assert "test: 10,000 other simulations, every 10th snapshot" in tasks["charge"].about
    assert "tiny: 24 simulations of 100 snapshots, split 70% / 15% train / validation" in tasks["charge"].about


def _rows(**metrics) -> pd.DataFrame:
    n = len(next(iter(metrics.values())))
    return pd.DataFrame({"model": ["m"] * n, **{store.METRIC_PREFIX + k: v for k, v in metrics.items()}})


def test_trivial_figures_are_read_from_the_records_never_made_up():
    rows = _rows(mae=[0.5, 0.6, 0.7], zero_mae=[0.81, 0.81, 0.81])
    mean, std, n = catalogue.trivial_value("forces", "mae", rows)
    assert (mean, std, n) == (pytest.approx(0.81), pytest.approx(0.0), 3)
    assert catalogue.trivial_value("forces", "force_r2_robust", rows) is None  # no trivial figure for it
    static = pd.concat([_rows(edge_accuracy=[0.9, 0.91]), _rows(edge_accuracy=[0.5, 0.52]).assign(model="static")])
    assert catalogue.trivial_value("relational", "edge_accuracy", static)[0] == pytest.approx(0.51)
    assert catalogue.trivial_value("nbody", "mse", _rows(mse=[1.0])) is None  # no copy-last records: no row


def test_within_noise_of_the_trivial_figure():
    assert catalogue.within_noise(0.8092, 0.0058, 3, 0.8096, 0.0, 18)  # charge's "winner" at tiny
    assert not catalogue.within_noise(0.70, 0.0058, 3, 0.8096, 0.0, 18)
    assert not catalogue.within_noise(0.80, np.nan, 1, 0.81, np.nan, 1)  # a single seed: no noise estimate


@pytest.mark.parametrize(
    ("mean", "std", "shown"),
    [(0.80921, 0.0031, "0.8092 ± 0.0031"), (2.2208, 0.15, "2.22 ± 0.15"), (48.7, 12.3, "49 ± 12"),
     (1234.5, 234.0, "1230 ± 230"), (0.5, np.nan, "0.5 ± –"), (1.0, 0.0, "1 ± 0"),
     (0.3535271804683028, 6.8e-17, "0.3535 ± 0"),  # seeds equal to float precision (copy-last): not 18 digits
     (1.2341e-7, 3e-9, "(1.234 ± 0.030)e-07"), (-4.2e-6, 1.3e-6, "(-4.2 ± 1.3)e-06"), (2e-8, 5e-8, "(2.0 ± 5.0)e-08"),
     (12_345_678.0, 230_000.0, "(1.235 ± 0.023)e+07"), (0.000123, 0.000021, "0.000123 ± 0.000021"),
     (1.5, 1e-7, "1.50000000 ± 0.00000010"), (5e6, 1.0, "(5.0000000 ± 0.0000010)e+06"),  # seeds agreeing to 1e-7
     (9.9996e-7, 3e-9, "(1.0000 ± 0.0030)e-06"), (0.0, 1e-8, "(0.0 ± 1.0)e-08")],  # rounding up to the next power
)  # fmt: skip
def test_the_mean_is_rounded_to_the_precision_of_its_std(mean, std, shown):
    assert store.mean_pm_std(mean, std) == shown


def test_the_pareto_front_keeps_equal_entries_and_drops_dominated_ones():
    front = store.pareto_front(np.array([5.0, 5.0, 1.0, 9.0]), np.array([2.0, 2.0, 2.6, 2.7]), True)
    assert list(front) == [True, True, True, False]
    assert list(store.pareto_front(np.array([1.0, 2.0]), np.array([0.9, 0.5]), False)) == [True, False]


def _entries(*rows):
    keys = ("model", "source", "rank", "mean", "std", "trivial", "near_trivial", "oracle")
    return pd.DataFrame([dict(zip(keys, r, strict=True)) for r in rows]).astype({"rank": "Int64"})


def test_the_leader_is_never_the_trivial_baseline_nor_an_oracle():
    copy_last = ("copy-last", "official", 2, 0.2761, 0.0, True, False, "")
    linear = ("linear", "official", 1, 0.0819, 1e-5, False, False, "")
    told = ("oracle-gnn", "official", pd.NA, 0.01, 0.001, False, False, "types")
    assert catalogue.leader(_entries(copy_last, linear, told)) == ("linear", "0.081900 ± 0.000010")
    assert catalogue.leader(_entries(copy_last)) == ("only the trivial baseline", "")
    assert catalogue.leader(_entries(copy_last, told)) == ("only oracle entries (upper bounds, unranked)", "")
    few = ("new", "local", pd.NA, 0.05, np.nan, False, False, "")
    assert catalogue.leader(_entries(copy_last, few)) == ("unranked (< 3 seeds)", "")
    tie = ("linear", "local", 1, 0.0819, 1e-5, False, True, "")
    assert catalogue.leader(_entries(linear, tie)) == ("linear = linear (local)", "0.081900 ± 0.000010")


def test_mean_pm_std_reads_back_as_the_mean_within_its_shown_precision():
    """Over 20 decades of means and stds (either sign, std above or far below the mean): the string parses back to
    the mean and the std, each within half a unit of the last digit shown, and is at most 36 characters long (a std
    1e-9 of its mean takes 12 digits)."""
    rng = np.random.default_rng(0)
    for _ in range(3000):
        mean = rng.choice([-1, 1]) * 10.0 ** rng.uniform(-12, 9)
        std = abs(mean) * 10.0 ** rng.uniform(-8.9, 2)
        shown = store.mean_pm_std(mean, std)
        body, _, power = shown.partition(")e")
        m_text, s_text = body.strip("(").split(" ± ")
        scale = 10.0 ** int(power) if power else 1.0
        if "." in m_text:  # the last digit shown
            unit = 10.0 ** -len(m_text.partition(".")[2]) * scale
        else:  # "49 ± 12", "1230 ± 230": rounded to the std's second significant digit
            unit = 10.0 ** (np.floor(np.log10(std)) - 1)
        assert len(shown) <= 36, shown
        assert abs(float(m_text) * scale - mean) <= 0.5 * unit * (1 + 1e-9), (mean, std, shown)
        assert abs(float(s_text) * scale - std) <= 0.5 * unit * (1 + 1e-9), (mean, std, shown)
