"""Built-in augmentations of D's inputs (``--augment``): DiffAugment and ADA.

* ``diffaugment`` (Zhao et al. 2020, Differentiable Augmentation for Data-Efficient GAN
  Training): the same differentiable transforms on real and fake images, in D's and in G's
  steps. ``policy`` is a comma list of ``color`` (brightness + U(-0.5, 0.5); saturation: the
  deviation from the per-pixel channel mean times U(0, 2); contrast: the deviation from the
  image mean times U(0.5, 1.5)), ``translation`` (an integer shift of up to 1/8 of the side in
  each direction, zero filled) and ``cutout`` (a square of half the side, zeroed, centred
  anywhere in the image). Every draw is per sample.
* ``ada`` (Karras et al. 2020, Training Generative Adversarial Networks with Limited Data):
  each sample is transformed with probability ``p`` (x-flip, a quarter turn, an integer
  translation of up to 1/8, brightness and contrast: a subset of the paper's "bgc" pipeline);
  ``p`` starts at 0 and, every ``interval`` D steps, moves by
  ``sign(r_t - target) * batch * interval / (ada_kimg * 1000)`` where
  ``r_t = E[sign(D(x_real))]`` over those steps (the overfitting heuristic; target 0.6 and
  500 kimg as in the paper). ``p`` and ``r_t`` are logged (``ada_p``, ``ada_rt``) and saved in
  checkpoints.

Both need image data (``(C, H, W)``); on points the run stops with one line. Registered by
``ganbench_plugins.losses`` (the built-ins' entry point for the training-step surface).
"""

from __future__ import annotations

from ganbench.api.specs import AugmentSpec

POLICIES = ("color", "translation", "cutout")


def _images(data_spec, name: str) -> None:
    from ganbench.api.errors import UsageError

    if data_spec is not None and getattr(data_spec, "kind", "images") != "images":
        raise UsageError(f"augmentation '{name}' transforms images; this data is "
                         f"{data_spec.kind} {tuple(data_spec.shape)}")


def _per_sample(x, rng, low: float = 0.0, high: float = 1.0):
    import torch

    u = torch.rand((x.shape[0],) + (1,) * (x.dim() - 1), device=x.device, dtype=x.dtype,
                   generator=rng)
    return low + (high - low) * u


# ---------------------------------------------------------------- deterministic transforms

def translate(x, dx, dy):
    """``x`` (N, C, H, W) shifted by integer ``dx`` (along W) and ``dy`` (along H) per sample
    (tensors of N integers), zero filled: ``out[n, :, h, w] = x[n, :, h - dy, w - dx]``."""
    import torch

    n, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))  # zeros outside the image
    rows = (torch.arange(h, device=x.device).unsqueeze(0) - dy.view(-1, 1) + 1).clamp(0, h + 1)
    cols = (torch.arange(w, device=x.device).unsqueeze(0) - dx.view(-1, 1) + 1).clamp(0, w + 1)
    idx = torch.arange(n, device=x.device).view(n, 1, 1)
    out = padded.permute(0, 2, 3, 1)[idx, rows.view(n, h, 1), cols.view(n, 1, w)]
    return out.permute(0, 3, 1, 2)


