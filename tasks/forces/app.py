"""Family F's panel on the leaderboard's task page: each run's messages against the true pair force, the
probe's R² and the equations symbolic regression found (``ForcesFamily.app_panels``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st


def describe_task(card) -> str:
    """What a force-law task simulates, for its card on the leaderboard (``bench.leaderboard.catalogue``)."""
    from bench.tasks.forces.systems import POTENTIALS, SOFTENING

    pot = POTENTIALS.get(str(card.get("system", card.get("name"))))
    if pot is None:
        return ""
    plain = (pot.latex.replace(r"\mathrel{-}=", "-=").replace(r"\log", "log").replace(r"\,", " ")
             .replace(r"\ ", " ").replace("\\", ""))  # fmt: skip
    return (f"{card.get('n_particles')} particles in {card.get('dim')}-D under the pair potential V(r') = {plain} "
            f"(r' = r + {SOFTENING}, time step {pot.dt}). A model predicts each particle's acceleration from the "
            "positions, velocities, charges and masses; a model with edge messages is also asked whether its "
            "messages recover the pair force (Cranmer et al. 2020, arXiv 2006.11287). " + _splits(card))  # fmt: skip


def _splits(card) -> str:
    """The sizes and splits of a force task's datasets at each scale, in words."""
    sims, test = card.get("simulations") or {}, card.get("test_simulations") or {}
    share = card.get("split") or []
    snapshots = int(card.get("n_steps", 0)) // max(int(card.get("record_every", 1)), 1)
    if not sims or len(share) != 3:
        return ""
    parts = []
    for scale, n in sims.items():
        fixed = test.get(scale)
        tail = (f"test: {fixed:,} other simulations, every {card.get('test_every')}th snapshot" if fixed else
                f"test: {share[2]:.0%} of them")  # fmt: skip
        parts.append(f"{scale}: {int(n):,} simulations of {snapshots} snapshots, split {share[0]:.0%} / {share[1]:.0%}"
                     f" train / validation by simulation, {tail}")  # fmt: skip
    return "Data — " + "; ".join(parts) + "."


def _label(row) -> str:
    return f"{row['model']}{' (local)' if row['source'] == 'local' else ''} · {row['backend']} · seed {row['seed']}"


def force_law_panel(rows: pd.DataFrame, read_record) -> None:
    """The probe panel for the runs of ``rows`` whose model exposes edge messages, best probe R² first (the panel
    opens on the best run)."""
    with_probe = rows[rows["capabilities"].str.contains("edge_messages")]
    if not len(with_probe):
        return
    if "m:force_r2_robust" in with_probe.columns:
        with_probe = with_probe.sort_values("m:force_r2_robust", ascending=False, na_position="last")
    st.subheader("Force law: messages against the true pair force")
    st.caption("Opens on the run with the highest robust R² (force_r2_robust ↑).")
    labels = [_label(r) for _, r in with_probe.iterrows()]
    pick = st.selectbox("run", range(len(labels)), format_func=lambda i: labels[i], key="probe-run")
    show_probe(with_probe.iloc[pick]["run_dir"], read_record)


def probe_points(run_dir: str, read_record) -> pd.DataFrame | None:
    """The message-vs-force scatter of one run: from its submitted sample or its full probe inputs."""
    from bench.leaderboard.submit import PROBE_SAMPLE_NAME, probe_sample

    path = Path(run_dir)
    record = read_record(run_dir)
    if (path / PROBE_SAMPLE_NAME).is_file():
        with np.load(path / PROBE_SAMPLE_NAME) as z:
            sample = {k: z[k] for k in z.files}
    else:
        sample = probe_sample(path, record)
    if sample is None:
        return None
    parts = []
    for k, comp in enumerate(sample["component"]):
        parts.append(pd.DataFrame({"linear combination of true force": sample["fitted_force"][:, k],
                                   "message (standardised)": sample["message"][:, k],
                                   "component": f"message {int(comp)}"}))  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def show_probe(run_dir: str, read_record) -> None:
    record = read_record(run_dir)
    probes = record.get("analyses") or {}
    probe = probes.get("force_probe")
    if probe:
        st.markdown(f"R² robust **{probe['r2_robust']:.4f}**, full **{probe['r2_full']:.4f}** "
                    "(d most important components, each fitted as a + b·F)")  # fmt: skip
        if "best_form" in probe:  # records from before the fits up to a mass factor have none
            st.caption(f"Up to a mass factor: R² robust {probe['r2_robust_mass_i']:.4f} against F/m_i, "
                       f"{probe['r2_robust_mass_j']:.4f} against F/m_j; best fit: {probe['best_form']}")  # fmt: skip
    points = probe_points(run_dir, read_record)
    if points is not None:
        st.scatter_chart(points, x="linear combination of true force", y="message (standardised)",
                         color="component", height=320)  # fmt: skip
    elif probe:
        st.caption("no probe inputs were kept with this run")
    symbolic = probes.get("symbolic")
    if symbolic and symbolic.get("components"):
        verdict = ("law recovered ✅" if symbolic.get("recovered") else "law recovered up to a mass factor"
                   if symbolic.get("recovered_up_to_mass") else "law not recovered")  # fmt: skip
        st.markdown(f"**Recovered equation** (symbolic regression, {symbolic.get('engine', '?')}): {verdict}")
        st.caption("As reported by the run (the record's analyses): the search is not repeated by bench submit, "
                   "which re-scores every expression's exact recovery verdict (not the one up to a mass "
                   "factor).")  # fmt: skip
        for comp in symbolic["components"]:
            if comp.get("latex"):
                st.latex(f"\\phi_{{{comp.get('component', '')}}} \\approx {comp['latex']}")
                st.caption(f"message {comp.get('component')}: complexity {comp.get('complexity')}, "
                           f"mse {comp.get('mse', float('nan')):.3g}, "
                           f"{_verdict(comp)}")  # fmt: skip


def _verdict(entry) -> str:
    """An expression's recovery verdict in words: exactly, up to a mass factor, or not."""
    if entry.get("recovered"):
        return "recovered"
    if entry.get("recovered_mass_factor"):
        return f"recovered up to the mass factor {entry.get('mass_factor')}"
    return "not recovered"
