"""Random draws that are the same on every device.

The numbers are drawn where the generator lives (a seeded CPU generator drives GPU models too) and
then moved to the device that uses them, so one seed gives the same draws on CPU and GPU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch


def draw(
    sampler: Callable[..., torch.Tensor],
    *args: Any,
    generator: torch.Generator | None,
    device: torch.device | str,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """``sampler(*args)`` (``torch.rand``, ``torch.randn``, ``torch.randint``, ...) with ``generator``,
    made on the generator's device (on ``device`` without one) and moved to ``device``."""
    where = generator.device if generator is not None else device
    return sampler(*args, generator=generator, dtype=dtype, device=where).to(device)
