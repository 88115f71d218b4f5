"""Replicated softmax: normalisation over every document of a length, log Z against brute force, AIS
against exact, CD statistics against the likelihood gradient, training on a real corpus with topics."""

from __future__ import annotations

import io
import itertools
import math
import tarfile

import pytest
import torch

import untaught
import untaught.data
from untaught.cli import main
from untaught.data.text import newsgroups_splits, read_newsgroups_archive, vocabulary
from untaught.models.boltzmann.replicated import (
    ReplicatedSoftmax,
    ReplicatedSoftmaxConfig,
    ais_rsm_log_partition,
    draw_counts,
)


def rsm(words: int = 3, h: int = 2, std: float = 0.8, seed: int = 0, **kw) -> ReplicatedSoftmax:
    torch.manual_seed(seed)
    model = ReplicatedSoftmax(ReplicatedSoftmaxConfig(shape=(words,), hidden=h, init_std=std, **kw)).double()
    with torch.no_grad():
        model.visible_bias.normal_(0, 0.5)
        model.hidden_bias.normal_(0, 0.5)
    return model


def documents(k: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every count vector of n words over k words, and its number of word orders (multinomial coefficient)."""
    counts = torch.tensor([c for c in itertools.product(range(n + 1), repeat=k) if sum(c) == n], dtype=torch.float64)
    orders = torch.tensor([math.factorial(n) / math.prod(math.factorial(int(c)) for c in row) for row in counts])
    return counts, orders.double()


@pytest.mark.parametrize("n", [1, 4, 7])
def test_word_sequences_of_each_length_are_normalised(n):
    model = rsm()
    counts, orders = documents(3, n)
    total = float((model.log_prob(counts).exp() * orders).sum())
    assert total == pytest.approx(1.0, abs=1e-10)


def test_exact_log_z_is_the_brute_force_sum_over_sequences_and_hidden_states():
    model = rsm(words=3, h=2)
    counts, orders = documents(3, 3)
    hs = torch.tensor(list(itertools.product((0.0, 1.0), repeat=2)), dtype=torch.float64)
    terms = [
        math.log(orders[i]) - float(model.energy(counts[i : i + 1], hs[j : j + 1]))
        for i in range(len(counts))
        for j in range(4)
    ]
    brute = float(torch.logsumexp(torch.tensor(terms, dtype=torch.float64), 0))
    assert model.log_partition("exact", length=3).log_z == pytest.approx(brute, abs=1e-10)


def test_ais_is_within_its_spread_of_the_exact_log_z_for_every_length():
    model = rsm(words=20, h=8, std=0.5, seed=1)
    exact = model.log_partitions([3, 15, 40], "exact")
    est = ais_rsm_log_partition(
        model.weight, model.visible_bias, model.hidden_bias, [3, 15, 40], chains=100, betas=300,
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    for n in (3, 15, 40):
        assert est[n].low <= exact[n].log_z <= est[n].high, (n, str(est[n]), exact[n].log_z)


def test_cd_statistics_with_long_chains_follow_the_likelihood_gradient():
    """Autograd of the exact log-likelihood of documents equals the data statistics minus the model's,
    estimated by many long Gibbs chains that keep each document's length (CD-30)."""
    model = rsm(words=4, h=2, k=30)
    data = torch.tensor([[2, 0, 1, 0], [0, 3, 0, 1], [1, 1, 1, 1]], dtype=torch.float64)
    hs = torch.tensor(list(itertools.product((0.0, 1.0), repeat=2)), dtype=torch.float64)
    lengths = data.sum(1)
    per_state = hs @ model.hidden_bias + torch.logsumexp(hs @ model.weight.T + model.visible_bias, 1)
    log_z = torch.logsumexp(lengths[:, None] * per_state[None, :], 1)
    (-model.free_energy(data) - log_z).mean().backward()
    reps = 3000
    stats = model.statistics(data.repeat(reps, 1), torch.Generator().manual_seed(0)).grads
    for name in ("weight", "visible_bias", "hidden_bias"):
        grad = getattr(model, name).grad
        torch.testing.assert_close(stats[name].detach(), grad, rtol=0, atol=0.06, msg=name)


def test_draw_counts_keeps_lengths_and_follows_the_probabilities():
    probs = torch.tensor([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]], dtype=torch.float64).repeat(2000, 1)
    lengths = torch.tensor([5, 0]).repeat(2000)
    v = draw_counts(probs, lengths, torch.Generator().manual_seed(0))
    assert torch.equal(v.sum(1), lengths.double())
    torch.testing.assert_close(v[0::2].mean(0) / 5, probs[0], rtol=0, atol=0.01)


