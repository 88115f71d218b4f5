"""Self-organising maps: grids, neighbourhoods and decays, the SOM model, its scikit-learn estimator."""

from .grid import decay, grid_adjacency, grid_positions, neighbourhood
from .som import SOM, SOMConfig, decay_steps_for

__all__ = ["SOM", "SOMConfig", "decay", "decay_steps_for", "grid_adjacency", "grid_positions", "neighbourhood"]
