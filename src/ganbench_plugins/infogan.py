"""InfoGAN (Chen et al. 2016, InfoGAN: Interpretable Representation Learning by Information
Maximizing Generative Adversarial Nets), built on the public plugin surface.

* latent sampler ``infogan`` (``--latent infogan:cat=10:cont=2``): G's input of width z_dim
  is ``[z, one-hot(c), u]``: noise z ~ N(0, I) of width ``z_dim - cat - cont``, a categorical
  code ``c`` uniform over ``cat`` values and ``cont`` continuous codes u ~ U(-1, 1). The step
  context has them as ``ctx.z`` and ``ctx.codes`` (``{"cat": c, "cont": u}``).
* regulariser ``infogan`` (phase G, ``--reg infogan:1``): the variational lower bound of the
  mutual information between the codes and G's output, ``L_I = CE(Q_cat(G(z, c)), c) +
  cont_weight * 1/2 ||Q_cont(G(z, c)) - u||^2`` (a factored Gaussian of unit variance), added to
  G's loss with weight lambda (1, the paper's for categorical codes). Q is its own network
  (ganbench's D returns one output, so Q does not share D's body as in the paper), kept in the
  regulariser's per-run state with its Adam optimiser, trained on the same loss each G step,
  and saved in checkpoints. The bound ``log(cat) - CE`` is logged as ``infogan_mi`` (nats):
  the mutual-information metric in the run's rows.
* variant ``infogan``: the MLP recipe on toy data with an 8-way code (one per ``ring8`` mode)
  and Q's learning rate 1e-3 (the MLP recipe's), not in ``quick``.

The sampler and the regulariser are registered by ``ganbench_plugins.losses``, the variant by
``ganbench_plugins.variants`` (the built-ins' entry points).
"""

from __future__ import annotations

import math

from ganbench.api.specs import Latent, LatentSamplerSpec, RegularizerSpec, VariantSpec


class InfoLatent:
    """The InfoGAN sampler: ``sampler(n, rng, device) -> Latent(input, z, codes)``."""

    def __init__(self, z_dim: int, cat: int, cont: int) -> None:
        from ganbench.api.errors import UsageError

        if cat < 0 or cont < 0 or cat + cont < 1 or cat == 1:
            raise UsageError("latent sampler infogan: give cat >= 2 and/or cont >= 1")
        if z_dim - cat - cont < 1:
            raise UsageError(f"latent sampler infogan: z_dim {z_dim} leaves no room for noise "
                             f"beside {cat} + {cont} code dimensions (raise --z-dim)")
        self.z_dim, self.cat, self.cont = z_dim, int(cat), int(cont)

    def codes(self, n: int, rng, device) -> dict:
        import torch

        out = {}
        if self.cat:
            out["cat"] = torch.randint(self.cat, (n,), device=device, generator=rng)
        if self.cont:
            out["cont"] = torch.rand(n, self.cont, device=device, generator=rng) * 2 - 1
        return out

    def input(self, z, codes: dict):
        """G's input for noise ``z`` and ``codes`` (to choose a code, e.g. in a test)."""
        import torch

        parts = [z]
        if self.cat:
            parts.append(torch.nn.functional.one_hot(codes["cat"], self.cat).to(z.dtype))
        if self.cont:
            parts.append(codes["cont"].to(z.dtype))
        return torch.cat(parts, 1)

    def __call__(self, n: int, rng, device):
        import torch

        z = torch.randn(n, self.z_dim - self.cat - self.cont, device=device, generator=rng)
        codes = self.codes(n, rng, device)
        return Latent(self.input(z, codes), z, codes)


def build_sampler(z_dim, data_spec, cat: int = 10, cont: int = 2):
    return InfoLatent(z_dim, int(cat), int(cont))


def _q_net(data_spec, out: int, hidden: int):
    import torch.nn as nn

    dim = math.prod(data_spec.shape) if data_spec is not None else 2
    return nn.Sequential(nn.Flatten(), nn.Linear(dim, hidden), nn.LeakyReLU(0.2),
                         nn.Linear(hidden, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, out))


