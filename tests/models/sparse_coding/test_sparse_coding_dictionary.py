"""Dictionary learning: unit-norm atoms, monotone full-batch objective, training through the engine."""

from __future__ import annotations

import itertools

import pytest
import torch

import untaught
from untaught.data import Split
from untaught.models.sparse_coding import SparseCoding, SparseCodingConfig, lasso_objective
from untaught.training.data import TrainingData


def sparse_data(n=300, k=12, dim=16, seed=0):
    """Signals that are sparse combinations of k random unit atoms plus a little noise."""
    gen = torch.Generator().manual_seed(seed)
    atoms = torch.randn(k, dim, generator=gen, dtype=torch.float64)
    atoms = atoms / atoms.norm(dim=1, keepdim=True)
    mask = torch.rand(n, k, generator=gen, dtype=torch.float64) < 0.2
    z = torch.randn(n, k, generator=gen, dtype=torch.float64) * 3 * mask
    return z @ atoms + 0.05 * torch.randn(n, dim, generator=gen, dtype=torch.float64)


def model(algorithm, **kw):
    torch.manual_seed(0)
    settings = {"tol": 1e-10, "stop": "gap", **kw}
    config = SparseCodingConfig(shape=(16,), atoms=10, lam=0.2, algorithm=algorithm, **settings)
    return SparseCoding(config).double()


@pytest.mark.parametrize("algorithm", ["online", "batch"])
def test_atoms_have_unit_norm_after_every_update(algorithm):
    m = model(algorithm, tol=1e-6, stop="objective")
    x = sparse_data()
    for step, batch in enumerate(x.split(50)):
        m.update(batch, step=step, generator=None, reduce=None, epoch=step // 3)
        assert torch.allclose(m.dictionary.norm(dim=1), torch.ones(10, dtype=torch.float64), atol=1e-12)


def test_full_batch_objective_never_increases():
    m = model("batch")
    x = sparse_data()
    objectives = []
    for epoch in range(8):
        metrics = m.update(x, step=epoch, generator=None, reduce=None, epoch=epoch)
        objectives.append(metrics["objective"])  # the full-batch objective of the dictionary the epoch started with
    final = float(lasso_objective(x, m.encode(x), m.dictionary, 0.2).mean())
    objectives.append(final)
    for before, after in itertools.pairwise(objectives):
        assert after <= before * (1 + 1e-9)
    assert objectives[-1] < 0.9 * objectives[0]


def test_online_learning_lowers_the_objective_and_reinitialises_dead_atoms():
    m = model("online", tol=1e-6, stop="objective")
    x = sparse_data(n=600)
    start = float(m.loss(x)[0])
    with torch.no_grad():
        m.update(x[:50], step=0, generator=None, reduce=None)
        m.stats_a[3, 3] = 0.0  # atom 3 never used so far
        m.stats_a[3] = 0.0
        m.stats_a[:, 3] = 0.0
        old = m.dictionary[3].clone()
        batch = x[50:100]
        replaced = m._reinitialize(batch, m.encode(batch), None)
    assert replaced == 1 and not torch.allclose(m.dictionary[3], old)
    assert float(m.dictionary[3].norm()) == pytest.approx(1.0)
    for _ in range(3):
        for step, batch in enumerate(x.split(50)):
            m.update(batch, step=step, generator=None, reduce=None)
    assert float(m.loss(x)[0]) < 0.7 * start


def toy_data() -> tuple[torch.Tensor, TrainingData]:
    """240 sparse signals float [240, 16], and as a dataset: train 160, val 40, test 40 (unlabelled)."""
    x = sparse_data(n=240).float()
    y = torch.full((len(x),), -1)
    return x, TrainingData(
        "sparse-toy",
        Split(x[:160], y[:160], None),
        Split(x[160:200], y[160:200], None),
        Split(x[200:], y[200:], None),
        None,
    )


def test_trains_through_the_engine(tmp_path):
    x, data = toy_data()
    torch.manual_seed(0)
    m = SparseCoding(SparseCodingConfig(shape=(16,), atoms=10, lam=0.2))
    before = float(m.loss(x[200:])[0])
    run = untaught.train(m, data, epochs=2, batch_size=32, out=tmp_path / "run", progress=False, threads=1)
    assert run.metrics["test_loss"] < 0.6 * before and run.metrics["steps"] == 10
    assert torch.allclose(run.model.dictionary.norm(dim=1), torch.ones(10))
    assert int(run.model.updates) == 10


def test_configuration_errors_name_the_argument():
    with pytest.raises(ValueError, match="lam"):
        SparseCodingConfig(lam=0.0)
    with pytest.raises(ValueError, match="levels"):
        SparseCodingConfig(levels=256)
    m = model("online")
    with pytest.raises(ValueError, match="shape"):
        m.encode(torch.zeros(3, 8, dtype=torch.float64))
    with pytest.raises(ValueError, match="finite"):
        m.encode(torch.full((3, 16), float("inf"), dtype=torch.float64))
    with pytest.raises(ValueError, match="z must have shape"):
        m.decode(torch.zeros(3, 4))


def test_resume_continues_exactly(tmp_path):
    _, data = toy_data()
    options = dict(batch_size=32, progress=False, threads=1, select="last", samples=0)
    torch.manual_seed(0)
    whole = untaught.train(SparseCoding(SparseCodingConfig(shape=(16,), atoms=10, lam=0.2)), data, epochs=2,
                           out=tmp_path / "whole", **options)  # fmt: skip
    torch.manual_seed(0)
    untaught.train(SparseCoding(SparseCodingConfig(shape=(16,), atoms=10, lam=0.2)), data, epochs=1,
                   out=tmp_path / "part", **options)  # fmt: skip
    from untaught.training import engine

    resumed = engine._fit(
        SparseCoding(SparseCodingConfig(shape=(16,), atoms=10, lam=0.2)),
        data,
        engine.TrainConfig(data="sparse-toy", epochs=2, **options),
        tmp_path / "part",
        resume_from=tmp_path / "part" / engine.CHECKPOINT,
    )
    for name in ("dictionary", "stats_a", "stats_b", "updates"):
        assert torch.equal(getattr(whole.model, name), getattr(resumed.model, name)), name
