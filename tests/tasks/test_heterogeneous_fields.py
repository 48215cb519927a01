"""Family H's hidden fields (``field-static``, ``field-dynamic``): the generated patterns, the simulator's
field term against a brute-force sum, the loader's field edges and times, the field baseline, and the
evaluator's field scores (able to fail)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from bench.config import compose, task_card
from bench.errors import BenchError
from bench.family import get_family
from bench.tasks.data import data_params, generate_dataset
from bench.tasks.heterogeneous.evaluator import Evaluator
from bench.tasks.heterogeneous.fields import field_nodes, fourier_field, wave_vectors
from bench.tasks.heterogeneous.systems import field_velocity, pair_function, simulate

SHORT = ["frames=21", "horizons=[1,10,20]"]
"""Short runs (a variant dataset of its own)."""
SIGMA, RADIUS = 0.005, 0.075


@pytest.fixture(scope="module")
def dynamic(data_root):
    card = task_card("field-dynamic", SHORT)
    dataset = generate_dataset(card, "tiny", root=data_root, progress=False)
    return card, dataset, get_family("heterogeneous").load(dataset, card)


def test_nodes_are_jittered_cell_centres_in_the_box():
    box, n = 0.5, 20
    nodes = field_nodes(box, n, 0.125, [1, 2])
    assert nodes.shape == (n * n, 2) and 0 <= nodes.min() and nodes.max() < box
    h = box / n
    centre = np.stack([(np.arange(n * n) % n + 0.5) * h, (np.arange(n * n) // n + 0.5) * h], axis=1)
    offset = nodes - centre
    offset -= box * np.round(offset / box)
    assert 0.1 * h < offset.std() < 0.15 * h and np.abs(offset).max() < 0.7 * h  # N(0, (h/8)²), row-major
    np.testing.assert_array_equal(nodes, field_nodes(box, n, 0.125, [1, 2]))


def test_patterns_are_periodic_scaled_and_the_dynamic_one_moves():
    box = 0.45
    nodes = field_nodes(box, 30, 0.125, [0, 1])
    static = fourier_field(nodes, box, 11, "static", [3, 4])
    assert static.shape == (1, 900) and static.min() == 0.0 and static.max() == pytest.approx(2.0)
    shifted = fourier_field(nodes + np.array([box, -2 * box]), box, 11, "static", [3, 4])
    np.testing.assert_allclose(shifted, static, atol=1e-9)  # integer wave vectors: periodic in the box
    moving = fourier_field(nodes, box, 51, "dynamic", [3, 4])
    assert moving.shape == (51, 900) and moving.min() == 0.0 and moving.max() == pytest.approx(2.0)
    corr = np.corrcoef(moving[0], moving[-1])[0, 1]
    assert corr < 0.9 and np.corrcoef(moving[0], moving[1])[0, 1] > 0.95  # smooth in time, changed over the run
    m = wave_vectors(box, 0.1)
    assert len(m) == len({tuple(v) for v in m} | {tuple(-v) for v in m}) // 2  # one of each ±m
    with pytest.raises(BenchError, match="wavy.*dynamic, static"):
        fourier_field(nodes, box, 11, "wavy", [3, 4])


def test_the_field_term_is_the_mean_over_near_nodes_brute_force():
    rng = np.random.default_rng(5)
    box, N = 0.3, 40
    x = rng.uniform(0, box, (N, 2))
    params = rng.uniform(1.0, 2.0, (N, 4))
    nodes = field_nodes(box, 25, 0.125, [7, 8])
    values = rng.uniform(0.0, 2.0, len(nodes))
    from scipy.spatial import cKDTree

    got = field_velocity(x, params, cKDTree(nodes, boxsize=box), values, box, RADIUS / 2, SIGMA)
    want = np.zeros((N, 2))
    for i in range(N):
        d = nodes - x[i]
        d -= box * np.round(d / box)
        r = np.sqrt((d**2).sum(axis=1))
        near = (r < RADIUS / 2) & (r > 0)
        f = pair_function(r[near], params[i], SIGMA)
        want[i] = (f[:, None] * d[near] * values[near, None]).mean(axis=0)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)
    assert np.abs(want).max() > 0


def test_a_zero_field_changes_nothing():
    params = np.tile([1.6233, 1.0413, 1.6012, 1.5615], (60, 1))
    plain = simulate(params, 0.2, RADIUS, SIGMA, 0.1, 5, [1, 2])
    nodes = field_nodes(0.2, 20, 0.125, [0, 0])
    zero = simulate(params, 0.2, RADIUS, SIGMA, 0.1, 5, [1, 2], field_nodes=nodes,
                    field_values=np.zeros((1, 400)), field_radius=RADIUS / 2)  # fmt: skip
    np.testing.assert_array_equal(zero["position"], plain["position"])
    one = simulate(params, 0.2, RADIUS, SIGMA, 0.1, 5, [1, 2], field_nodes=nodes,
                   field_values=np.ones((5, 400)), field_radius=RADIUS / 2)  # fmt: skip
    assert not np.allclose(one["velocity"], plain["velocity"])


def test_the_dataset_holds_the_field_as_truth_and_the_batch_never_does(dynamic):
    card, dataset, data = dynamic
    train = dataset.split("train")
    assert train["field_value"].shape == (21, 22 * 22) and train["field_position"].shape == (22 * 22, 2)
    np.testing.assert_array_equal(dataset.split("test")["field_value"], train["field_value"])
    assert dataset.manifest["generation"]["field"] == {"kind": "dynamic", "nodes": 484, "grid": 22, "radius": 0.0375}
    batch, targets = data.batch("train", torch.tensor([3, 7]))
    N = data.n_particles
    np.testing.assert_allclose(batch.time.numpy(), np.repeat([0.3, 0.7], N), rtol=1e-6)
    node, particle = batch.field.edge_index.numpy()
    x = batch.position.double().numpy()
    d = data.field_position.double().numpy()[node] - x[particle]
    d -= data.box * np.round(d / data.box)
    np.testing.assert_allclose(batch.field.delta.numpy(), d, atol=1e-6)
    assert np.sqrt((d**2).sum(axis=1)).max() < 0.0375
    # every pair closer than the field radius is an edge (brute force on the first frame)
    full = data.field_position.double().numpy()[None] - x[:N, None]
    full -= data.box * np.round(full / data.box)
    assert int(((full**2).sum(-1) < 0.0375**2).sum()) == int((particle < N).sum())
    values = {name for name in vars(batch) if vars(batch)[name] is not None}
    assert not any("value" in name for name in values) and "velocity" in targets


def test_tasks_without_a_field_keep_their_data_parameters():
    card = task_card("types3")
    assert "field" not in data_params(card, "tiny")  # the optional key: types3's datasets and checksums unchanged
    assert data_params(task_card("field-static"), "tiny")["field"]["kind"] == "static"


def test_bad_field_cards_are_refused_by_key():
    fam = get_family("heterogeneous")
    for override, key in (("field.kind=wavy", "task.field.kind"), ("field.grid.tiny=1", "task.field.grid.tiny"),
                          ("field.radius=0.2", "task.field.radius")):  # fmt: skip
        with pytest.raises(BenchError, match=key.replace(".", r"\.")):
            fam.check_card(task_card("field-static", [override]))


def _field_model(task: str, seed: int = 0):
    from bench.run import build_model

    cfg = compose([f"task={task}", "model=embedding-gnn-field", "scale=tiny", "model.hparams.hidden=16",
                   "model.hparams.field_hidden=16", "model.hparams.field_layers=2"])  # fmt: skip
    torch.manual_seed(seed)
    return build_model(cfg, get_family("heterogeneous").task_spec(cfg.task, "tiny"))


def test_the_field_model_needs_a_field_task_and_knows_static_from_dynamic():
    from bench.run import build_model

    cfg = compose(["task=types3", "model=embedding-gnn-field", "scale=tiny"])
    with pytest.raises(BenchError, match="field-static, field-dynamic"):  # names the tasks that have one
        build_model(cfg, get_family("heterogeneous").task_spec(cfg.task, "tiny"))
    static, moving = _field_model("field-static"), _field_model("field-dynamic")
    assert static.field.sines[0].in_features == 2 and moving.field.sines[0].in_features == 3
    nodes = torch.rand(7, 2) * 0.2
    b = moving.hidden_field(nodes, torch.linspace(0, 25, 7))
    assert b.shape == (7,) and (b >= 0).all()
    assert not torch.allclose(b, moving.hidden_field(nodes, torch.zeros(7)))  # a function of time
    torch.testing.assert_close(static.hidden_field(nodes, torch.zeros(7)), static.hidden_field(nodes, torch.ones(7)))
    groups = static.param_groups()
    assert [g.get("lr") for g in groups] == [None, 1e-2, 1e-4]  # MLP, embeddings, field
    assert sum(len(g["params"]) for g in groups) == len(list(static.parameters()))


def test_the_field_network_reads_positions_in_the_chosen_coordinates():
    from bench.run import build_model

    spec_of = get_family("heterogeneous").task_spec
    nodes = torch.rand(5, 2) * 0.2
    for coordinates in ("box", "physical"):
        cfg = compose(["task=field-static", "model=embedding-gnn-field", "scale=tiny", "model.hparams.hidden=16",
                       "model.hparams.field_hidden=16", f"model.hparams.field_coordinates={coordinates}"])  # fmt: skip
        spec = spec_of(cfg.task, "tiny")
        model = build_model(cfg, spec)
        length = spec.box if coordinates == "box" else 1.0
        assert spec.box < 0.5  # tiny's box: the two inputs differ
        with torch.no_grad():
            torch.testing.assert_close(model.hidden_field(nodes, torch.zeros(5)),
                                       model.field(nodes / length).reshape(-1).square())  # fmt: skip
    cfg = compose(["task=field-static", "model=embedding-gnn-field", "scale=tiny",
                   "model.hparams.field_coordinates=grid"])  # fmt: skip
    with pytest.raises(BenchError, match="field_coordinates='grid'; valid: physical, box"):
        build_model(cfg, spec_of(cfg.task, "tiny"))


def test_the_field_term_is_the_mlp_times_the_learned_value(dynamic):
    """With the field's output layer at zero (b ≡ 0) the model is embedding-gnn; with b ≡ 1 it adds the mean of
    the field edges' messages, computed here by hand."""
    card, dataset, data = dynamic
    model = _field_model("field-dynamic").eval()
    from bench.backends.torch_backend import TorchBackend

    batch = TorchBackend().bind(data.batch("train", torch.tensor([2]))[0])
    with torch.no_grad():
        model.field.out.weight.zero_()
        model.field.out.bias.zero_()
        without = model(batch)
        model.field.out.bias.fill_(1.0)
        with_one = model(batch)
        node, receiver = batch.field.edge_index
        delta = batch.field.delta
        geometry = torch.cat([delta, delta.norm(dim=-1, keepdim=True)], dim=-1) / model.radius
        codes = model.embedding[batch.particle][receiver]
        messages = model.edge(torch.cat([geometry, codes], dim=-1))
        mean = torch.zeros(batch.num_nodes, 2).index_add_(0, receiver, messages)
        mean /= torch.bincount(receiver, minlength=batch.num_nodes).clamp(min=1)[:, None]
    torch.testing.assert_close(with_one - without, mean * model.velocity_scale, rtol=1e-5, atol=1e-7)


