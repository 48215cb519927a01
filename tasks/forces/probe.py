"""Force-law probe (report "Symbolic Distillation of GNNs" §2.5): are a model's edge messages linear
combinations of the true pair force?

1. Keep the d most important message components: largest standard deviation over the edges, or a
   model's own importance (``gnn-kl``: the mean KL divergence to its prior).
2. Standardise them.
3. Fit each as ``a + b · F_ij`` by least squares against the true pair force on the receiver.
   *Full*: fit and score on all edges. *Robust*: refit without the 10 % of edges with the largest
   residuals, and score on the kept 90 %.

``ForceProbe()(input_dict) -> metrics``, dict in and dict out, like the evaluators.
"""

from __future__ import annotations

from typing import Any

import numpy as np

ROBUST_KEEP = 0.9


def _fit(y: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    A = np.column_stack([np.ones(len(X)), X])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    return coef, A @ coef


def _r2(y: np.ndarray, fitted: np.ndarray) -> float:
    """R² of the fit; 0 for a constant message (it carries nothing of the force), never NaN."""
    ss_res = float(((y - fitted) ** 2).sum())
    ss_tot = float(((y - y.mean()) ** 2).sum())
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0


class ForceProbe:
    """Input: ``messages`` (E, k), ``pair_force`` (E, d), optional ``importance`` (k,).
    Output: ``r2_robust`` and ``r2_full`` (means over the d chosen components), and per component its
    index, both R², and the fitted ``intercept`` and ``force_coefficients``."""

    expected_input = {
        "messages": "float array (E, k): the model's edge messages, in the batch's edge order",
        "pair_force": "float array (E, d): the true force on each edge's receiver from its sender",
        "importance": "optional float array (k,): larger = more important (default: standard deviation)",
    }

    def __repr__(self) -> str:
        return "ForceProbe\n  input:\n" + "\n".join(f"    {k}: {v}" for k, v in self.expected_input.items())

    def __call__(self, input_dict: dict[str, Any]) -> dict[str, Any]:
        messages = np.asarray(input_dict["messages"], dtype=np.float64)
        force = np.asarray(input_dict["pair_force"], dtype=np.float64)
        if messages.ndim != 2 or force.ndim != 2 or len(messages) != len(force):
            raise ValueError(
                f"ForceProbe: messages {messages.shape} and pair_force {force.shape} must be (E, k), (E, d)"
            )
        d = force.shape[1]
        if messages.shape[1] < d:
            raise ValueError(f"ForceProbe: {messages.shape[1]} message components, fewer than d = {d}")
        importance = input_dict.get("importance")
        importance = messages.std(0) if importance is None else np.asarray(importance, dtype=np.float64)
        chosen = np.argsort(-importance, kind="stable")[:d]
        components = []
        for c in chosen:
            y = messages[:, c]
            y = (y - y.mean()) / (y.std() if y.std() > 0 else 1.0)
            coef_full, fitted_full = _fit(y, force)
            keep = np.argsort(np.abs(y - fitted_full), kind="stable")[: int(np.ceil(ROBUST_KEEP * len(y)))]
            coef, _ = _fit(y[keep], force[keep])
            fitted = np.column_stack([np.ones(len(force)), force]) @ coef
            components.append({
                "component": int(c),
                "r2_full": _r2(y, fitted_full),
                "r2_robust": _r2(y[keep], fitted[keep]),
                "intercept": float(coef[0]),
                "force_coefficients": [float(v) for v in coef[1:]],
            })  # fmt: skip
        return {
            "r2_robust": float(np.mean([c["r2_robust"] for c in components])),
            "r2_full": float(np.mean([c["r2_full"] for c in components])),
            "components": components,
        }


def plot(input_dict: dict[str, Any], result: dict[str, Any], path, max_points: int = 5000) -> None:
    """Message (standardised) against its fitted linear combination of forces, one panel per component."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    messages = np.asarray(input_dict["messages"], dtype=np.float64)
    force = np.asarray(input_dict["pair_force"], dtype=np.float64)
    rows = np.random.default_rng(0).permutation(len(force))[:max_points]
    comps = result["components"]
    fig, axes = plt.subplots(1, len(comps), figsize=(4 * len(comps), 4), squeeze=False)
    for ax, comp in zip(axes[0], comps, strict=True):
        y = messages[:, comp["component"]]
        y = (y - y.mean()) / (y.std() if y.std() > 0 else 1.0)
        fitted = comp["intercept"] + force @ np.array(comp["force_coefficients"])
        ax.scatter(fitted[rows], y[rows], s=2, alpha=0.3)
        lo, hi = np.percentile(np.concatenate([fitted[rows], y[rows]]), [1, 99])
        ax.plot([lo, hi], [lo, hi], "k-", lw=1)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xlabel("linear combination of true force")
        ax.set_ylabel(f"message component {comp['component']} (standardised)")
        ax.set_title(f"R² robust {comp['r2_robust']:.4f}, full {comp['r2_full']:.4f}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


PROBE_SAMPLES = 2000
"""Test snapshots whose edges the probe reads (2000 systems of 4 particles: 24,000 edges)."""


def probe_index(num_test_samples: int, seed: int, samples: int = PROBE_SAMPLES) -> np.ndarray:
    """The test snapshots the probe reads (a fixed random subset, sorted), from the dataset's seed."""
    perm = np.random.default_rng([seed, 2]).permutation(num_test_samples)
    return np.sort(perm[: min(samples, num_test_samples)])


def chosen_messages(inputs: dict[str, np.ndarray], result: dict[str, Any]) -> np.ndarray:
    """The probe's chosen message components, most important first: (E, d) float32, as saved with the
    predictions for the official evaluator to re-score."""
    columns = [c["component"] for c in result["components"]]
    return np.ascontiguousarray(inputs["messages"][:, columns]).astype(np.float32)


def probe_model(model, data, backend, device, seed: int = 0, samples: int = PROBE_SAMPLES):
    """Run a model's ``edge_messages`` on random test snapshots; returns (probe inputs, probe result). The
    inputs also hold each edge's symbolic-regression inputs (``symbolic.edge_inputs``)."""
    import torch

    from bench.tasks.forces.symbolic import edge_inputs

    index = torch.from_numpy(probe_index(data.num_samples("test"), seed, samples))
    model.eval()
    with torch.no_grad():
        batch, _ = data.batch("test", index)
        batch = backend.bind(batch.to(device))
        inputs = {"messages": model.edge_messages(batch).double().cpu().numpy(),
                  "pair_force": data.pair_forces("test", index),
                  "edge_inputs": edge_inputs(batch, batch.dim)}  # fmt: skip
        if hasattr(model, "message_importance"):
            inputs["importance"] = model.message_importance(batch).double().cpu().numpy()
    return inputs, ForceProbe()(inputs)
