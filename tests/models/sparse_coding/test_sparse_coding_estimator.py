"""Sparse coding estimators: scikit-learn's checks, a Pipeline, agreement with scikit-learn's coders."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import SparseCoder
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from untaught.models.sparse_coding.estimator import DictionaryLearner, LassoCoder


@parametrize_with_checks([DictionaryLearner(n_components=3, alpha=0.1, batch_size=8, n_iter=2, random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_pipeline_codes_classify_digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    x, y = data.data / 16.0, data.target
    pipe = Pipeline(
        [
            ("code", DictionaryLearner(n_components=64, alpha=0.1, batch_size=64, n_iter=3, random_state=0)),
            ("clf", LogisticRegression(max_iter=2000)),
        ]
    )
    pipe.fit(x[:1200], y[:1200])
    assert pipe.score(x[1200:], y[1200:]) > 0.85
    dl = pipe.named_steps["code"]
    np.testing.assert_allclose(np.linalg.norm(dl.components_, axis=1), 1.0, atol=1e-10)
    recon = dl.inverse_transform(dl.transform(x[:50]))
    assert np.mean((recon - x[:50]) ** 2) < np.mean(x[:50] ** 2)


def test_lasso_coder_agrees_with_scikit_learn_sparse_coder():
    rng = np.random.RandomState(0)
    d = rng.randn(12, 8)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    x = rng.randn(30, 8)
    ours = LassoCoder(d, alpha=0.3, tol=1e-12, max_iter=100_000).fit(x).transform(x)
    ref = SparseCoder(dictionary=d, transform_algorithm="lasso_lars", transform_alpha=0.3).transform(x)
    np.testing.assert_allclose(ours, ref, atol=1e-6)
    with pytest.raises(ValueError, match="dictionary must have shape"):
        LassoCoder(d[:, :5]).fit(x)
