"""How evaluation results read: a bound on log p is printed as an upper bound on the NLL."""

from __future__ import annotations

from untaught.evaluation import NLL, describe_metrics


def _metrics(kind: str) -> dict:
    return {"test_nll_nats": 80.0, "test_nll_stderr_nats": 0.5, "test_bpd": 1.8, "test_n": 360, "test_nll_kind": kind}


def test_bounds_are_printed_as_upper_bounds_on_the_nll():
    assert describe_metrics(_metrics("lower bound")) == [
        "test NLL: 80.0000 ± 0.5000 nats = 1.8000 bits/dim (upper bound on the NLL)"
    ]
    assert describe_metrics(_metrics("exact")) == ["test NLL: 80.0000 ± 0.5000 nats = 1.8000 bits/dim"]
    assert describe_metrics(_metrics("estimate"))[0].endswith("(estimate)")
    assert str(NLL(80.0, 1.8, 0.5, 360, "lower bound")).endswith("over 360 examples (upper bound on the NLL)")
