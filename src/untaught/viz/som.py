"""Pictures of self-organising maps: values on the grid (U-matrix, hit map, component planes) as
coloured squares or hexagons, and the prototypes of image data as an image grid."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch

# viridis at 0, 0.25, 0.5, 0.75, 1 (RGB), interpolated linearly
_VIRIDIS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype=np.float64)


def colormap(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (any shape) -> uint8 RGB [..., 3] on a viridis-like scale."""
    t = np.clip(np.nan_to_num(values, nan=0.0), 0, 1) * (len(_VIRIDIS) - 1)
    low = np.minimum(t.astype(int), len(_VIRIDIS) - 2)
    frac = (t - low)[..., None]
    return np.round(_VIRIDIS[low] * (1 - frac) + _VIRIDIS[low + 1] * frac).astype(np.uint8)


def grid_image(values: torch.Tensor, topology: str = "rectangular", *, cell: int = 16, label: bool = False):
    """A PIL image of ``values`` [rows, cols] drawn on the map's grid, scaled to its own min..max.

    Rectangular grids become squares of ``cell`` pixels; hexagonal ones hexagons (odd rows shifted by
    half a cell). ``label`` writes each value in its cell (small maps, e.g. hit counts).
    """
    from PIL import Image, ImageDraw

    if values.dim() != 2:
        raise ValueError(f"values must be [rows, cols]; got {tuple(values.shape)}")
    v = values.detach().double().cpu().numpy()
    low, high = np.nanmin(v), np.nanmax(v)
    colours = colormap((v - low) / (high - low) if high > low else np.zeros_like(v))
    rows, cols = v.shape
    if topology == "rectangular":
        img = Image.fromarray(np.kron(colours, np.ones((cell, cell, 1), dtype=np.uint8)), "RGB")
        centres = [((c + 0.5) * cell, (r + 0.5) * cell) for r in range(rows) for c in range(cols)]
    elif topology == "hexagonal":
        radius = cell / math.sqrt(3)  # a flat-to-flat width of ``cell``
        dy = 1.5 * radius
        width, height = math.ceil((cols + 0.5) * cell) + 1, math.ceil((rows - 1) * dy + 2 * radius) + 1
        img = Image.new("RGB", (width, height), (255, 255, 255))
        draw = ImageDraw.Draw(img)
        centres = []
        for r in range(rows):
            for c in range(cols):
                cx, cy = (c + 0.5 + 0.5 * (r % 2)) * cell, radius + r * dy
                corners = [
                    (
                        cx + radius * math.cos(math.radians(60 * k + 30)),
                        cy + radius * math.sin(math.radians(60 * k + 30)),
                    )
                    for k in range(6)
                ]
                draw.polygon(corners, fill=tuple(int(t) for t in colours[r, c]))
                centres.append((cx, cy))
    else:
        raise ValueError(f"topology must be 'rectangular' or 'hexagonal'; got {topology!r}")
    if label:
        draw = ImageDraw.Draw(img)
        for (cx, cy), value in zip(centres, v.reshape(-1), strict=True):
            text = f"{value:.0f}" if float(value).is_integer() else f"{value:.2g}"
            draw.text((cx, cy), text, fill=(255, 255, 255), anchor="mm")
    return img


def planes_image(planes: torch.Tensor, topology: str = "rectangular", *, cell: int = 6, ncol: int | None = None):
    """Several maps [N, rows, cols] (e.g. component planes) side by side, each on its own scale."""
    from PIL import Image

    images = [grid_image(p, topology, cell=cell) for p in planes]
    ncol = ncol or max(1, math.ceil(math.sqrt(len(images))))
    w, h = images[0].size
    canvas = Image.new("RGB", (ncol * (w + 2) + 2, math.ceil(len(images) / ncol) * (h + 2) + 2), (128, 128, 128))
    for i, im in enumerate(images):
        r, c = divmod(i, ncol)
        canvas.paste(im, (2 + c * (w + 2), 2 + r * (h + 2)))
    return canvas


def save_image(image, path: str | Path) -> Path:
    """Write a PIL image as PNG at ``path`` (atomically)."""
    from ..io import atomic_write_bytes

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return atomic_write_bytes(path, buffer.getvalue())


def save_som_pictures(model, x: torch.Tensor, folder: str | Path, *, planes: int = 16) -> list[Path]:
    """Write u_matrix.png, hits.png, components.png and (image data) prototypes.png for a SOM.

    x: data [N, *shape] for the hit map; ``planes``: component planes drawn, evenly spaced over the
    components (all when there are fewer).
    """
    from .grid import image_grid

    folder = Path(folder)
    c = model.config
    small = c.rows * c.cols <= 400
    hits = grid_image(model.hit_map(x), c.topology, cell=24 if small else 16, label=small)
    paths = [
        save_image(grid_image(model.u_matrix(), c.topology), folder / "u_matrix.png"),
        save_image(hits, folder / "hits.png"),
    ]
    comp = model.component_planes()
    pick = torch.linspace(0, c.dims - 1, min(planes, c.dims)).round().long()
    paths.append(save_image(planes_image(comp[pick], c.topology), folder / "components.png"))
    if c.levels is not None and len(c.shape) == 3 and c.shape[0] in (1, 3):
        protos = model.prototypes().clamp(0, 1).cpu()
        from PIL import Image

        grid = image_grid((protos * 255).round().to(torch.uint8), 256, nrow=c.cols, min_tile=16)
        paths.append(save_image(Image.fromarray(grid), folder / "prototypes.png"))
    return paths
