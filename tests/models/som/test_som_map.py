"""Self-organising maps: schedules and neighbourhoods as specified, grids, topology preservation on
1-D and 2-D data, batch vs online, the reduce across ranks, quality measures, engine and resume."""

from __future__ import annotations

import itertools
import math
import threading

import pytest
import torch
from engine_runs import assert_same_state, whole_and_resumed

from untaught.models.som import SOM, SOMConfig, decay, decay_steps_for, grid_adjacency, grid_positions, neighbourhood
from untaught.models.som.som import argmin_rows


def fit(model: SOM, v: torch.Tensor, epochs: int, batch: int, seed: int = 0) -> SOM:
    gen = torch.Generator().manual_seed(seed)
    step = 0
    for _ in range(epochs):
        for idx in torch.randperm(len(v), generator=gen).split(batch):
            model.step_vectors(v[idx], step=step, generator=gen)
            step += 1
    return model


def square(n: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def som2d(**kw) -> SOM:
    return SOM(SOMConfig(shape=(2,), levels=None, **kw)).double()


# -- schedules, neighbourhoods, grids ------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["exponential", "linear", "inverse"])
def test_decays_go_from_start_to_end_monotonically_and_then_stay(kind):
    values = [decay(5.0, 0.5, t, 100, kind) for t in range(0, 151)]
    assert values[0] == pytest.approx(5.0) and values[100] == pytest.approx(0.5)
    assert all(a > b for a, b in itertools.pairwise(values[:101]))
    assert values[150] == pytest.approx(0.5)
    half = {"exponential": 5.0 * 0.1**0.5, "linear": 2.75, "inverse": 5.0 / (1 + 9 * 0.5)}[kind]
    assert values[50] == pytest.approx(half)


def test_neighbourhoods_have_their_specified_shapes():
    d2 = torch.tensor([0.0, 1.0, 4.0, 9.0], dtype=torch.float64)
    torch.testing.assert_close(neighbourhood(d2, 2.0, "gaussian"), torch.exp(-d2 / 8))
    torch.testing.assert_close(
        neighbourhood(d2, 2.0, "bubble"), torch.tensor([1.0, 1.0, 1.0, 0.0], dtype=torch.float64)
    )
    hat = neighbourhood(d2, 2.0, "mexican-hat")
    assert hat[0] == 1 and hat[2] == 0 and hat[3] < 0 < hat[1]  # zero at radius σ, negative beyond
    with pytest.raises(ValueError, match="neighbourhood must be"):
        neighbourhood(d2, 1.0, "cone")
    with pytest.raises(ValueError, match="sigma must be positive; got 0"):
        neighbourhood(d2, 0.0, "gaussian")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(20, 20), (3, 7), (1, 5)])
def test_the_separable_gaussian_is_the_gaussian_of_grid_distances_and_never_subnormal(shape, dtype):
    model = SOM(SOMConfig(shape=(2,), levels=None, rows=shape[0], cols=shape[1])).to(dtype)
    assert model.separable
    bmu = torch.arange(model.config.units).repeat(2)
    for sigma in (10.0, 1.5, 0.3):
        h = model.neighbourhood_weights(bmu, sigma)
        exact = torch.exp(-model.grid_sq.index_select(0, bmu) / (2 * sigma**2))
        torch.testing.assert_close(h, exact, rtol=1e-6 if dtype == torch.float32 else 1e-12, atol=1e-15)
        assert bool(((h == 0) | (h >= torch.finfo(dtype).tiny)).all())  # no subnormal weight
        assert h.dtype == dtype and h.shape == (len(bmu), model.config.units)


def test_argmin_rows_is_argmin_with_the_first_of_ties():
    x = torch.tensor([[3.0, 1.0, 1.0, 2.0], [0.0, 0.0, 5.0, -1.0], [2.0, 2.0, 2.0, 2.0]])
    for t in (x, x.double()):
        assert argmin_rows(t).tolist() == [1, 3, 0] == t.argmin(1).tolist()
        assert argmin_rows(t).dtype == torch.int64


def test_grids_and_their_adjacency():
    rect = grid_adjacency(5, 6, "rectangular")
    hexa = grid_adjacency(5, 6, "hexagonal")
    inner = 2 * 6 + 2
    assert int(rect[inner].sum()) == 8 and int(hexa[inner].sum()) == 6
    assert int(rect[0].sum()) == 3 and bool((rect == rect.T).all()) and bool((hexa == hexa.T).all())
    pos = grid_positions(5, 6, "hexagonal")
    dist = torch.cdist(pos, pos, compute_mode="donot_use_mm_for_euclid_dist")  # exact, no |a|²+|b|²-2ab
    others = ~hexa & ~torch.eye(len(pos), dtype=torch.bool)
    # every hexagonal neighbour at distance 1, every other unit farther
    assert bool(((dist[hexa] - 1).abs() < 1e-9).all()) and bool((dist[others] > 1.5).all())


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="topology must be one of"):
        SOMConfig(topology="toroid")
    with pytest.raises(ValueError, match="mexican-hat' has negative weights"):
        SOMConfig(neighbourhood="mexican-hat", mode="batch")
    with pytest.raises(ValueError, match=r"lr_start must be None or in \(0, 1\]; got 2"):
        SOMConfig(lr_start=2)