def cutout(x, cy, cx, size: int):
    """``x`` with a ``size`` x ``size`` square zeroed per sample, its top-left corner at
    (``cy - size // 2``, ``cx - size // 2``) (clipped at the borders)."""
    import torch

    n, _, h, w = x.shape
    top = (cy - size // 2).view(n, 1, 1)
    left = (cx - size // 2).view(n, 1, 1)
    r = torch.arange(h, device=x.device).view(1, h, 1)
    c = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (r >= top) & (r < top + size) & (c >= left) & (c < left + size)
    return x * (~inside).unsqueeze(1).to(x.dtype)


# ---------------------------------------------------------------------------- DiffAugment

def rand_color(x, rng):
    x = x + (_per_sample(x, rng) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * _per_sample(x, rng, 0.0, 2.0) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * _per_sample(x, rng, 0.5, 1.5) + mean


def rand_translation(x, rng, ratio: float = 0.125):
    import torch

    h, w = x.shape[2:]
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    n = x.shape[0]
    dy = torch.randint(-sy, sy + 1, (n,), device=x.device, generator=rng)
    dx = torch.randint(-sx, sx + 1, (n,), device=x.device, generator=rng)
    return translate(x, dx, dy)


def rand_cutout(x, rng, ratio: float = 0.5):
    import torch

    h, w = x.shape[2:]
    size = int(h * ratio + 0.5)
    n = x.shape[0]
    cy = torch.randint(0, h + (1 - size % 2), (n,), device=x.device, generator=rng)
    cx = torch.randint(0, w + (1 - size % 2), (n,), device=x.device, generator=rng)
    return cutout(x, cy, cx, size)


TRANSFORMS = {"color": rand_color, "translation": rand_translation, "cutout": rand_cutout}


def build_diffaugment(data_spec, policy: str = "color,translation,cutout"):
    from ganbench.api.errors import UsageError

    _images(data_spec, "diffaugment")
    names = [p.strip() for p in str(policy).split(",") if p.strip()]
    bad = [p for p in names if p not in TRANSFORMS]
    if bad or not names:
        raise UsageError(f"augmentation diffaugment: policy {policy!r}: use a comma list of "
                         f"{', '.join(POLICIES)}")
    chain = [TRANSFORMS[p] for p in POLICIES if p in names]  # the paper's order

    def diffaugment(x, rng):
        for t in chain:
            x = t(x, rng)
        return x

    return diffaugment


# ------------------------------------------------------------------------------------ ADA

class Ada:
    """ADA's augmentation with its adaptive probability ``p`` (a tensor: no host sync)."""

    def __init__(self, data_spec, target: float, interval: int, ada_kimg: float) -> None:
        self.target, self.interval, self.ada_kimg = target, int(interval), ada_kimg
        self.p = None  # created on the device of the first batch
        self._sum = self._count = None
        self._steps = 0
        self._saved = None

    def _init(self, device) -> None:
        import torch

        if self.p is None:
            self.p = torch.zeros((), dtype=torch.float64, device=device)
            self._sum = torch.zeros((), dtype=torch.float64, device=device)
            self._count = 0
            if self._saved is not None:
                self._load(self._saved)

    def __call__(self, x, rng):
        import torch

        self._init(x.device)
        n = x.shape[0]
        apply = lambda t, out: torch.where(  # noqa: E731
            (torch.rand(n, device=x.device, generator=rng) < self.p).view(-1, 1, 1, 1), out, t)
        x = apply(x, x.flip(3))
        x = apply(x, x.rot90(1, dims=(2, 3)) if x.shape[2] == x.shape[3] else x)
        x = apply(x, rand_translation(x, rng))
        x = apply(x, x + (_per_sample(x, rng) - 0.5) * 0.4)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        return apply(x, (x - mean) * _per_sample(x, rng, 0.5, 1.5) + mean)

    def observe(self, ctx) -> None:
        """After each D step: accumulate sign(D(real)); every ``interval`` steps adjust p."""
        import torch

        self._init(ctx.real.device)
        self._sum += torch.sign(ctx.real_out.detach()).double().mean()
        self._count += 1
        if self._count < self.interval:
            return
        rt = self._sum / self._count
        step = ctx.real.shape[0] * self._count / (self.ada_kimg * 1000)
        self.p.copy_((self.p + torch.sign(rt - self.target) * step).clamp(0.0, 1.0))
        ctx.log("ada_p", self.p)
        ctx.log("ada_rt", rt)
        self._sum.zero_()
        self._count = 0

    def state_dict(self) -> dict:
        import torch

        if self.p is None:
            return {"p": torch.zeros((), dtype=torch.float64),
                    "sum": torch.zeros((), dtype=torch.float64), "count": 0}
        return {"p": self.p.clone(), "sum": self._sum.clone(), "count": self._count}

    def load_state_dict(self, state: dict) -> None:
        if self.p is None:
            self._saved = dict(state)
        else:
            self._load(state)

    def _load(self, state: dict) -> None:
        self.p.copy_(state["p"])
        self._sum.copy_(state["sum"])
        self._count = int(state["count"])


def build_ada(data_spec, target: float = 0.6, interval: int = 4, ada_kimg: float = 500.0):
    from ganbench.api.errors import UsageError

    _images(data_spec, "ada")
    if not (0 < target < 1 and interval >= 1 and ada_kimg > 0):
        raise UsageError("augmentation ada: target must be in (0, 1), interval >= 1, "
                         "ada_kimg > 0")
    return Ada(data_spec, target, interval, ada_kimg)


AUGMENTATIONS = [
    AugmentSpec("diffaugment", build_diffaugment, "DiffAugment: differentiable color, "
                "translation and cutout of real and fake, in D and G steps",
                options={"policy": "color,translation,cutout"},
                reference="Zhao et al. 2020, Differentiable Augmentation for Data-Efficient GAN "
                          "Training"),
    AugmentSpec("ada", build_ada, "ADA: augment with probability p, adjusted from r_t = "
                "E[sign(D(real))] towards a target", options={"target": 0.6, "interval": 4,
                                                              "ada_kimg": 500.0},
                reference="Karras et al. 2020, Training Generative Adversarial Networks with "
                          "Limited Data"),
]

