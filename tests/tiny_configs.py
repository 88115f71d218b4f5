"""A tiny configuration of every registered model, for the registry-driven checks in test_protocol.py.

Each entry holds the model's config fields; ``shape`` and ``levels`` may be given to fix the data the
model is built for (default: binary 1x2x3 images, small enough to enumerate). A model registered
without an entry here fails tests/test_protocol.py.
"""

TINY = {
    "made": dict(hidden=(16, 16), num_masks=3, order_agnostic=True, ensemble=3),
    "fvbn": dict(),
    "nade": dict(hidden=8),
}