# -- learning ---------------------------------------------------------------------------------------------
def test_one_dimensional_map_orders_one_dimensional_data():
    """A 1 x 12 chain on uniform data in [0, 1] ends with monotone prototypes (Kohonen's ordering)."""
    v = torch.rand(600, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    model = SOM(
        SOMConfig(shape=(1,), levels=None, rows=1, cols=12, init="random", decay_steps=100, sigma_end=0.3)
    ).double()
    fit(model, v, epochs=10, batch=60)
    w = model.weight.detach()[:, 0]
    steps = w.diff()
    assert bool((steps > 0).all()) or bool((steps < 0).all()), w
    assert float(w.min()) < 0.15 and float(w.max()) > 0.85  # it spans the data (ideal: 1/24 .. 23/24)


@pytest.mark.parametrize("topology", ["rectangular", "hexagonal"])
def test_two_dimensional_map_preserves_topology(topology):
    v = square(2000)
    model = som2d(rows=8, cols=8, topology=topology, init="random", decay_steps=200, sigma_end=0.8)
    fit(model, v, epochs=10, batch=100)
    assert model.topographic_error(v) < 0.05  # stated bound
    # 64 units on the unit square: a regular lattice would have an error of about 0.05
    assert model.quantisation_error(v) < 0.08


def test_batch_and_online_reach_comparable_quantisation_error():
    v = square(1500, seed=1)
    errors = {}
    for mode in ("batch", "online"):
        lr = 0.5 if mode == "online" else 1.0
        model = som2d(rows=6, cols=6, mode=mode, decay_steps=150, sigma_end=0.5, lr_start=lr)
        fit(model, v, epochs=10, batch=100)
        errors[mode] = model.quantisation_error(v)
    assert abs(errors["batch"] - errors["online"]) < 0.15 * max(errors.values()), errors


def test_after_the_decay_the_batch_rule_is_the_batch_map_of_everything_seen_since():
    model = som2d(rows=3, cols=4, decay_steps=1, sigma_start=2.0, sigma_end=0.7)
    v = square(90, seed=4)
    parts = v.split(30)
    model.step_vectors(parts[0], step=0, generator=None)  # decay phase: a minibatch step
    nums, dens = [], []
    for step, part in enumerate(parts[1:], start=1):
        w = model.weight.detach().clone()
        bmu = ((part[:, None] - w[None]) ** 2).sum(-1).argmin(1)
        h = torch.exp(-model.grid_sq[bmu] / (2 * 0.7**2))
        nums.append(h.T @ part)
        dens.append(h.sum(0))
        metrics = model.step_vectors(part, step=step, generator=None)
        expected = sum(nums) / sum(dens)[:, None]  # Kohonen's batch map over the parts since the decay ended
        torch.testing.assert_close(model.weight.detach(), expected)
        assert metrics["sigma"] == pytest.approx(0.7) and metrics["lr"] == 1.0


def test_a_final_converging_pass_lowers_the_quantisation_error():
    v = square(1500, seed=5)
    errors = {}
    for label, passes in (("decay to the end", 10), ("last pass converges", 9)):
        model = som2d(rows=8, cols=8, decay_steps=passes * 15, sigma_end=1.0)
        fit(model, v, epochs=10, batch=100)
        errors[label] = model.quantisation_error(v)
    assert errors["last pass converges"] < 0.95 * errors["decay to the end"], errors
    assert decay_steps_for(10, 15, "batch") == 135 and decay_steps_for(10, 15, "online") == 150
    assert decay_steps_for(1, 15, "batch") == 15


def test_online_mexican_hat_and_bubble_train():
    v = square(600, seed=2)
    for kind, bound in (("mexican-hat", 0.2), ("bubble", 0.12)):
        model = som2d(rows=5, cols=5, mode="online", neighbourhood=kind, decay_steps=60, sigma_start=3.0, sigma_end=1.5)
        fit(model, v, epochs=5, batch=50)
        assert model.quantisation_error(v) < bound, kind
        # the mexican hat's negative lobe pushes units away, but never out of the data's box
        w = model.weight.detach()
        assert float(w.min()) >= float(v.min()) and float(w.max()) <= float(v.max())


def test_cosine_metric_ignores_the_scale_of_the_data():
    model = som2d(rows=3, cols=3, metric="cosine")
    with torch.no_grad():
        model.weight.copy_(torch.randn(9, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    v = torch.randn(50, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert torch.equal(model.best_units(v), model.best_units(7.5 * v))


def step_as_ranks(models: list[SOM], parts: list[torch.Tensor], step: int = 0) -> None:
    """DDP in miniature: one thread per rank, ``reduce`` averaging what the ranks send."""
    sent = [None] * len(models)
    barrier = threading.Barrier(len(models))

    def reduce_for(rank):
        def reduce(t):
            sent[rank] = t.clone()
            barrier.wait()
            out = sum(sent) / len(sent)
            barrier.wait()
            return out

        return reduce

    threads = [
        threading.Thread(target=m.step_vectors, args=(p,), kwargs=dict(step=step, generator=None, reduce=reduce_for(r)))
        for r, (m, p) in enumerate(zip(models, parts, strict=True))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_two_ranks_with_an_averaging_reduce_take_the_single_process_step():
    v = square(40, seed=3)
    for mode, decay_steps in (("batch", 1000), ("online", 1000), ("batch", 0)):  # 0: converging
        one, rank0, rank1 = (som2d(rows=3, cols=4, mode=mode, decay_steps=max(1, decay_steps)) for _ in range(3))
        for m in (one, rank0, rank1):
            m.config.decay_steps = decay_steps
        for step in range(2):
            step_as_ranks([rank0, rank1], [v[0::2], v[1::2]], step)
            one.step_vectors(v, step=step, generator=None)
        assert torch.equal(rank0.weight, rank1.weight), mode  # the ranks stay identical
        assert bool(rank0.ready) and not torch.equal(rank0.weight, som2d(rows=3, cols=4).weight)
        if mode == "batch":  # the batch map of the whole batch, exactly
            torch.testing.assert_close(rank0.weight, one.weight)


# -- measures -------------------------------------------------------------------------------------------------
def test_u_matrix_hits_and_errors_by_hand():
    model = SOM(SOMConfig(shape=(1,), levels=None, rows=1, cols=3)).double()
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.0], [1.0], [3.0]], dtype=torch.float64))
    torch.testing.assert_close(model.u_matrix(), torch.tensor([[1.0, 1.5, 2.0]], dtype=torch.float64))
    x = torch.tensor([[0.1], [0.9], [2.9], [2.2], [-1.0]], dtype=torch.float64)
    assert model.hit_map(x).tolist() == [[2, 1, 2]]
    assert model.quantisation_error(x) == pytest.approx((0.1 + 0.1 + 0.1 + 0.8 + 1.0) / 5)
    # second-best units: 1, 0 (or 2), 1, 1, 1 -> all adjacent except for x=2.9 (best 2, second 1: adjacent)
    assert model.topographic_error(x) == 0.0
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.0], [5.0], [0.5]], dtype=torch.float64))  # folded map
    assert model.topographic_error(torch.tensor([[0.2], [0.3]], dtype=torch.float64)) == 1.0


