"""The SOM as a scikit-learn estimator: estimator checks, a Pipeline, agreement with the torch model."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from untaught.models.som.estimator import SOMEstimator


@parametrize_with_checks([SOMEstimator(n_rows=3, n_cols=3, n_iter=2, batch_size=16, random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_map_coordinates_feed_a_pipeline():
    data = load_digits()
    x, y = data.data / 16, data.target
    pipe = Pipeline(
        [("som", SOMEstimator(n_rows=12, n_cols=12, n_iter=10, random_state=0)), ("knn", KNeighborsClassifier(5))]
    )
    pipe.fit(x[:1200], y[:1200])
    assert pipe.score(x[1200:], y[1200:]) > 0.7  # 2-D map coordinates keep most of the class structure


def test_fit_is_reproducible_and_consistent_with_the_model():
    x = load_digits().data[:500] / 16
    a = SOMEstimator(n_rows=5, n_cols=6, n_iter=3, random_state=2, mode="online").fit(x)
    b = SOMEstimator(n_rows=5, n_cols=6, n_iter=3, random_state=2, mode="online").fit(x)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert a.cluster_centers_.shape == (30, 64)
    u = a.predict(x)
    np.testing.assert_array_equal(a.transform(x), np.stack([u // 6, u % 6], 1))
    nearest = ((x[:, None] - a.cluster_centers_[None]) ** 2).sum(-1).argmin(1)
    np.testing.assert_array_equal(u, nearest)
    assert a.score(x) == pytest.approx(-np.linalg.norm(x - a.cluster_centers_[u], axis=1).mean())
    assert 0 <= a.topographic_error(x) < 0.3
