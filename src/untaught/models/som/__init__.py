"""Self-organising maps: grids, neighbourhoods and decays, the SOM model, its scikit-learn estimator."""

from .grid import decay, grid_adjacency, grid_positions, neighbourhood
from .som import SOM, SOMConfig

__all__ = ["SOM", "SOMConfig", "decay", "grid_adjacency", "grid_positions", "neighbourhood"]
