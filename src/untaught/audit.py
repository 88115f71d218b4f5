"""Autoregressive dependency audit and mask pictures: ``untaught audit`` and ``untaught masks``.

The audit reads a model's dependency structure from Jacobians, not from its code: for output pixel
(i, j), the gradient of the parameters of its conditional (all its channels, projected on random
directions, at a few random inputs) with respect to every input pixel. An input pixel is *used*
when some gradient is non-zero. In a correct autoregressive model no output uses its own or a later
pixel (a *leak*); an earlier pixel that is never used is a *blind spot* (PixelCNN has one up and to
the right of every pixel; Gated PixelCNN has none).

Any model with ``conditionals(h)`` (float [B, *shape] in [0, 1] -> [B, *shape, P]) and ``order()``
can be audited: every autoregressive model of untaught, MADE included. Batches of independent
copies give the gradients of many output pixels in one backward pass (the models treat examples
independently).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from .models.base import Model


@dataclass(frozen=True)
class Audit:
    """Pixel-level dependencies of an image model.

    ``used``: bool [H*W, H*W], ``used[p, q]``: the conditional of pixel p depends on pixel q.
    ``before``: bool [H*W, H*W], q is generated before p (pixels ordered by their first channel).
    """

    used: torch.Tensor
    before: torch.Tensor
    height: int
    width: int

    @property
    def leaks(self) -> int:
        """(output, input) pixel pairs where an output uses its own or a later pixel."""
        return int((self.used & ~self.before).sum())

    @property
    def unseen(self) -> torch.Tensor:
        """[H, W]: earlier pixels each output pixel does not use (its blind spot)."""
        return (self.before & ~self.used).sum(1).view(self.height, self.width)

    def summary(self, pixel: tuple[int, int]) -> str:
        p = pixel[0] * self.width + pixel[1]
        earlier = int(self.before[p].sum())
        seen = int((self.before[p] & self.used[p]).sum())
        blind = self.unseen
        return (
            f"pixel {pixel}: uses {seen} of its {earlier} earlier pixels ({earlier - seen} unseen: blind spot or "
            "beyond the receptive field); "
            f"all pixels: {int(blind.sum())} (output, earlier input) pairs unseen, "
            f"{int((blind > 0).sum())} of {blind.numel()} outputs with a blind spot; "
            f"{self.leaks} leaks (outputs using their own or later pixels)"
        )


def _image_shape(model: Model) -> tuple[int, int, int]:
    shape = tuple(model.config.shape)
    if len(shape) != 3:
        raise ValueError(f"the audit pictures image models [C, H, W]; {model.name} has shape {shape}")
    if not hasattr(model, "conditionals") or not hasattr(model, "order"):
        raise TypeError(f"{model.name} has no conditionals()/order(): it is not an autoregressive model")
    return shape  # type: ignore[return-value]


def audit(model: Model, *, inputs: int = 2, directions: int = 2, chunk: int = 64, seed: int = 0) -> Audit:
    """Dependencies of every output pixel on every input pixel, from gradients (see module doc).

    ``inputs`` random inputs times ``directions`` random projections of the parameters; ``chunk``
    output pixels per backward pass.
    """
    c, h, w = _image_shape(model)
    hw = h * w
    gen = torch.Generator().manual_seed(seed)
    dtype = next(model.parameters()).dtype
    device = next(model.parameters()).device
    used = torch.zeros(hw, hw, dtype=torch.bool)
    was_training = model.training
    model.eval()
    try:
        for _ in range(inputs):
            x = torch.rand(1, c, h, w, generator=gen, dtype=dtype).to(device)
            for _ in range(directions):
                for start in range(0, hw, chunk):
                    targets = torch.arange(start, min(start + chunk, hw))
                    hx = x.expand(len(targets), c, h, w).clone().requires_grad_(True)
                    params = model.conditionals(hx).permute(0, 2, 3, 1, 4).reshape(len(targets), hw, -1)
                    at = params[torch.arange(len(targets)), targets]  # [n, C * P]: each copy's target pixel
                    r = torch.randn(at.shape[-1], generator=gen, dtype=dtype).to(device)  # a random direction
                    (grad,) = torch.autograd.grad((at * r).sum(), hx)
                    used[targets] |= (grad.abs().sum(1).flatten(1) > 0).cpu()
    finally:
        model.train(was_training)
    first = model.order().view(c, h, w).min(0).values.flatten()  # each pixel's first position
    before = first[None, :] < first[:, None]
    return Audit(used, before, h, w)


# -- pictures ---------------------------------------------------------------------------------------
COLOURS = {
    "target": (40, 90, 255),
    "used": (60, 190, 80),
    "blind": (235, 50, 50),
    "leak": (255, 210, 0),
    "later": (45, 45, 45),
}


def field_picture(result: Audit, pixel: tuple[int, int]) -> torch.Tensor:
    """uint8 [H, W, 3]: target blue, earlier and used green, earlier and unused (blind) red,
    later and used (a leak) yellow, later and unused dark grey."""
    p = pixel[0] * result.width + pixel[1]
    used, before = result.used[p], result.before[p]
    out = torch.empty(result.height * result.width, 3, dtype=torch.uint8)
    for name, where in (
        ("later", ~before & ~used),
        ("leak", ~before & used),
        ("used", before & used),
        ("blind", before & ~used),
    ):
        out[where] = torch.tensor(COLOURS[name], dtype=torch.uint8)
    out[p] = torch.tensor(COLOURS["target"], dtype=torch.uint8)
    return out.view(result.height, result.width, 3)


def heat_picture(values: torch.Tensor) -> torch.Tensor:
    """uint8 [H, W, 3] from non-negative values [H, W]: black (0) to red (max)."""
    v = values.double()
    unit = v / v.max().clamp_min(1)
    return torch.stack([unit * 255, unit * 60, unit * 40], -1).round().to(torch.uint8)


def save_panels(panels: list[tuple[str, torch.Tensor]], path: str | Path, size: int = 224) -> Path:
    """Pictures (uint8 [h, w, 3] or [h, w]) side by side, each scaled to ``size`` pixels, with titles."""
    from PIL import Image, ImageDraw

    from .io import atomic_write_bytes

    tiles = []
    for title, pic in panels:
        arr = pic.numpy() if pic.dim() == 3 else pic[..., None].expand(*pic.shape, 3).contiguous().numpy()
        h, w = arr.shape[:2]
        scale = size // max(h, w)
        shape = (w * scale, h * scale) if scale >= 1 else (size, size)  # large matrices fill a square
        tiles.append((title, Image.fromarray(arr).resize(shape, Image.NEAREST)))
    slot = max(size, *(t.width for _, t in tiles))
    width = (slot + 20) * len(tiles) + 10
    height = max(t.height for _, t in tiles) + 45
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for k, (title, img) in enumerate(tiles):
        x = 10 + k * (slot + 20)
        canvas.paste(img, (x, 32))
        draw.rectangle((x - 1, 31, x + img.width, 32 + img.height), outline=(128, 128, 128))  # frame
        draw.text((x, 10), title, fill=(0, 0, 0))
    import io

    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return atomic_write_bytes(path, buffer.getvalue())


def mask_panels(model: Model) -> list[tuple[str, torch.Tensor]]:
    """Pictures of a model's masks: MADE's layer masks and their product (which inputs reach which
    outputs); every masked convolution's spatial mask (open share of its (out, in) pairs per tap)."""
    from .models.autoregressive.made import MADE
    from .nn.causal_conv import MaskedConv2d

    panels: list[tuple[str, torch.Tensor]] = []
    if isinstance(model, MADE):
        masks = model.masks(0, torch.device("cpu"), torch.float32)
        names = [f"hidden {i + 1} [out x in]" for i in range(len(model.hidden))] + ["output", "direct"]
        for name, mask in zip(names, masks, strict=False):
            if name == "direct" and model.direct is None:
                continue
            panels.append((name, (mask * 255).to(torch.uint8)))
        reach = masks[0]
        for mask in masks[1:-2]:
            reach = (mask @ reach).clamp(max=1)
        reach = (masks[-2] @ reach).clamp(max=1)
        if model.direct is not None:
            reach = (reach + masks[-1]).clamp(max=1)
        panels.append(("output <- input reach", (reach * 255).to(torch.uint8)))
        return panels
    seen = set()
    for name, module in model.named_modules():
        if isinstance(module, MaskedConv2d) and module.mask is not None and module.kernel != (1, 1):
            share = module.mask.float().mean((0, 1))  # [kh, kw]
            key = (tuple(share.shape), tuple(share.flatten().tolist()))
            if key in seen:
                continue
            seen.add(key)
            panels.append((f"{name} {module.kernel[0]}x{module.kernel[1]}", (share * 255).round().to(torch.uint8)))
    if not panels:
        raise ValueError(f"{model.name} has no masks to picture")
    return panels


