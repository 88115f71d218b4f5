"""A tiny configuration of every registered model, for the registry-driven checks in test_protocol.py.

Each entry holds the model's config fields; ``shape`` and ``levels`` may be given to fix the data the
model is built for (default: binary 1x2x3 images, small enough to enumerate). A model registered
without an entry here fails tests/test_protocol.py.
"""

TINY = {
    "made": dict(hidden=(16, 16), num_masks=3, order_agnostic=True, ensemble=3),
    "pixelrnn": dict(layers=2, hidden=4, head=4),
    "pixelsnail": dict(blocks=1, residuals=1, channels=4, key=2, value=2, head=4, kernel=3),
    "wavenet": dict(layers=3, cycle=2, channels=4, shape=(1, 1, 6), levels=3),
    "pixel-transformer": dict(layers=1, dim=8, heads=2),
    "cdf-flow": dict(shape=(2,), levels=None, components=3),
    "nice": dict(shape=(1, 2, 2), levels=4, couplings=2, hidden=(8,)),
    "realnvp": dict(shape=(1, 4, 4), levels=4, couplings=1, scales=2, hidden=4, blocks=1),
    "glow": dict(shape=(1, 4, 4), levels=4, scales=2, steps=1, hidden=4),
    "maf": dict(shape=(3,), levels=None, layers=2, hidden=(8,)),
    "iaf": dict(shape=(3,), levels=None, layers=2, hidden=(8,)),
    "ffjord": dict(shape=(2,), levels=None, hidden=(8,), rtol=1e-7, atol=1e-7),
    "gated-pixelcnn": dict(layers=2, channels=4, head=4, kernel=3),
    "pixelcnn": dict(blocks=2, channels=4, head=4, kernel=3),
    "ae": dict(hidden=(5,), code=2),
    "conv-ae": dict(channels=(3, 4), code=2, shape=(1, 5, 6), levels=4),
    "dae": dict(hidden=(5,), code=3, corruption="salt-pepper", noise=0.3),
    "cae": dict(code=4),
    "sparse-ae": dict(code=4),
    "stacked-ae": dict(hidden=(4, 3), classes=3, pretrain_epochs=1),
    "rbm-deep-ae": dict(hidden=(4, 3), levels=4),
    "context-encoder": dict(shape=(3, 8, 8), levels=4, hole=4, channels=(2, 3), disc_channels=(2,)),
    "fvbn": dict(),
    "nade": dict(hidden=8),
    "rbm": dict(hidden=4, chains=8, init_std=0.5, sample_steps=20),
    "sparse-coding": dict(shape=(1, 2, 3), levels=None, atoms=8, lam=0.1),
    "psd": dict(shape=(1, 2, 3), levels=None, atoms=8, lam=0.1),
    "som": dict(rows=3, cols=4, shape=(1, 2, 3), levels=4),
    "grbm": dict(shape=(3,), levels=None, hidden=3, chains=8, sample_steps=20),
    "rsm": dict(shape=(6,), levels=None, hidden=3, sample_steps=5, sample_words=4),
    "dbm": dict(hidden=(3, 2), chains=4, sample_steps=5, pretrain_epochs=0),
    "full-bm": dict(hidden=3, chains=4, init_std=0.5, sample_steps=5),
    "pixel-histogram": dict(alpha=1.0),
    "histogram": dict(shape=(2,), levels=None, max_bins=8),
    "gaussian": dict(shape=(3,), levels=None),
    "gmm": dict(shape=(2,), levels=None, components=3),
    "vae": dict(latent=2, hidden=(8,), iwae_k=3),
    "iwae": dict(latent=2, hidden=(8,), k=3, iwae_k=4),
    "conv-vae": dict(shape=(1, 4, 4), levels=5, latent=2, channels=(3,), likelihood="logistic", iwae_k=2),
    "draw": dict(steps=2, encoder=4, decoder=4, latent=2, read=2, write=2, iwae_k=2),
}
