"""The contract between a method and the training loop.

A method builds its G and D on a backbone, owns its optimizers and its D and G steps, and may have a
pretraining stage. The loop (``bench.loop``) only ever calls what is defined here, so it never needs to
know a method by name:

    method = get_method("ecogan")(config, device)
    if method.has_pretrain:                                   # once, before step 1 (resumable per epoch)
        method.begin_pretrain()
        for epoch in ...: method.pretrain_epoch(loader)       # pretrain_step per batch
        method.finish_pretrain(loader)
    for step in 1..steps:
        for _ in range(method.n_dis): method.d_step(x, y)     # a fresh real batch each time
        method.g_step(); method.update_ema(step)
    images = method.generate(z, y)                            # z ~ N(0, I) of shape (n, method.latent_dim)

The base owns the mechanics every method shares, so that a method file holds only its nets and losses: the
hyperparameters resolved once (:meth:`Method.resolve_hyper`: Hyper defaults < backbone recipe < options, value
rules on the Hyper's fields, ``bench.methods.hyper``), the real-batch check (:meth:`Method.d_step` checks, then
calls the method's :meth:`Method.discriminator_step`), one optimizer step (:meth:`Method.optimizer_step`), D
frozen during a G step (:meth:`Method.frozen`) and the G EMA built from the Hyper (:meth:`Method.setup_ema`).
A method's display name, whether it pretrains and its place in the paper's tables are class data the report
reads (``display_name``, ``pretrains``, ``paper_order``).

All randomness inside a method is drawn from torch's global generators on the method's device, so the
loop can save and restore it for exact resume.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from bench.config import AUGMENTS, REGULARIZERS
from bench.errors import ConfigError, check, closest
from bench.methods import hyper as hyper_options
from bench.methods.diffaugment import POLICY as DIFFAUG_POLICY
from bench.methods.diffaugment import diff_augment
from bench.methods.lecam import LeCam
from bench.registry import Registry

QUIRKS = ("paper", "fixed")

LossDict = dict[str, "float | torch.Tensor"]
"""Named scalars a step returns, named by path: ``loss/d``, ``loss/d_gp``, ``loss/g_eco`` ... Each a float or a
detached 0-d tensor; the loop converts tensors to floats once per iteration (no host sync per D step)."""


@dataclass
class MethodConfig:
    """What a method is built from.

    Attributes:
        num_classes: number of classes C.
        image_size: side of the square images (16, 32 or 64).
        channels: 1 or 3.
        backbone: registered backbone name, or None for the method's default.
        g_cond: how the class enters a conditional generator (a backbone's ``g_conds``); None = the backbone's
            paper way. Methods whose G takes the class another way (BAGAN's latent Gaussians) accept None only.
        quirks: ``"paper"`` reproduces the upstream code's bugs, ``"fixed"`` corrects them.
        regularizer: a D-loss regulariser the base adds through :meth:`Method.d_regularizer` (``none`` | ``lecam``).
        augment: an augmentation of every image D sees, applied by the base (``none`` | ``diffaug``).
        batch_size: batch size of G steps (D steps take the size of the real batch they get).
        class_counts: per-class training counts (used by BAGAN's class Gaussians and for reports).
        options: method hyperparameter overrides, keys of the method's ``Hyper`` dataclass.
    """

    num_classes: int
    image_size: int
    channels: int
    backbone: str | None = None
    g_cond: str | None = None
    quirks: str = "paper"
    regularizer: str = "none"
    augment: str = "none"
    batch_size: int = 128
    class_counts: list[int] | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class OptimizerSettings:
    """Adam settings of one network."""

    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.9)
    eps: float = 1e-8


class Method:
    """Base class of a registered GAN method. Subclasses set the class attributes and implement the steps.

    Class attributes:
        name: registry key.
        paper_row: which paper table/row this reproduces, e.g. ``"Table 3: ECOGAN (ours)"``.
        default_backbone: backbone used when the config names none.
        Hyper: a dataclass of hyperparameters with the paper's defaults; ``config.options`` overrides
            its fields, and an unknown key is a ConfigError naming the key.
        quirks_doc: one line per quirk the ``"paper"`` setting reproduces.
        display_name: the method's name in tables and figures (the paper's: "2C" for contragan); "" = the
            registry name upper-cased.
        pretrains: whether the method has a pretraining stage unless its ``pretrained`` option says false (the
            report's "Pre-trained" column).
        paper_order: its position in the paper's tables (1 = first); None for a method the paper lacks, listed
            after the paper's, alphabetically. ``display_name`` and ``paper_order`` are read from the class itself,
            never inherited (:meth:`paper_name`, :meth:`paper_position`); ``pretrains`` is inherited.
        d_has_adversarial_logit: whether D has a real/fake logit, which the ``lecam`` regulariser needs (BAGAN's
            (C + 1)-way D has none).

    Training aids (``config.regularizer``, ``config.augment``) come from the base, so every method gets them
    without code of its own: ``diffaug`` augments the input of every call of D's trunk (or of D, when it has no
    ``trunk``) — reals and fakes, D and G steps, gradient penalties — installed when ``self.D`` is assigned;
    ``lecam`` is the term :meth:`d_regularizer` returns, which a method adds to its D loss.
    """

    name: ClassVar[str] = ""
    paper_row: ClassVar[str] = ""
    default_backbone: ClassVar[str] = "dcgan64"
    Hyper: ClassVar[type] = dataclass(type("Hyper", (), {}))
    quirks_doc: ClassVar[tuple[str, ...]] = ()
    display_name: ClassVar[str] = ""
    pretrains: ClassVar[bool] = False
    paper_order: ClassVar[int | None] = None
    adversarial_loss: ClassVar[str] = "bce"  # in words, for the report when the Hyper has no adv_loss option
    d_has_adversarial_logit: ClassVar[bool] = True  # D has a real/fake logit (what lecam regularises)

    # set by subclasses' __init__
    G: nn.Module
    G_ema: nn.Module | None = None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    n_dis: int = 1
    latent_dim: int = 128
    ema_decay: float | None = None
    ema_start: int = 0
    g_cond: str | None = None  # how the class enters G (a backbone's g_conds), set by methods with a conditional G
    # set by the loop (bench.loop); a method reads them through forward_context() and draw_rows()
    amp_dtype: torch.dtype | None = None  # autocast dtype of the steps' forward passes (bf16); None = fp32
    pretrain_opt: torch.optim.Optimizer | None = None  # the pretraining stage's optimizer while it runs
    shard: tuple[int, int] | None = None  # (rank, world) while data-parallel training draws noise; None = alone

    def __init__(self, config: MethodConfig, device: torch.device | str = "cpu") -> None:
        check(config.quirks in QUIRKS, f"unknown quirks {config.quirks!r}{closest(config.quirks, QUIRKS)}; "
              f"known: {', '.join(QUIRKS)}")
        check(config.channels in (1, 3), f"channels must be 1 or 3, got {config.channels}")
        check(config.num_classes >= 1, f"num_classes must be >= 1, got {config.num_classes}")
        self.check_training_aids(config.regularizer, config.augment)
        self.config = config
        self.device = torch.device(device)
        self.backbone = config.backbone or self.default_backbone
        self.hp = self.resolve_hyper(config.options, self.backbone)
        self.lecam = LeCam().to(self.device) if config.regularizer == "lecam" else None
        self.augment_policy = DIFFAUG_POLICY if config.augment == "diffaug" else None
        self._augmenting = True  # off while d_class_scores looks at images as they are

    # -- configuration ---------------------------------------------------------------------------
    @classmethod
    def backbone_recipe(cls, backbone: str) -> dict[str, Any]:
        """Option values this method takes on ``backbone`` unless the run's options say otherwise: the backbone's
        latent size here (for a Hyper with a ``latent_dim`` option); methods with per-backbone recipes add theirs."""
        from bench.methods.backbones import get_backbone

        return {"latent_dim": get_backbone(backbone).default_latent_dim}

    @classmethod
    def resolve_hyper(cls, options: dict[str, Any], backbone: str | None = None) -> Any:
        """The full, checked ``Hyper`` of a run on ``backbone`` (None = the default one): defaults < the backbone's
        recipe < ``options``. An unknown option or a bad value is a ConfigError naming the method and the key."""
        return hyper_options.resolve(cls.name, cls.Hyper, cls.backbone_recipe(backbone or cls.default_backbone),
                                     options)

    @classmethod
    def check_training_aids(cls, regularizer: str, augment: str) -> None:
        """ConfigError (one line) unless ``regularizer`` and ``augment`` are known and apply to this method."""
        check(regularizer in REGULARIZERS, f"regularizer = {regularizer!r} is not one of {', '.join(REGULARIZERS)}"
                                           f"{closest(regularizer, REGULARIZERS)}")
        check(augment in AUGMENTS, f"augment = {augment!r} is not one of {', '.join(AUGMENTS)}"
                                   f"{closest(augment, AUGMENTS)}")
        check(regularizer == "none" or cls.d_has_adversarial_logit,
              f"regularizer = {regularizer!r} needs a D with an adversarial (real/fake) logit; {cls.name}'s D has "
              f"none ({cls.adversarial_loss}): use regularizer = 'none' for {cls.name}")

    @classmethod
    def parse_hyper(cls, options: dict[str, Any]) -> Any:
        """Compatibility name: :meth:`resolve_hyper` on the default backbone."""
        return cls.resolve_hyper(options)

    @classmethod
    def paper_name(cls) -> str:
        """The name tables and figures print: the class's own ``display_name``, else the registry name upper-cased
        (a subclass registered under another name is another method, so it does not inherit the name)."""
        return cls.__dict__.get("display_name") or cls.name.upper()

    @classmethod
    def paper_position(cls) -> int | None:
        """The class's own ``paper_order`` (not inherited: a registered subclass is not the paper's row)."""
        return cls.__dict__.get("paper_order")

    def recipe(self) -> dict[str, Any]:
        """What this run's nets and steps actually are, for config.json and the report: backbone, how the class
        enters G, D steps per G step and every resolved hyperparameter."""
        hyper = hyper_options.to_json(self.hp)
        return {"backbone": self.backbone, "g_cond": self.g_cond, "n_dis": self.n_dis,
                "adv_loss": hyper.get("adv_loss") or self.adversarial_loss, "gp_weight": hyper.get("gp_weight", 0.0),
                "regularizer": self.config.regularizer, "augment": self.config.augment, "hyper": hyper}

    @classmethod
    def d_steps_per_iteration(cls, options: dict[str, Any], backbone: str | None = None) -> int:
        """D updates per iteration (``n_dis``) this method makes with ``options``: the resolved Hyper's, else 1.
        Scales use it to give every method the same number of D updates."""
        return int(getattr(cls.resolve_hyper(options, backbone), "n_dis", 1))

    @classmethod
    def describe(cls) -> str:
        """One line for ``bench list methods``."""
        return f"{cls.name:<10} {cls.default_backbone:<9} {cls.paper_row}"

    # -- training --------------------------------------------------------------------------------
    # -- pretraining ---------------------------------------------------------------------------
    @property
    def has_pretrain(self) -> bool:
        """Whether the loop must run the pretraining stage before the first step."""
        return False

    def pretrain_epochs(self) -> int:
        """The stage's own number of epochs (the Hyper's ``pretrain_epochs``; 0 without a stage). A scale's
        ``pretrain_images`` may cut it (:func:`bench.phases.pretrain_budget`)."""
        return self.stage_epochs(self.hp) if self.has_pretrain else 0

    @classmethod
    def stage_epochs(cls, hyper: Any) -> int:
        """The pretraining epochs a run with the resolved ``hyper`` makes, before any budget: its
        ``pretrain_epochs`` when the method pretrains (``pretrains``, and its ``pretrained`` option if it has one),
        else 0. Works before the method is built (the dry run's budgets)."""
        if not cls.pretrains or not getattr(hyper, "pretrained", True):
            return 0
        return int(getattr(hyper, "pretrain_epochs", 0))

    def begin_pretrain(self) -> None:
        """Set the stage up before its first batch: its optimizer (``self.pretrain_opt``) and any network of its
        own (:meth:`pretrain_modules`). Called again on resume, before the saved state is loaded into them."""

    def pretrain_step(self, x: torch.Tensor, y: torch.Tensor) -> LossDict:
        """One pretraining update on a batch (x (B, C, H, W) in [-1, 1], y (B,)); its forward passes run in
        :meth:`forward_context`. Returns the batch's mean losses (``loss/ae`` ...)."""
        raise NotImplementedError

    def finish_pretrain(self, loader: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """After the last epoch: hand the stage's result to the GAN phase (fit class Gaussians on one more pass of
        ``loader``, initialise G and D from the pretrained nets) and drop the stage's optimizer."""

    def pretrain_modules(self) -> dict[str, nn.Module]:
        """Networks the stage trains besides :meth:`modules` (BAGAN's encoder, EBGAN's autoencoder): their state,
        with the stage's optimizer, is what :meth:`pretrain_state` saves while the stage runs."""
        return {}

    def pretrain_state(self) -> dict[str, Any]:
        """The running stage's state beyond :meth:`state_dict`: :meth:`pretrain_modules` and the optimizer."""
        state = {name: m.state_dict() for name, m in self.pretrain_modules().items()}
        if self.pretrain_opt is not None:
            state["pretrain_opt"] = self.pretrain_opt.state_dict()
        return state

    def load_pretrain_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`pretrain_state` into a stage set up by :meth:`begin_pretrain`."""
        for name, m in self.pretrain_modules().items():
            m.load_state_dict(state[name])
        if self.pretrain_opt is not None:
            self.pretrain_opt.load_state_dict(state["pretrain_opt"])

    def pretrain_epoch(self, loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
                       max_batches: int | None = None, on_batch: Callable[[LossDict], None] | None = None
                       ) -> dict[str, float]:
        """One pass of ``loader`` through :meth:`pretrain_step` (at most ``max_batches`` batches), calling
        ``on_batch`` with each batch's losses; returns each loss's mean per image over the pass (NaN for none)."""
        totals: dict[str, Any] = {}
        count = 0
        for i, (x, y) in enumerate(loader):
            if max_batches is not None and i >= max_batches:
                break
            losses = self.pretrain_step(x, y)
            for key, value in losses.items():  # summed on the device: no host sync per batch
                totals[key] = totals.get(key, 0.0) + value * x.shape[0]
            count += x.shape[0]
            if on_batch is not None:
                on_batch(losses)
        if not count:
            return {}
        (means,) = losses_to_floats([{key: total / count for key, total in totals.items()}])
        return means

    def pretrain(self, loader: Iterable[tuple[torch.Tensor, torch.Tensor]], epochs: int | None = None) -> LossDict:
        """The whole pretraining stage in one call: :meth:`begin_pretrain`, ``epochs`` passes of ``loader`` (None =
        :meth:`pretrain_epochs`), :meth:`finish_pretrain`. ``loader`` yields (x in [-1, 1], y) batches on the
        method's device and is re-iterable (one pass = one epoch). The loop runs the same sequence itself, epoch
        by epoch with a checkpoint after each (``bench.loop``). Returns the last epoch's mean losses per image."""
        if not self.has_pretrain:
            return {}
        epochs = self.pretrain_epochs() if epochs is None else epochs
        self.begin_pretrain()
        means: LossDict = {}
        for _ in range(epochs):
            means = self.pretrain_epoch(loader)
        self.finish_pretrain(loader)
        return means

    def d_step(self, real_x: torch.Tensor, real_y: torch.Tensor) -> LossDict:
        """One discriminator update on a real batch (x (B,C,H,W) in [-1,1], y (B,) int64): the batch checked
        (:func:`check_real_batch`), then the method's :meth:`discriminator_step`."""
        check_real_batch(real_x, real_y, self.config.num_classes)
        return self.discriminator_step(real_x, real_y)

    def discriminator_step(self, real_x: torch.Tensor, real_y: torch.Tensor) -> LossDict:
        """The method's D update on a checked real batch (what :meth:`d_step` calls)."""
        raise NotImplementedError

    def g_step(self) -> LossDict:
        """One generator update on ``config.batch_size`` fakes with labels uniform over all classes."""
        raise NotImplementedError

    # -- training aids -----------------------------------------------------------------------------
    @property
    def D(self) -> nn.Module:
        """The discriminator. Assigning it installs the ``augment`` hook on its trunk (or on it)."""
        return self._D

    @D.setter
    def D(self, net: nn.Module) -> None:
        self._D = net
        if self.augment_policy is not None:
            getattr(net, "trunk", net).register_forward_pre_hook(self._augment_d_input)

    def _augment_d_input(self, _module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        if not self._augmenting:
            return None
        x = args[0]

        def draw(shape: tuple[int, ...]) -> torch.Tensor:  # through draw_rows: ranks of a data-parallel run agree
            return self.draw_rows(shape[0], lambda n: torch.rand((n, *shape[1:]), device=x.device))

        return (diff_augment(x, self.augment_policy, draw), *args[1:])

    def d_regularizer(self, real_logits: torch.Tensor, fake_logits: torch.Tensor
                      ) -> tuple[torch.Tensor | float, LossDict]:
        """The configured regulariser's weighted term for the D loss of this D step, from D's adversarial logits on
        the real batch (B,) and the fakes (B',), and its named scalar: (λ·R_LC, {"loss/d_lecam": R_LC}) under
        ``lecam`` (``bench.methods.lecam``), (0.0, {}) under ``none``. Call it once per D step (it moves the
        LeCam anchors) and add the term to the loss."""
        if self.lecam is None:
            return 0.0, {}
        penalty = self.lecam(real_logits, fake_logits)
        return self.lecam.weight * penalty, {"loss/d_lecam": penalty.detach()}

    def add_gradient_penalty(self, loss: torch.Tensor, out: LossDict, d_fn: Callable[[torch.Tensor], torch.Tensor],
                             real_x: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """``loss + gp_weight·GP(d_fn)`` (``bench.methods.losses.gradient_penalty`` between ``real_x`` and ``fake``,
        the interpolation weights drawn through :meth:`draw_rows` under the run's quirks), recording the penalty as
        ``out["loss/d_gp"]``, when the Hyper's ``gp_weight`` is > 0; ``loss`` unchanged otherwise. Call it inside
        :meth:`forward_context` after the step's other draws (it draws α last)."""
        from bench.methods.losses import gp_mix_weights, gradient_penalty  # losses imports this module

        if not self.hp.gp_weight > 0:
            return loss
        alpha = self.draw_rows(real_x.shape[0], lambda n: gp_mix_weights(n, real_x, self.config.quirks))
        penalty = gradient_penalty(d_fn, real_x, fake, quirks=self.config.quirks, alpha=alpha)
        out["loss/d_gp"] = penalty.detach()
        return loss + self.hp.gp_weight * penalty

    def update_ema(self, step: int) -> None:
        """Update G_ema after G step ``step`` (1-based); before ``ema_start`` it copies G."""
        if self.G_ema is None or self.ema_decay is None:
            return
        decay = self.ema_decay if step >= self.ema_start else 0.0
        with torch.no_grad():
            for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters(), strict=True):
                p_ema.lerp_(p, 1.0 - decay)
            for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
                b_ema.copy_(b)

    @staticmethod
    def optimizer_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        """One update of ``optimizer``'s parameters on ``loss``: gradients cleared (to None), backward, step.
        Called outside :meth:`forward_context`, so that autocast covers the forward passes only."""
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    @staticmethod
    @contextlib.contextmanager
    def frozen(module: nn.Module):
        """``module``'s parameters take no gradient inside the block (D during a G step), whatever happens."""
        module.requires_grad_(False)
        try:
            yield module
        finally:
            module.requires_grad_(True)

    def forward_context(self) -> contextlib.AbstractContextManager:
        """The context for a step's forward passes (loss included, backward and optimizer step outside it):
        autocast to ``amp_dtype`` on the method's device when the loop set one, else nothing."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    # -- generation ------------------------------------------------------------------------------
    def draw_rows(self, n: int, draw: Callable[[int], torch.Tensor]) -> torch.Tensor:
        """``draw(n)``: n rows of random values from the global generators. Under data-parallel training
        (``shard = (rank, world)``) every rank draws the world's n·world rows from the same generator state and
        keeps its own n, so the ranks together see what one process drawing the global batch would see, and
        their generators stay equal (one checkpointed RNG state serves every rank)."""
        if self.shard is None:
            return draw(n)
        rank, world = self.shard
        return draw(n * world)[rank * n:(rank + 1) * n]

    def sample_labels(self, n: int) -> torch.Tensor:
        """n labels uniform over all classes, on the device (the G-step label rule)."""
        return self.draw_rows(n, lambda m: torch.randint(0, self.config.num_classes, (m,), device=self.device))

    def sample_z(self, n: int) -> torch.Tensor:
        """n standard-normal latents (n, latent_dim) on the device."""
        return self.draw_rows(n, lambda m: torch.randn(m, self.latent_dim, device=self.device))

    @torch.no_grad()
    def generate(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] for latents z ~ N(0, I) (n, latent_dim) and labels y (n,), from G_ema when the
        method keeps one, in eval mode. Methods whose G takes another latent (BAGAN) map z here."""
        generator = self.G_ema if self.G_ema is not None else self.G
        was_training = generator.training
        generator.eval()
        try:
            return self._forward_g(generator, z.to(self.device), y.to(self.device)).clamp(-1, 1)
        finally:
            generator.train(was_training)

    def _forward_g(self, generator: nn.Module, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return generator(z, y)

    @torch.no_grad()
    def d_class_scores(self, x: torch.Tensor) -> torch.Tensor | None:
        """D's own view of the classes of images x in [-1, 1]: (n, C) scores whose argmax is D's class (nearest
        proxy, class head or best-matching label), or None when D has no class view. A diagnostic: it tells
        whether D has learnt the classes that G is asked to follow."""
        scores = getattr(self.D, "class_scores", None)
        if scores is None:
            return None
        self._augmenting = False
        try:
            return scores(x.to(self.device))
        finally:
            self._augmenting = True

    # -- state -----------------------------------------------------------------------------------
    def modules(self) -> dict[str, nn.Module]:
        """Every module whose state belongs in a checkpoint."""
        mods = {"G": self.G, "D": self.D}
        if self.G_ema is not None:
            mods["G_ema"] = self.G_ema
        if self.lecam is not None:
            mods["lecam"] = self.lecam  # the anchors
        return mods

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"opt_g": self.opt_g, "opt_d": self.opt_d}

    def extra_state(self) -> dict[str, Any]:
        """Anything else a resume needs (BAGAN's class Gaussians, a pretraining flag...)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        state = {name: m.state_dict() for name, m in self.modules().items()}
        state.update({name: o.state_dict() for name, o in self.optimizers().items()})
        state["extra"] = self.extra_state()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, m in self.modules().items():
            m.load_state_dict(state[name])
        for name, o in self.optimizers().items():
            o.load_state_dict(state[name])
        self.load_extra_state(state.get("extra", {}))

    def make_ema(self) -> None:
        """Create G_ema as a frozen copy of G (call in __init__ when ema_decay is set)."""
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False)

    def setup_ema(self) -> None:
        """The G EMA of the Hyper's ``ema_decay`` (0 = none) and ``ema_start``: set both and copy G (call once G
        exists)."""
        if getattr(self.hp, "ema_decay", 0.0) > 0:
            self.ema_decay, self.ema_start = self.hp.ema_decay, self.hp.ema_start
            self.make_ema()

    @staticmethod
    def adam(params: Iterable[torch.Tensor], settings: OptimizerSettings) -> torch.optim.Adam:
        """Adam over ``params``; the fused kernel when they all live on CUDA (same update rule, one launch)."""
        params = list(params)
        fused = {"fused": True} if params and all(p.is_cuda for p in params) else {}
        return torch.optim.Adam(params, lr=settings.lr, betas=tuple(settings.betas), eps=settings.eps, **fused)


def losses_to_floats(steps: list[LossDict]) -> list[dict[str, float]]:
    """The steps' loss dicts with every value a float: the tensors among them (detached 0-d, any dtype) are
    stacked and copied to the host at once, so an iteration waits for the device once, not once per value."""
    tensors = [value for losses in steps for value in losses.values() if isinstance(value, torch.Tensor)]
    values = iter(torch.stack([t.float() for t in tensors]).tolist() if tensors else [])
    return [{key: next(values) if isinstance(value, torch.Tensor) else float(value) for key, value in losses.items()}
            for losses in steps]


def check_real_batch(x: torch.Tensor, y: torch.Tensor, num_classes: int) -> None:
    """ConfigError unless ``x`` is a batch of at least two images and ``y`` holds one label in [0, C) per image.

    The range of the labels is checked on CPU only: on a GPU that check would make every D step wait for the
    device (the loop's labels come from the dataset; a label out of range still fails inside the embedding)."""
    if x.ndim != 4 or y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise ConfigError(f"d_step expects images (B, C, H, W) and labels (B,), got {tuple(x.shape)} and "
                          f"{tuple(y.shape)}")
    if y.is_floating_point() or y.is_complex():
        raise ConfigError(f"labels must be an integer tensor, got {y.dtype}")
    if x.shape[0] < 2:
        raise ConfigError(f"a real batch of {x.shape[0]} image(s): d_step needs at least 2 "
                          f"(batch statistics and contrastive pairs); raise batch_size or drop the last batch")
    if y.device.type != "cpu":
        return
    bad = (y < 0) | (y >= num_classes)
    if bad.any():
        raise ConfigError(f"label {int(y[bad][0])} is out of range: labels must lie in [0, {num_classes})")


METHODS: Registry[type[Method]] = Registry("method")


def register_method(name: str):
    """Class decorator registering a Method subclass under ``name`` (lower-case, no whitespace or ``/``: it is
    what grid files and ``--method`` type); a ConfigError naming the name otherwise."""
    check(isinstance(name, str) and name != "" and name == name.lower() and not any(c.isspace() for c in name)
          and "/" not in name, f"method name {name!r} must be a non-empty lower-case string without spaces or '/'")

    def wrap(cls: type[Method]) -> type[Method]:
        check(isinstance(cls, type) and issubclass(cls, Method),
              f"@register_method({name!r}) decorates {cls!r}, which is not a Method subclass")
        cls.name = name
        return METHODS.add(name, cls)

    return wrap
