"""untaught: deep unsupervised learning on PyTorch."""
