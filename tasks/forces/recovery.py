r"""Recovery score: is an expression of the edge inputs the system's force law?

An expression ``e(Δx, Δy[, Δz], r', m_i, m_j, q_i, q_j)`` (from symbolic regression of a message
component, or read off a model such as ``eql-gnn``) counts as **recovered** when both verdicts agree:

1. **Numeric, linear in the true force.** On fresh random pairs (not the training data), fit
   ``e ≈ a + Σ_k b_k F_k`` by least squares against the true pair force ``F`` (the simulator's law, with
   its exact softening), once on pairs whose distance lies inside the training range of ``r`` and once on
   pairs beyond it (up to twice its upper end). Both R² must reach ``R2_THRESHOLD`` (0.999). The
   training range runs from the 5th to the 99th percentile of the training pairs' distances: an
   expression written in r' (the only distance symbolic regression sees) has the direction Δ/r' instead
   of Δ/r, off by 0.01/r, which near the 1st percentile (r ≈ 0.05 for r2) is 20 % and would fail every
   expression of the form that the report "Symbolic Distillation" §2.7.3 counts as correct.
2. **Symbolic, in the style of SRBench.** The *fitted truth* ``T = a + Σ_k b_k F̃_k`` is the law written
   in the expression's variables (direction ``Δ/r'``, as the report "Symbolic Distillation" §2.7.3 does),
   with constants fitted to the expression on the fresh pairs inside the training range. The difference
   ``e − T`` is expanded and simplified; terms whose size on the fresh pairs is below ``TINY`` (1 %) of the
   expression's spread are rounded away ("tiny constants are rounded"); the verdict is true when what is
   left is a constant. Failing that, the ratio
   ``(e − a)/(T − a)``, with its constants rounded to 2 significant digits, must simplify to a constant.

A rotated law (messages that mix Δx and Δy) counts: the ``b_k`` are free. A missing factor (for example
``m_i`` absent from an r1 law) fails both verdicts. ``discontinuous`` has no closed form in these
variables; its symbolic verdict is ``None`` and only the numeric one is reported.

**Recovered up to a mass factor** is a separate verdict (``recovered_mass_factor``, with ``mass_factor``
``"m_i"`` or ``"m_j"``): the same two checks, with the same rules, against ``F / m_i`` or ``F / m_j`` in
place of ``F`` (the fitted truth written with that factor). Cranmer et al. 2020, the report "Symbolic
Distillation of GNNs" (Table 5) and the GNN+EQL report count r1 and r2 laws found this way (an r1 message
``m_j Δ / r'²``, the receiver's mass missing) as recovered up to the mass factor. It never changes
``recovered``; an expression recovered exactly is not linear in ``F / m`` (the masses vary), so the two
verdicts exclude each other. The symbolic check of a factor runs only where its numeric check passed.

``RecoveryScore(system, dim, r_range)(input_dict) -> result``: dict in, dict out, like the evaluators.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.tasks.forces.systems import SOFTENING, get_potential

R2_THRESHOLD = 0.999
MASS_FACTORS = ("m_i", "m_j")
"""The masses a law may be recovered "up to": the receiver's and the sender's."""
FRESH_PAIRS = 5000
TINY = 1e-2
OUTSIDE_FACTOR = 2.0
"""Pairs "outside the training range" have distances between its upper end and twice that."""


def variable_names(dim: int) -> list[str]:
    """The inputs of symbolic regression, in column order: Δ = x_i − x_j (receiver minus sender)."""
    return ["dx", "dy", "dz"][:dim] + ["rp", "m_i", "m_j", "q_i", "q_j"]


LATEX_NAMES = {
    "dx": r"\Delta x", "dy": r"\Delta y", "dz": r"\Delta z", "rp": "r'",
    "m_i": "m_i", "m_j": "m_j", "q_i": "q_i", "q_j": "q_j",
}  # fmt: skip


def symbols(dim: int) -> dict[str, Any]:
    import sympy

    return {name: sympy.Symbol(name, real=True) for name in variable_names(dim)}


def parse(expression: str | Any, dim: int):
    """A SymPy expression from text (or an expression already), over the variables of ``dim``."""
    import sympy

    syms = symbols(dim)
    if isinstance(expression, sympy.Basic):
        return expression.subs({sympy.Symbol(n): s for n, s in syms.items()})
    try:
        expr = sympy.sympify(str(expression), locals=syms)
    except (sympy.SympifyError, SyntaxError, TypeError) as e:
        raise BenchError(f"cannot read the expression '{expression}' ({e})") from None
    unknown = sorted(str(s) for s in expr.free_symbols if str(s) not in syms)
    if unknown:
        raise BenchError(f"expression '{expression}' uses {unknown}; valid variables: {', '.join(syms)}")
    return expr


def latex(expr, dim: int) -> str:
    import sympy

    names = {s: LATEX_NAMES[str(s)] for s in symbols(dim).values()}
    return sympy.latex(expr, symbol_names=names)


def law(system: str, dim: int) -> list[Any] | None:
    """The force components on the receiver in the SR variables, ``−V'(r') Δ_k / r'`` (None for a law
    that has no closed form, ``discontinuous``)."""
    potential = get_potential(system)
    s = symbols(dim)
    try:
        dV = potential.derivative(s["rp"], s["q_i"], s["q_j"], s["m_i"], s["m_j"])
        return [-dV * s[k] / s["rp"] for k in variable_names(dim)[:dim]]
    except TypeError:  # np.where on symbols: a piecewise law
        return None


def fresh_pairs(system: str, dim: int, r_lo: float, r_hi: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random pairs with distance uniform in [r_lo, r_hi], uniform directions, masses exp(N(0, 1)) and
    charges ±1 as in the simulations: (inputs (n, len(variable_names)), true force on the receiver (n, d))."""
    rng = np.random.default_rng(seed)
    direction = rng.standard_normal((n, dim))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    r = rng.uniform(r_lo, r_hi, n)
    delta = direction * r[:, None]
    m = np.exp(rng.standard_normal((n, 2)))
    q = np.where(rng.random((n, 2)) < 0.5, -1.0, 1.0)
    rp = r + SOFTENING
    dV = get_potential(system).derivative(rp, q[:, 0], q[:, 1], m[:, 0], m[:, 1])
    force = (-dV / r)[:, None] * delta
    inputs = np.column_stack([delta, rp, m[:, 0], m[:, 1], q[:, 0], q[:, 1]])
    return inputs, force


