"""The RBM as a scikit-learn estimator: the estimator checks, a Pipeline, and agreement with the torch model."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from untaught.models.boltzmann.estimator import RBMEstimator


@parametrize_with_checks([RBMEstimator(n_components=3, n_iter=2, batch_size=8, n_chains=10, random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def digits01():
    data = load_digits()
    return data.data / 16.0, data.target


def test_pipeline_features_classify_digits():
    x, y = digits01()
    pipe = Pipeline(
        [
            ("rbm", RBMEstimator(n_components=64, n_iter=10, batch_size=20, random_state=0)),
            ("clf", LogisticRegression(max_iter=1000, C=100)),
        ]
    )
    pipe.fit(x[:1200], y[:1200])
    assert pipe.score(x[1200:], y[1200:]) > 0.8  # (0.85 measured) RBM features carry the digit identity


def test_fit_is_reproducible_and_scores_are_normalised():
    x, _ = digits01()
    binary = (x[:400] > 0.5).astype(np.float64)
    a = RBMEstimator(n_components=8, n_iter=3, random_state=1).fit(binary)
    b = RBMEstimator(n_components=8, n_iter=3, random_state=1).fit(binary)
    np.testing.assert_array_equal(a.components_, b.components_)
    assert a.components_.shape == (8, 64) and a.n_iter_ == 3
    # 8 hidden units: log Z is exact, so the scores are log-probabilities (mean far above uniform)
    assert a.model_.log_prob_kind == "exact"
    assert a.score_samples(binary).mean() > -64 * np.log(2) + 5
    assert a.transform(binary).shape == (400, 8)
