"""Official evaluator of family R: how well the inferred edge types match the true ones (accuracy under
the best relabelling, raw accuracy, AUROC), and the MSE of the rollout at 1, 10 and 20 steps."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.evaluation import TaskEvaluator
from bench.family import Metric

HORIZONS = (1, 10, 20)
"""The rollout steps reported (NRI's Table 2); those beyond the task's horizon are left out."""

PHYSICAL_GROUPS: dict[str, tuple[tuple[str, tuple[int, ...]], ...]] = {
    "springs": (("position", (0, 1)), ("velocity", (2, 3))),
    "charged": (("position", (0, 1)), ("velocity", (2, 3))),
    "kuramoto": (("dphi_dt", (0,)), ("sin_phi", (1,))),
}
"""Per system, the features whose MSE is also reported in physical units, ``{group}_mse_h{k}`` (columns of
the state; see ``generate.FEATURES``). Kuramoto's ω (column 2) is constant along a trajectory: its error
enters ``mse_h{k}`` only."""


def relabelling(predicted: np.ndarray, labels: np.ndarray, K: int) -> np.ndarray:
    """The map ``perm`` (K,) of predicted types to true types (type p read as ``perm[p]``) under which the
    most of ``predicted`` agree with ``labels``: the best of the K! relabellings, from the K × K confusion
    matrix (``scipy.optimize.linear_sum_assignment``); the identity where it does as well."""
    from scipy.optimize import linear_sum_assignment

    confusion = np.zeros((K, K), dtype=np.int64)
    np.add.at(confusion, (predicted, labels), 1)
    rows, cols = linear_sum_assignment(confusion, maximize=True)
    perm = cols[np.argsort(rows)]
    if confusion[np.arange(K), perm].sum() <= np.trace(confusion):
        return np.arange(K)
    return perm


def auroc(score: np.ndarray, positive: np.ndarray) -> float:
    """The area under the ROC curve of ``score`` for telling the ``positive`` items from the others: the
    Mann–Whitney statistic from average ranks, so tied scores count one half (the same number as
    ``sklearn.metrics.roc_auc_score``). NaN when only one class is present."""
    from scipy.stats import rankdata

    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(score)  # ties: the average rank
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


class Evaluator(TaskEvaluator):
    """``Evaluator('springs5')`` or ``Evaluator(card)``; ``evaluator(input_dict) -> metrics``.

    Input (n particles, E = n(n−1) ordered pairs in the batches' order: receiver i, then senders j ≠ i
    ascending; K edge types; H scored steps: those of 1, 10, 20 within ``task.horizon``; F features per particle):

    - ``edge_prob_pred`` (S, E, K): the model's posterior over the edge types of every test edge (rows are
      probabilities: in [0, 1], summing to 1; not logits);
    - ``edges_true`` (S, E) int: the true types, in {0, …, K−1};
    - ``state_pred`` (S, H, n, F): the rollout from frame 49 at the scored steps (frames 50, 59 and 69 for
      steps 1, 10, 20), normalised as the data (only the scored frames are saved: a tenth of the rollout);
    - ``state_true`` (S, H, n, F): the true frames at those steps, normalised;
    - ``feature_scale`` (F,): physical units per normalised unit of each feature ((max − min) / 2).

    Output:

    - ``edge_accuracy`` (primary): the fraction of the S·E test edges whose most probable type (``argmax``
      of the posterior; ties go to the lower type) is the true one, under the relabelling of the K types
      that maximises it, one relabelling for the whole test set (an unsupervised model's types are
      anonymous; a relabelling per sample would turn noise into accuracy). A uniform posterior scores the
      largest class's share: chance.
    - ``edge_accuracy_raw``: the same without relabelling, as NRI's code computes it (NRI also averages
      per batch; here every edge counts once).
    - ``edge_auroc``: the AUROC of the posterior of type 1 against the edges whose (relabelled) type is 1,
      under the same relabelling (if it swaps the two types, the score is the posterior of type 0); for
      K > 2, the mean over the types of each type's one-vs-rest AUROC. NaN if the test set holds one type.
    - ``mse_h{k}`` for k in 1, 10, 20 (those ≤ H): the MSE of the k-th predicted frame (frame 49 + k) over
      samples, particles and features, in normalised units (NRI's definition).
    - the same in physical units (error × ``feature_scale``), per group of features: for springs and
      charged particles ``position_mse_h{k}`` (length²) and ``velocity_mse_h{k}`` ((length / time)²), for
      Kuramoto ``dphi_dt_mse_h{k}`` ((rad / time)²) and ``sin_phi_mse_h{k}``.

    The scores are deterministic: the posterior is scored as it is, and the rollout is the model's
    ``rollout``, whose decoder runs on the argmax edge types (NRI's test samples edge types with Gumbel
    noise instead, so its numbers vary from run to run).
    """

    metric_table = (
        Metric(
            "edge_accuracy",
            "higher",
            "fraction of test edges whose most probable type is the true one, under the relabelling of the edge "
            "types that maximises it (one for the whole test set) (primary)",
        ),  # fmt: skip
        Metric(
            "edge_accuracy_raw",
            "higher",
            "fraction of test edges whose most probable type is the true one, types as the model numbers them "
            "(NRI's code; an unsupervised model's types may come out swapped)",
        ),  # fmt: skip
        Metric(
            "edge_auroc",
            "higher",
            "AUROC of the posterior of edge type 1 (relabelled as for edge_accuracy; K > 2: mean one-vs-rest); "
            "NaN if the test set holds one type only",
        ),  # fmt: skip
        Metric(
            "mse_h{k}",
            "lower",
            "MSE of the rollout's k-th predicted frame (frame 49 + k) over samples, particles and features, "
            "normalised units (NRI's)",
            "normalised²",
        ),  # fmt: skip
        Metric("position_mse_h{k}", "lower", "MSE of the positions of the rollout's k-th frame", "length²"),
        Metric("velocity_mse_h{k}", "lower", "MSE of the velocities of the rollout's k-th frame", "(length / time)²"),
        Metric("dphi_dt_mse_h{k}", "lower", "MSE of dφ/dt of the rollout's k-th frame", "(rad / time)²"),
        Metric("sin_phi_mse_h{k}", "lower", "MSE of sin φ of the rollout's k-th frame"),
    )

    def __init__(self, task: Any):
        super().__init__(task)
        from bench.tasks.relational.generate import FEATURES

        self.system = str(self.card.system)
        self.n_features = len(FEATURES[self.system])
        self.edge_types = int(self.card.edge_types)
        self.horizon = int(self.card.horizon)
        self.steps = tuple(k for k in HORIZONS if k <= self.horizon)
        """The rollout steps scored (and saved): 1, 10, 20 within the task's horizon."""
        self.n_edges = self.n * (self.n - 1)

    @property
    def expected_input(self) -> dict[str, str]:
        E, K, H, n, F = self.n_edges, self.edge_types, len(self.steps), self.n, self.n_features
        frames = ", ".join(str(49 + k) for k in self.steps)
        return {
            "edge_prob_pred": f"float array (S, {E}, {K}): posterior over the {K} edge types of each ordered pair",
            "edges_true": f"int array (S, {E}): the true edge types, in 0..{K - 1}",
            "state_pred": f"float array (S, {H}, {n}, {F}): the rollout at frames {frames}, normalised",
            "state_true": f"float array (S, {H}, {n}, {F}): the true frames {frames}, normalised",
            "feature_scale": f"float array ({F},): physical units per normalised unit of each feature",
        }

    def __call__(self, input_dict: dict[str, Any]) -> dict[str, float]:
        owner = f"Evaluator({self.task!r})"
        E, K, H, n, F = self.n_edges, self.edge_types, len(self.steps), self.n, self.n_features
        prob = self.input_array(input_dict, "edge_prob_pred", ("S", E, K), "(S, n(n−1), K): the edge-type posterior")
        labels = self.input_array(input_dict, "edges_true", ("S", E), "(S, n(n−1)): the true edge types")
        pred = self.input_array(
            input_dict, "state_pred", ("S", H, n, F), "(S, horizon, n, F): the normalised rollout", finite=False
        )  # a rollout that blows up scores an infinite MSE, not an error
        true = self.input_array(input_dict, "state_true", ("S", H, n, F), "(S, horizon, n, F): the true future")
        scale = self.input_array(input_dict, "feature_scale", (F,), "(F,): physical units per normalised unit")
        S = prob.shape[0]
        if S == 0:
            raise ValueError(f"{owner}: edge_prob_pred holds no samples")
        for name, a in (("edges_true", labels), ("state_pred", pred), ("state_true", true)):
            if a.shape[0] != S:
                raise ValueError(f"{owner}: {name} holds {a.shape[0]} samples, edge_prob_pred {S}; they must match")
        if (labels != np.round(labels)).any() or labels.min() < 0 or labels.max() > K - 1:
            bad = np.unique(labels[(labels != np.round(labels)) | (labels < 0) | (labels > K - 1)])[:5]
            shown = ", ".join(f"{v:g}" for v in bad)
            raise ValueError(f"{owner}: edges_true holds {shown}; expected edge types (integers) in 0..{K - 1}")
        sums = prob.sum(axis=-1)
        if prob.min() < -1e-6 or prob.max() > 1 + 1e-6 or np.abs(sums - 1).max() > 1e-2:
            raise ValueError(
                f"{owner}: edge_prob_pred is not a posterior: values in [{prob.min():.4g}, {prob.max():.4g}], rows "
                f"summing to [{sums.min():.4g}, {sums.max():.4g}]; expected probabilities in [0, 1] summing to 1 "
                "over the edge types (the softmax, not logits)"
            )
        if (scale <= 0).any():
            raise ValueError(f"{owner}: feature_scale is {scale.tolist()}; expected positive values")

        out = self.edge_metrics(prob.reshape(-1, K), labels.reshape(-1).astype(np.int64))
        steps = self.steps
        with np.errstate(over="ignore", invalid="ignore"):
            err2 = (pred - true) ** 2  # (S, steps, n, F), normalised units
        err2[~np.isfinite(err2)] = np.inf  # a blown-up rollout: an infinite error, never NaN
        for j, k in enumerate(steps):
            out[f"mse_h{k}"] = float(err2[:, j].mean())
        phys = err2 * scale**2
        for group, columns in PHYSICAL_GROUPS[self.system]:
            for j, k in enumerate(steps):
                out[f"{group}_mse_h{k}"] = float(phys[:, j][..., list(columns)].mean())
        return out

    @staticmethod
    def edge_metrics(prob: np.ndarray, labels: np.ndarray) -> dict[str, float]:
        """``edge_accuracy``, ``edge_accuracy_raw`` and ``edge_auroc`` of the posteriors ``prob`` (M, K) of M
        edges whose true types are ``labels`` (M,)."""
        K = prob.shape[-1]
        predicted = prob.argmax(axis=-1)
        perm = relabelling(predicted, labels, K)
        inverse = np.argsort(perm)  # true type t is the model's type inverse[t]
        relabelled = prob[:, inverse]  # column t: the posterior of (relabelled) type t
        if K == 2:
            area = auroc(relabelled[:, 1], labels == 1)
        else:
            areas = [auroc(relabelled[:, t], labels == t) for t in range(K)]
            finite = [a for a in areas if np.isfinite(a)]
            area = float(np.mean(finite)) if finite else float("nan")
        return {
            "edge_accuracy": float((perm[predicted] == labels).mean()),
            "edge_accuracy_raw": float((predicted == labels).mean()),
            "edge_auroc": area,
        }