def _field_inputs(F: int, pred: np.ndarray | None) -> dict:
    from test_heterogeneous_evaluator import PARAMS, _inputs, psi

    types = np.repeat(np.arange(3), 20)
    grid = 10
    rng = np.random.default_rng(0)
    xy = np.stack(np.meshgrid(np.arange(grid), np.arange(grid)), -1).reshape(-1, 2) / grid
    true = np.stack([1 + np.sin(2 * np.pi * (xy[:, 0] + 0.05 * t)) * np.cos(2 * np.pi * xy[:, 1]) for t in range(F)])
    extra = {"field_true": true} | ({} if pred is None else {"field_pred": pred(true, rng)})
    return _inputs(psi(PARAMS[types]), types, **extra)


@pytest.mark.parametrize("F", [1, 4])
def test_the_field_scores_reward_the_field_and_fail_without_it(F):
    ev = Evaluator(SimpleNamespace(name="field_test", n_particles=60, dim=2, n_types=3))
    good = ev(_field_inputs(F, lambda t, rng: 0.3 * t - 2.0))  # the whole evaluator once (its type scores: UMAP)
    assert good["field_r2"] == pytest.approx(1.0) and good["field_pearson_r"] == pytest.approx(1.0)
    assert good["field_rmse"] == pytest.approx(0.0, abs=1e-9)
    fields = ev._field_scores  # the other cases score the field alone: the type scores do not depend on it
    noise = fields(_field_inputs(F, lambda t, rng: rng.normal(size=t.shape)))
    assert noise["field_r2"] < 0.2 and abs(noise["field_pearson_r"]) < 0.35
    none = fields(_field_inputs(F, None))  # a model without a field model: a constant field
    assert none["field_r2"] == 0.0 and none["field_pearson_r"] == 0.0 and none["field_rmse"] > 0.3
    broken = fields(_field_inputs(F, lambda t, rng: np.full(t.shape, np.nan)))
    assert broken["field_r2"] == 0.0 and broken["field_rmse"] == float("inf")
    if F == 1:
        assert good["field_r2_outlier_rule"] == pytest.approx(1.0) and good["field_outliers"] == 0
        # the rule alone would keep the nodes near the mean and score a constant field highly: it scores 0
        assert none["field_r2_outlier_rule"] == 0.0 and none["field_outliers"] > 0
    else:
        assert good["field_ssim"] == pytest.approx(1.0) and good["field_psnr"] == 100.0
        assert noise["field_ssim"] < 0.3
    without = ev(_field_inputs(F, None) | {"field_true": None})
    assert not any(k.startswith("field_") for k in without)  # tasks without a field: no field metrics


def test_field_values_do_not_depend_on_the_cpu_kernels():
    """The same bytes whichever BLAS kernel and numpy SIMD paths run: a field made with a matrix product changed
    its last bits between OpenBLAS's Haswell and Prescott kernels (task v1)."""
    from tests.cpu_kernels import assert_same_output

    code = ("import hashlib; from bench.tasks.heterogeneous.fields import field_nodes, fourier_field; "
            "nodes = field_nodes(0.45, 45, 0.125, [42, 200]); "
            "values = fourier_field(nodes, 0.45, 31, 'dynamic', [42, 201]); "
            "print(hashlib.sha256(values.tobytes()).hexdigest())")  # fmt: skip
    assert_same_output(code)
