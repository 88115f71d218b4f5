"""Hierarchical autoregressive model (hierarchical-ar): discrete codes reproduced exactly, auxiliary
decoders that learn to rebuild the level below, autoregressive parts that are causal and sample alike
cached and naive, and a reported bound that is the sum of its parts and below the exact marginal."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from test_ar_properties import jacobian

import untaught
from untaught.data import load_split
from untaught.io import load_model, save_model
from untaught.models.autoregressive.conditionals import generation_order
from untaught.models.autoregressive.hierarchical import HierarchicalAR, HierarchicalARConfig


def build(shape=(1, 4, 4), levels=2, codes=(3, 2), **extra) -> HierarchicalAR:
    torch.manual_seed(0)
    fields = {**dict(hidden=6, layers=1, channels=6, head=6, kernel=3), **extra}
    model = HierarchicalAR(HierarchicalARConfig(shape=shape, levels=levels, codes=codes, **fields)).double()
    with torch.no_grad():  # peaked, non-trivial conditionals and codes
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.7)
    return model.eval()


def images(n, shape=(1, 4, 4), levels=2, seed=0):
    return torch.randint(levels, (n, *shape), generator=torch.Generator().manual_seed(seed)).to(torch.uint8)


def test_codes_are_discrete_and_reproduced_exactly(tmp_path):
    model = build(shape=(1, 8, 8), levels=5, codes=(7, 4))
    x = images(40, (1, 8, 8), 5)
    c1, c2 = model.codes(x)
    assert c1.shape == (40, 1, 4, 4) and c2.shape == (40, 1, 2, 2)
    for code, k in ((c1, 7), (c2, 4)):
        assert code.dtype == torch.int64 and int(code.min()) >= 0 and int(code.max()) < k
        assert len(code.unique()) > 1, "a code that takes one value holds nothing"
    again = model.train().codes(x)  # the same in training mode, twice
    assert all(torch.equal(a, b) for a, b in zip((c1, c2), again, strict=True))
    one_by_one = [model.codes(x[i : i + 1]) for i in range(len(x))]
    assert torch.equal(torch.cat([c[0] for c in one_by_one]), c1)  # independent of the batch
    save_model(model, tmp_path)
    loaded = load_model(tmp_path)
    assert all(torch.equal(a, b) for a, b in zip((c1, c2), loaded.codes(x), strict=True))
    assert torch.equal(loaded.encode(x), c2)


def test_auxiliary_decoders_learn_and_codes_stay_fixed_once_trained(tmp_path):
    """Through the engine on digits: phase 1 trains encoder 1 with its auxiliary decoder, phase 2 the
    second level; each auxiliary NLL falls, and the level-1 code is frozen after phase 1."""
    torch.manual_seed(0)
    config = HierarchicalARConfig(
        shape=(1, 8, 8), levels=17, codes=(8, 4), hidden=16, layers=1, channels=8, head=8, kernel=3, code_epochs=3
    )
    model = HierarchicalAR(config)
    x = load_split("digits", "val").x
    with torch.no_grad():
        before = [model.auxiliary_nll(x, level).mean().item() for level in (1, 2)]
    options = dict(batch_size=32, lr=3e-3, select="last", progress=False, samples=0, threads=1)
    run = untaught.train(model, "digits", epochs=3, out=tmp_path / "run", **options)
    with torch.no_grad():
        after_phase1 = run.model.auxiliary_nll(x, 1).mean().item()
        code1 = run.model.codes(x)[0]
    assert after_phase1 < before[0] - 10, f"level-1 reconstruction NLL {before[0]:.1f} -> {after_phase1:.1f} nats"
    resumed = untaught.resume(tmp_path / "run", epochs=6, progress=False)
    with torch.no_grad():
        after = resumed.model.auxiliary_nll(x, 2).mean().item()
    assert after < before[1] - 5, f"level-2 reconstruction NLL {before[1]:.1f} -> {after:.1f} nats"
    assert torch.equal(resumed.model.codes(x)[0], code1), "the level-1 code changed after its phase"
    assert resumed.model.auxiliary_nll(x, 1).mean().item() == pytest.approx(after_phase1, rel=1e-6)


class Conditioned:
    """A decoder with its code bound, seen by the Jacobian helper as an unconditional model."""

    def __init__(self, decoder, code):
        self.decoder, self.code = decoder, code

    def conditionals(self, h):
        return self.decoder.conditionals(h, (None, self.code.expand(len(h), *self.code.shape[1:])))

    def order(self):
        return self.decoder.order()


def test_autoregressive_parts_pass_the_dependency_audit():
    """The prior and every decoder (given a code) depend on every earlier and no later dimension."""
    model = build(shape=(1, 8, 8), levels=2, codes=(5, 3), layers=6, kernel=5)
    codes = model.codes(images(1, (1, 8, 8), 2))
    parts = [(model.prior, model.prior.config.shape)]
    parts += [(Conditioned(d, c), d.config.shape) for d, c in zip(model.decoders, codes, strict=True)]
    for part, shape in parts:
        jac = jacobian(part, shape)
        pos = generation_order(shape)
        before = pos[None, :] < pos[:, None]
        assert (jac[~before] == 0).all(), "a conditional depends on its own or a later dimension"
        assert (jac[before] > 0).all(), "a conditional ignores an earlier dimension"


def test_decoders_depend_on_their_code_and_normalise_for_every_code():
    model = build(shape=(1, 2, 2), codes=(3,), factor=2)
    decoder = model.decoders[0]
    space = torch.tensor(list(itertools.product(range(2), repeat=4)), dtype=torch.uint8).view(16, 1, 2, 2)
    totals = [torch.logsumexp(decoder.log_prob(space, torch.full((16, 1, 1, 1), k)), 0).item() for k in range(3)]
    assert totals == pytest.approx([0.0] * 3, abs=1e-9)
    a, b = (decoder.log_prob(space, torch.full((16, 1, 1, 1), k)) for k in (0, 1))
    assert not torch.allclose(a, b), "the code should change the conditional"
    with pytest.raises(ValueError, match="needs its code"):
        decoder.conditionals(space.double())
    with pytest.raises(ValueError, match=r"code must be integers of shape \(16, 1, 1, 1\) in \[0, 3\)"):
        decoder.log_prob(space, torch.full((16, 1, 1, 1), 3))


def test_cached_sampling_equals_naive_sampling():
    model = build(shape=(3, 4, 4), levels=4, codes=(5, 3))
    fast = model.sample(5, generator=torch.Generator().manual_seed(2), fast=True)
    naive = model.sample(5, generator=torch.Generator().manual_seed(2), fast=False)
    assert fast.dtype == torch.uint8 and fast.shape == (5, 3, 4, 4) and int(fast.max()) < 4
    assert torch.equal(fast, naive)
    assert not torch.equal(fast, model.sample(5, generator=torch.Generator().manual_seed(3)))


def test_log_prob_is_the_sum_of_the_parts_and_the_loss():
    model = build(shape=(1, 8, 8), levels=3, codes=(4, 3))
    x = images(6, (1, 8, 8), 3)
    c1, c2 = model.codes(x)
    expected = model.decoders[0].log_prob(x, c1) + model.decoders[1].log_prob(c1, c2) + model.prior.log_prob(c2)
    parts = model.parts(x)
    assert list(parts) == ["x|c1", "c1|c2", "c2"]
    assert torch.allclose(model.log_prob(x), expected, rtol=0, atol=1e-12)
    loss, metrics = model.loss(x)
    assert loss.item() == pytest.approx(-expected.mean().item(), abs=1e-10)
    assert metrics["bpd"].item() == pytest.approx(loss.item() / (64 * math.log(2)))


def test_the_bound_lies_below_the_exact_marginal():
    """log p(x) = logsumexp over every code pair of log p(x, c1, c2) >= log p(x, c(x)), the reported value."""
    model = build(shape=(1, 4, 4), codes=(2, 2))
    x = images(5)
    pairs = list(itertools.product(range(2), repeat=4 + 1))  # c1: 2x2, c2: 1x1
    c1 = torch.tensor([p[:4] for p in pairs]).view(-1, 1, 2, 2)
    c2 = torch.tensor([p[4:] for p in pairs]).view(-1, 1, 1, 1)
    for xi in x:
        joint = sum(model.log_joint(xi.expand(len(pairs), 1, 4, 4), [c1, c2]).values())
        bound = model.log_prob(xi[None])[0]
        assert bound <= torch.logsumexp(joint, 0)
        own = pairs.index(tuple(torch.cat([c.flatten() for c in model.codes(xi[None])]).tolist()))
        assert joint[own].item() == pytest.approx(bound.item(), abs=1e-12)  # the joint at the encoders' codes


def test_phases_train_only_their_parts():
    model = build(shape=(1, 8, 8), levels=2, codes=(3, 2), code_epochs=2).train()
    x = images(4, (1, 8, 8), 2)
    groups = {"encoders": model.encoders, "auxiliary": model.auxiliary, "decoders": model.decoders}
    expected = {  # epoch -> which parts receive gradients
        0: {"encoders.0", "auxiliary.0"},
        2: {"encoders.1", "auxiliary.1", "decoders.0"},
        4: {"decoders.0", "decoders.1", "prior"},
        9: {"decoders.0", "decoders.1", "prior"},
    }
    for epoch, parts in expected.items():
        model.zero_grad(set_to_none=True)
        loss, metrics = model.loss(x, epoch=epoch)
        loss.backward()
        modules = {f"{g}.{i}": m for g, mods in groups.items() for i, m in enumerate(mods)} | {"prior": model.prior}
        trained = {name for name, m in modules.items() if any(p.grad is not None for p in m.parameters())}
        assert trained == parts, f"epoch {epoch}"
        assert metrics["phase"].item() == min(epoch // 2, 2)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (dict(codes=()), "codes must be one K in"),
        (dict(codes=(4, 1)), "codes must be one K in"),
        (dict(codes=(4, 4, 4)), "factor must be an integer >= 2 whose power 3"),
        (dict(factor=1), "factor must be"),
        (dict(code_epochs=0), "code_epochs must be an integer >= 1"),
        (dict(levels=None), "levels must be an integer >= 2"),
        (dict(shape=(8, 8)), "shape must be"),
    ],
)
def test_bad_configs_are_named(fields, message):
    with pytest.raises(ValueError, match=message):
        HierarchicalARConfig(**{"shape": (1, 4, 4), "levels": 2, **fields})
