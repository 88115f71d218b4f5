"""Sparse coding estimators: scikit-learn's checks, a Pipeline, agreement with scikit-learn's coders."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import SparseCoder
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import estimator_checks_generator, parametrize_with_checks

from untaught.models.sparse_coding.estimator import DictionaryLearner, LassoCoder


@parametrize_with_checks([DictionaryLearner(n_components=3, alpha=0.1, batch_size=8, n_iter=2, random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# Checks whose data has another number of features than the 3 of the fixed dictionary below: no
# dictionary can code them, so they are expected to fail there (scikit-learn gives its own
# SparseCoder a dictionary per check the same way) and run with a matching dictionary instead.
FEATURES_OF_CHECK = {
    "check_estimators_dtypes": 5,
    "check_transformers_unfitted_stateless": 5,
    "check_dtype_object": 10,
    "check_fit2d_1feature": 1,
    "check_fit2d_1sample": 10,
    "check_positive_only_tag_during_fit": 4,
    "check_n_features_in_after_fitting": 4,
    **dict.fromkeys(
        [
            "check_estimators_overwrite_params",
            "check_estimators_fit_returns_self",
            "check_readonly_memmap_input",
            "check_fit_idempotent",
            "check_fit_check_is_fitted",
            "check_n_features_in",
        ],
        2,
    ),
}


def coder(features: int) -> LassoCoder:
    return LassoCoder(np.random.RandomState(0).normal(size=(5, features)), alpha=0.1)


@parametrize_with_checks(
    [coder(3)],
    expected_failed_checks=lambda est: {
        name: f"codes data of {n} features; the fixed dictionary has 3 (run in test_lasso_coder_checks_matching)"
        for name, n in FEATURES_OF_CHECK.items()
    },
)
def test_lasso_coder_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("name", sorted(FEATURES_OF_CHECK))
def test_lasso_coder_checks_matching(name):
    """The checks above that need another width pass with a dictionary of that width."""
    estimator = coder(FEATURES_OF_CHECK[name])
    checks = [c for _, c in estimator_checks_generator(estimator, mark=None) if c.func.__name__ == name]
    assert len(checks) == 1
    checks[0](estimator)


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
    ours = LassoCoder(d, alpha=0.3, tol=1e-12, transform_max_iter=100_000).fit(x).transform(x)
    ref = SparseCoder(dictionary=d, transform_algorithm="lasso_lars", transform_alpha=0.3).transform(x)
    np.testing.assert_allclose(ours, ref, atol=1e-6)
    with pytest.raises(ValueError, match="dictionary must have shape"):
        LassoCoder(d[:, :5]).fit(x)