class QState:
    """The regulariser's per-run state: Q and its optimiser (both in ``state_dict``)."""

    def __init__(self, init) -> None:
        import torch

        from ganbench.api.errors import UsageError

        sampler = init.sampler
        if not isinstance(sampler, InfoLatent):
            raise UsageError("regularizer infogan needs the infogan latent sampler "
                             "(--latent infogan:cat=N:cont=M)")
        self.cat, self.cont = sampler.cat, sampler.cont
        hidden = int(init.options.get("hidden", 128))
        self.q = _q_net(init.data_spec, self.cat + self.cont, hidden).to(init.device)
        lr = float(init.options.get("lr", 2e-4))
        self.opt = torch.optim.Adam(self.q.parameters(), lr=lr, betas=(0.5, 0.999))

    def state_dict(self) -> dict:
        return {"q": self.q.state_dict(), "opt": self.opt.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.q.load_state_dict(state["q"])
        self.opt.load_state_dict(state["opt"])

    def losses(self, out, codes: dict, cont_weight: float):
        """(L_I, its categorical cross-entropy) of Q's outputs ``out`` for ``codes``."""
        import torch.nn.functional as F

        loss = out.new_zeros(())
        ce = None
        if self.cat:
            ce = F.cross_entropy(out[:, :self.cat].float(), codes["cat"])
            loss = loss + ce
        if self.cont:
            loss = loss + cont_weight * 0.5 * (out[:, self.cat:].float()
                                               - codes["cont"]).square().sum(1).mean()
        return loss, ce


def info_penalty(ctx, cont_weight: float = 1.0, hidden: float = 128, lr: float = 2e-4):
    """L_I for G (through Q with its weights held fixed), and one Q update on the same batch."""
    import torch
    from torch.func import functional_call

    st = ctx.state
    fixed = {k: v.detach().clone() for k, v in st.q.named_parameters()}  # Q steps below
    loss_g, _ = st.losses(functional_call(st.q, fixed, (ctx.fake,)), ctx.codes, cont_weight)
    with torch.enable_grad():
        loss_q, ce = st.losses(st.q(ctx.fake.detach()), ctx.codes, cont_weight)
        st.opt.zero_grad(set_to_none=True)
        loss_q.backward()
        st.opt.step()
    if ce is not None:
        ctx.log("infogan_mi", math.log(st.cat) - ce.detach())
    return loss_g


SAMPLER = LatentSamplerSpec(
    "infogan", build_sampler, "z with a categorical and continuous codes beside it (InfoGAN)",
    options={"cat": 10, "cont": 2},
    reference="Chen et al. 2016, InfoGAN")
REGULARIZER = RegularizerSpec(
    "infogan", info_penalty, "InfoGAN's mutual-information term: lambda L_I(G, Q) on G's loss, "
    "Q trained alongside", weight=1.0, phase="g", state=QState,
    options={"cont_weight": 1.0, "hidden": 128, "lr": 2e-4},
    reference="Chen et al. 2016, InfoGAN: Interpretable Representation Learning by Information "
              "Maximizing Generative Adversarial Nets")


def variant(mlp_hparams):
    """The ``infogan`` variant on the built-in MLP recipe ``mlp_hparams`` (z_dim 24: 16 of
    noise as the MLP variants have, and the 8-way code)."""
    import dataclasses

    return VariantSpec(
        "infogan", "mlp", "non-saturating", "MLP GAN with an 8-way categorical code and "
        "InfoGAN's mutual-information term", dataclasses.replace(mlp_hparams, z_dim=24),
        regularizers=("infogan:1:lr=0.001",), latent="infogan:cat=8:cont=0", quick=False,
        reference="Chen, Duan, Houthooft, Schulman, Sutskever & Abbeel 2016, InfoGAN: "
                  "Interpretable Representation Learning by Information Maximizing GANs")