def test_encode_decode_and_components_on_images():
    model = SOM(SOMConfig(shape=(1, 2, 3), levels=4, rows=2, cols=5))
    x = torch.randint(0, 4, (30, 1, 2, 3), generator=torch.Generator().manual_seed(0)).to(torch.uint8)
    model.update(x, step=0, generator=None)
    z = model.encode(x)
    assert z.shape == (30, 2) and float(z[:, 0].max()) <= 1 and float(z[:, 1].max()) <= 4
    torch.testing.assert_close(model.decode(z), model.prototypes()[model.bmu(x)])
    assert model.component_planes().shape == (6, 2, 5) and int(model.hit_map(x).sum()) == 30
    with pytest.raises(ValueError, match=r"must hold levels in \[0, 4\)"):
        model.encode(torch.full((1, 1, 2, 3), 4, dtype=torch.uint8))


def test_trains_through_the_engine_and_resumes_exactly(tmp_path):
    def model():
        torch.manual_seed(0)
        return SOM(SOMConfig(shape=(1, 8, 8), levels=17, rows=6, cols=6, decay_steps=40))  # then converging

    opts = dict(batch_size=64, progress=False, threads=1, samples=0, select="last")
    whole, resumed = whole_and_resumed(tmp_path, model, "digits", epochs=3, first=1, **opts)
    assert whole.metrics["test_loss"] < 2.0  # quantisation error in [0, 1] pixel units; the data spread is ~2.6
    assert_same_state(whole.model, resumed.model)
    assert math.isfinite(whole.metrics["val_loss"])