# -- command line -----------------------------------------------------------------------------------
def _load(target: str, shape: str | None, levels: int | None, settings: list[str]) -> Model:
    from .models.base import config_from_dict
    from .registry import get_model_class, model_names

    if Path(target).exists():
        from .io import load_model

        if shape or levels or settings:
            raise ValueError("--shape, --levels and --set build a model from its name; a run folder has its own")
        return load_model(target)
    if target not in model_names():
        raise ValueError(f"{target!r} is neither a run folder nor a registered model ({', '.join(model_names())})")
    cls = get_model_class(target)
    fields: dict = {}
    for item in settings:
        key, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects FIELD=VALUE (e.g. layer=diagonal); got {item!r}")
        try:
            fields[key] = json.loads(text)
        except json.JSONDecodeError:
            fields[key] = text  # a bare word: a string option
    if shape:
        fields["shape"] = tuple(int(v) for v in shape.split(","))
    if levels:
        fields["levels"] = levels
    torch.manual_seed(0)
    return cls(config_from_dict(cls.Config, fields)).eval()


def cmd_audit(args: argparse.Namespace) -> int:
    model = _load(args.target, args.shape, args.levels, args.set)
    torch.set_num_threads(args.threads or torch.get_num_threads())
    result = audit(model, seed=args.seed)
    if args.pixel:
        pixel = tuple(int(v) for v in args.pixel.split(","))
        if len(pixel) != 2 or not (0 <= pixel[0] < result.height and 0 <= pixel[1] < result.width):
            raise ValueError(f"--pixel must be I,J inside {result.height}x{result.width}; got {args.pixel!r}")
    else:
        pixel = (result.height // 2, result.width // 2)
    out = Path(args.output or f"audit-{model.name}.png")
    panels = [
        (f"{model.name}: field of {pixel}", field_picture(result, pixel)),
        ("unseen earlier pixels per output", heat_picture(result.unseen)),
    ]
    save_panels(panels, out)
    print(result.summary(pixel))
    print(
        "colours: blue = the output pixel, green = earlier and used, red = earlier and unseen (blind spot), "
        "yellow = later and used (leak), grey = later"
    )
    print(f"wrote {out}")
    return 0


def cmd_masks(args: argparse.Namespace) -> int:
    model = _load(args.target, args.shape, args.levels, args.set)
    out = Path(args.output or f"masks-{model.name}.png")
    save_panels(mask_panels(model), out)
    print(f"wrote {out} (white: open, black: masked)")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    for name, func, text in (
        ("audit", cmd_audit, "autoregressive dependency audit from Jacobians, as a picture"),
        ("masks", cmd_masks, "pictures of a model's masks (MADE layers, masked convolutions)"),
    ):
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("target", metavar="RUN_OR_MODEL", help="a run folder or a registered model name")
        p.add_argument("--shape", help="C,H,W for a model built from its name (default: its config's)")
        p.add_argument("--levels", type=int, help="levels for a model built from its name")
        p.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="FIELD=VALUE",
            help="a config field of a model built from its name (JSON value or a word), e.g. --set layer=diagonal",
        )
        p.add_argument("-o", "--output", help=f"PNG path (default {name}-MODEL.png)")
        if name == "audit":
            p.add_argument("--pixel", help="I,J: the output pixel pictured (default: the centre)")
            p.add_argument("--seed", type=int, default=0)
            p.add_argument("--threads", type=int)
        p.set_defaults(func=func)