def evaluate(expr, dim: int, inputs: np.ndarray) -> np.ndarray:
    """The expression's values on the rows of ``inputs`` (columns as ``variable_names(dim)``)."""
    import sympy

    names = variable_names(dim)
    if expr.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        return np.full(len(inputs), np.nan)
    fn = sympy.lambdify([symbols(dim)[n] for n in names], expr, modules="numpy")
    with np.errstate(all="ignore"):
        values = np.asarray(fn(*inputs.T), dtype=np.float64)
    return np.broadcast_to(values, (len(inputs),)).copy()


def _r2(y: np.ndarray, fitted: np.ndarray) -> float:
    ss_tot = float(((y - y.mean()) ** 2).sum())
    if not np.all(np.isfinite(y)) or ss_tot == 0:
        return float("-inf")
    return 1.0 - float(((y - fitted) ** 2).sum()) / ss_tot


def _linear_fit(y: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, float]:
    """Least squares ``y ≈ c_0 + X c``: the coefficients and the R²."""
    A = np.column_stack([np.ones(len(X)), X])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    return coef, _r2(y, A @ coef)


def _terms_left(difference, dim: int, points: np.ndarray, scale: float):
    """The additive terms of ``difference`` (expanded) that are not tiny on ``points``."""
    import sympy

    kept = []
    for term in sympy.Add.make_args(sympy.expand(difference)):
        if not term.free_symbols:
            continue  # a constant is allowed
        size = evaluate(term, dim, points)
        if np.all(np.isfinite(size)) and np.sqrt(np.mean(size**2)) < TINY * scale:
            continue
        kept.append(term)
    return sympy.Add(*kept) if kept else sympy.Integer(0)