def test_bad_data_are_named():
    with pytest.raises(ValueError, match="x must hold word counts: non-negative integers"):
        rsm().log_prob(torch.tensor([[0.5, 1.0, 0.0]], dtype=torch.float64))
    with pytest.raises(ValueError, match="persistent must be False"):
        ReplicatedSoftmaxConfig(persistent=True)


def test_learns_topics_of_the_python_docs_through_the_engine(tmp_path, capsys):
    torch.manual_seed(0)
    model = ReplicatedSoftmax(ReplicatedSoftmaxConfig(shape=(500,), hidden=12))
    run = untaught.train(model, "python-docs", out=tmp_path / "run", epochs=40, batch_size=20,
                         progress=False, threads=1, samples=0, select="last")  # fmt: skip
    train = untaught.data.load_split("python-docs", "train").x.double()
    test = untaught.data.load_split("python-docs", "test").x.double()
    unigram = (train.sum(0) + 1) / (train.sum() + train.shape[1])  # add-one smoothed word frequencies
    unigram_nll = float(-(test * unigram.log()).sum(1).mean())
    assert run.metrics["test_nll_kind"] == "exact"
    assert run.metrics["test_nll_nats"] < unigram_nll - 1.0  # the topics beat word frequencies (2.4 nats here)
    topics = run.model.topics(vocabulary("python-docs"), words=5)
    assert len(topics) == 12 and all(len(t) == 5 and len(set(t)) == 5 for t in topics)
    assert main(["topics", str(run.path), "--words", "5"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 12 and printed[0] == "topic   0: " + " ".join(topics[0])


def fake_newsgroups(path) -> None:
    posts = {
        "20news-bydate-train/sci.space/1": "From: a\nSubject: b\n\norbit rocket launch orbit nasa rocket",
        "20news-bydate-train/sci.space/2": "From: a\n\nrocket orbit shuttle launch launch nasa",
        "20news-bydate-train/rec.autos/1": "From: c\n\nengine car wheels car engine dealer",
        "20news-bydate-train/rec.autos/2": "From: c\n\ncar dealer engine wheels tires car",
        "20news-bydate-test/rec.autos/3": "Subject: d\n\ncar engine tires car wheels dealer",
        "20news-bydate-test/sci.space/4": "X: e\n\nnasa orbit rocket shuttle orbit launch",
    }
    with tarfile.open(path, "w:gz") as tar:
        for name, text in posts.items():
            data = text.encode("latin-1")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_newsgroups_archive_is_read_without_headers(tmp_path):
    fake_newsgroups(tmp_path / "news.tar.gz")
    posts = read_newsgroups_archive(tmp_path / "news.tar.gz")
    texts, labels, groups = posts["train"]
    assert groups == ["rec.autos", "sci.space"] and labels == [0, 0, 1, 1]
    assert all("From" not in t and "Subject" not in t for t in texts)
    words, splits = newsgroups_splits(tmp_path / "news.tar.gz")
    assert "rocket" in words and "from" not in words
    assert splits["test"].x.shape == (2, len(words)) and splits["test"].y.tolist() == [0, 1]
    assert splits["train"].x.sum() + splits["val"].x.sum() == 24 and len(splits["val"]) == 0  # 4 posts: no validation
