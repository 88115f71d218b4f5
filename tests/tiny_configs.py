"""A tiny configuration of every registered model, for the registry-driven checks."""

# A tiny configuration of every registered model, on an enumerable space, for the protocol checks.
# A model registered without an entry here fails tests/test_protocol.py.
TINY = {
    "made": dict(hidden=(16, 16), num_masks=3, order_agnostic=True, ensemble=3),
}