def _round_significant(expr, digits: int):
    import sympy

    def rnd(f):
        v = float(f)
        return sympy.Float(0) if v == 0 else sympy.Float(round(v, digits - 1 - int(math.floor(math.log10(abs(v))))))

    return expr.xreplace({f: rnd(f) for f in expr.atoms(sympy.Float)})


class RecoveryScore:
    """Input: ``expression`` (SymPy or text over ``variable_names(dim)``).
    Output: ``recovered`` (both verdicts), ``numeric`` {recovered, r2_inside, r2_outside, intercept,
    force_coefficients}, ``symbolic`` {recovered, remainder} (None without a closed-form law), ``latex``;
    ``recovered_mass_factor`` (both verdicts against ``F / m_i`` or ``F / m_j``), ``mass_factor`` (which:
    ``"m_i"``, ``"m_j"`` or None) and ``mass_factors`` {m_i, m_j: {recovered, numeric, symbolic}}."""

    def __init__(self, system: str, dim: int, r_range: tuple[float, float], seed: int = 0):
        self.system, self.dim = system, int(dim)
        self.r_lo, self.r_hi = float(r_range[0]), float(r_range[1])
        if not 0 < self.r_lo < self.r_hi:
            raise BenchError(f"bad training range of r {r_range}: need 0 < low < high")
        self.inside = fresh_pairs(system, self.dim, self.r_lo, self.r_hi, FRESH_PAIRS, seed)
        self.outside = fresh_pairs(system, self.dim, self.r_hi, OUTSIDE_FACTOR * self.r_hi, FRESH_PAIRS, seed + 1)
        self.law = law(system, self.dim)

    def __repr__(self) -> str:
        return (f"RecoveryScore({self.system}, d={self.dim}, training r in [{self.r_lo:.3g}, {self.r_hi:.3g}])\n"
                f"  input: expression over {', '.join(variable_names(self.dim))}")  # fmt: skip

    def _target(self, pairs: tuple[np.ndarray, np.ndarray], factor: str | None) -> tuple[np.ndarray, np.ndarray]:
        """Fresh pairs' inputs and their true force, over the mass ``factor`` (a variable name) if given."""
        x, f = pairs
        return (x, f) if factor is None else (x, f / x[:, variable_names(self.dim).index(factor), None])

    def numeric(self, expr, factor: str | None = None) -> dict[str, Any]:
        """The linear fits to the true force (to ``F / factor`` with a mass ``factor``) inside and outside."""
        (x_in, f_in), (x_out, f_out) = self._target(self.inside, factor), self._target(self.outside, factor)
        e_in, e_out = evaluate(expr, self.dim, x_in), evaluate(expr, self.dim, x_out)
        if not (np.all(np.isfinite(e_in)) and np.all(np.isfinite(e_out))):
            return {"recovered": False, "r2_inside": float("-inf"), "r2_outside": float("-inf"), "intercept": None,
                    "force_coefficients": None, "reason": "not finite on the fresh pairs"}  # fmt: skip
        coef, r2_in = _linear_fit(e_in, f_in)
        _, r2_out = _linear_fit(e_out, f_out)
        return {
            "recovered": bool(r2_in >= R2_THRESHOLD and r2_out >= R2_THRESHOLD),
            "r2_inside": r2_in,
            "r2_outside": r2_out,
            "intercept": float(coef[0]),
            "force_coefficients": [float(c) for c in coef[1:]],
        }

    def symbolic(self, expr, factor: str | None = None) -> dict[str, Any] | None:
        """The SymPy check against the fitted truth (written as ``F / factor`` with a mass ``factor``)."""
        import sympy

        if self.law is None:
            return None
        law = self.law if factor is None else [F / symbols(self.dim)[factor] for F in self.law]
        points = self.inside[0]
        values = evaluate(expr, self.dim, points)
        scale = float(np.std(values)) if np.all(np.isfinite(values)) else float("nan")
        if not scale > 0:
            return {"recovered": False, "remainder": "constant or not finite on the fresh pairs"}
        law_values = np.column_stack([evaluate(F, self.dim, points) for F in law])
        coef, _ = _linear_fit(values, law_values)
        a = sympy.Float(coef[0])
        truth = a + sum(sympy.Float(b) * F for b, F in zip(coef[1:], law, strict=True))
        remainder = sympy.simplify(_terms_left(sympy.simplify(expr - truth), self.dim, points, scale))
        if not remainder.free_symbols:
            return {"recovered": True, "check": "difference", "remainder": str(remainder), "truth": str(truth)}
        ratio = sympy.simplify(_round_significant(sympy.simplify((expr - a) / (truth - a)), 2))
        if not ratio.free_symbols:
            return {"recovered": True, "check": "ratio", "remainder": str(ratio), "truth": str(truth)}
        return {"recovered": False, "check": "difference", "remainder": str(remainder), "truth": str(truth)}

    def __call__(self, input_dict: dict[str, Any], lazy: bool = False) -> dict[str, Any]:
        """Both verdicts on ``input_dict["expression"]``. ``lazy``: skip the symbolic check (SymPy's simplify, up to
        seconds per expression) where the numeric verdict already failed, since it cannot change ``recovered``;
        ``symbolic`` then says it was not checked (symbolic regression scores every expression of its front)."""
        expr = parse(input_dict["expression"], self.dim)
        numeric = self.numeric(expr)
        if lazy and not numeric["recovered"] and self.law is not None:
            symbolic = {"recovered": False, "check": "skipped", "remainder": "not checked: the numeric verdict failed"}
        else:
            symbolic = self.symbolic(expr)
        recovered = numeric["recovered"] and (symbolic is None or symbolic["recovered"])
        factors = {factor: self.mass_factor(expr, factor) for factor in MASS_FACTORS}
        found = next((factor for factor, verdict in factors.items() if verdict["recovered"]), None)
        return {"recovered": bool(recovered), "numeric": numeric, "symbolic": symbolic,
                "recovered_mass_factor": found is not None, "mass_factor": found, "mass_factors": factors,
                "expression": str(expr), "latex": latex(expr, self.dim)}  # fmt: skip

    def mass_factor(self, expr, factor: str) -> dict[str, Any]:
        """Both verdicts against ``F / factor``; the symbolic check only where the numeric one passed (it cannot
        change the verdict otherwise)."""
        if factor not in MASS_FACTORS:
            raise BenchError(f"unknown mass factor '{factor}'; valid: {', '.join(MASS_FACTORS)}")
        numeric = self.numeric(expr, factor)
        if not numeric["recovered"] and self.law is not None:
            symbolic = {"recovered": False, "check": "skipped", "remainder": "not checked: the numeric verdict failed"}
        else:
            symbolic = self.symbolic(expr, factor)
        recovered = numeric["recovered"] and (symbolic is None or symbolic["recovered"])
        return {"recovered": bool(recovered), "numeric": numeric, "symbolic": symbolic}


RANGE_PERCENTILES = (5, 99)


def training_r_range(positions: np.ndarray, max_snapshots: int = 20000, seed: int = 0) -> tuple[float, float]:
    """5th and 99th percentiles of the pair distances of training snapshots ``positions`` (..., n, d)."""
    pos = positions.reshape(-1, *positions.shape[-2:])
    rows = np.random.default_rng(seed).permutation(len(pos))[:max_snapshots]
    pos = pos[rows].astype(np.float64)
    n = pos.shape[1]
    i, j = np.triu_indices(n, 1)
    r = np.linalg.norm(pos[:, i] - pos[:, j], axis=-1).ravel()
    lo, hi = np.percentile(r, RANGE_PERCENTILES)
    return float(lo), float(hi)
