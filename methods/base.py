"""The contract between a method and the training loop: a method supplies nets and losses, the base runs the steps.

A method builds its G and D on a backbone with their optimizers, and supplies its losses as functions of tensors:
:meth:`Method.discriminator_loss` (real batch -> a :class:`DiscriminatorLoss`) and :meth:`Method.generator_loss`
(labels -> a :class:`GeneratorLoss`); it may have a pretraining stage. Its phases (:meth:`Method.phases`: which net
each step updates, with which optimizer and which loss, and which net it keeps frozen) default to D and G. The base
runs the step sequence for every method, so that no method retypes it and the training aids reach every method:

    D step (d_step(x, y)):  check the real batch; autocast (bf16) over: the method's D loss, + LeCam (regularizer
                            = lecam, from the adversarial logits the loss returns), + gp_weight·GP (the Hyper's
                            gp_weight, on the critic and fakes the loss returns); then zero-grad, backward, step
    G step (g_step()):      labels uniform over the classes; D frozen; autocast over the method's G loss; step
    every D call:           DiffAugment (augment = diffaug) on the input of D's trunk, installed by the base on
                            the D phase's net before the first step
    after each iteration:   update_ema(step) (the Hyper's ema_decay / ema_start)

The loop (``bench.run.loop``) only ever calls what is defined here, so it never needs to know a method by name:

    method = get_method(plan.method)(plan.method_config(data), device)
    if method.has_pretrain:                                   # once, before step 1 (resumable per epoch)
        method.begin_pretrain()
        for epoch in ...: method.pretrain_epoch(loader)       # pretrain_step per batch (in forward_context)
        method.finish_pretrain(loader)
    for step in 1..steps:
        for _ in range(method.n_dis): method.d_step(x, y)     # a fresh real batch each time
        method.g_step(); method.update_ema(step)
    images = method.generate(z, y)                            # z ~ N(0, I) of shape (n, method.latent_dim)

What a method is built from is decided before anything is built: the run plan (``bench.plan``) resolves the Hyper
once (:meth:`Method.resolve_hyper`: Hyper defaults < backbone recipe < options) and runs the method's construction
rules (:meth:`Method.check_build`: channels, classes, backbone pieces and image size, how G takes the class, the
aids), which the build runs again on the real data; a method declares those rules as class data (``class_input``,
``needs``, ``min_classes``, ``d_has_adversarial_logit``) or adds its own to ``check_build``. A method's display
name, whether it pretrains and its place in the paper's tables are class data the report reads (``display_name``,
``pretrains``, ``paper_order``).

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

from bench.config import AUGMENTS, QUIRKS, REGULARIZERS
from bench.errors import ConfigError, check, closest
from bench.methods import hyper as hyper_options
from bench.methods.backbones import Backbone, get_backbone
from bench.methods.diffaugment import POLICY as DIFFAUG_POLICY
from bench.methods.diffaugment import diff_augment
from bench.methods.lecam import LeCam
from bench.methods.losses import gp_mix_weights, gradient_penalty
from bench.methods.search import SearchSpace, check_space
from bench.registry import Registry

LossDict = dict[str, "float | torch.Tensor"]
"""Named scalars a step returns, named by path: ``loss/d``, ``loss/d_gp``, ``loss/g_eco`` ... Each a float or a
detached 0-d tensor; the loop converts tensors to floats once per iteration (no host sync per D step)."""
CLASS_INPUTS = ("generator", "latent")


@dataclass
class MethodConfig:
    """What a method is built from (``RunPlan.method_config``: the plan's resolved values and the data's facts).

    Attributes:
        num_classes: number of classes C (None only for :meth:`Method.check_build` before the data are loaded).
        image_size: side of the square images (16, 32 or 64).
        channels: 1 or 3 (None as num_classes).
        backbone: registered backbone name, or None for the method's default.
        g_cond: how the class enters a conditional generator (a backbone's ``g_conds``); None = the backbone's
            paper way. Methods whose class lives in their latent (``class_input = "latent"``) accept None only.
        quirks: ``"paper"`` reproduces the upstream code's bugs, ``"fixed"`` corrects them.
        regularizer: a D-loss regulariser the base adds to every D step (``none`` | ``lecam``).
        augment: an augmentation of every image D sees, applied by the base (``none`` | ``diffaug``).
        batch_size: batch size of G steps (D steps take the size of the real batch they get).
        class_counts: per-class training counts (used by BAGAN's class Gaussians and for reports).
        options: method hyperparameter overrides, keys of the method's ``Hyper`` (resolved when ``hyper`` is None).
        hyper: the resolved Hyper (the run plan's); None = resolve ``options`` when the method is built.
    """

    num_classes: int | None
    image_size: int
    channels: int | None
    backbone: str | None = None
    g_cond: str | None = None
    quirks: str = "paper"
    regularizer: str = "none"
    augment: str = "none"
    batch_size: int = 128
    class_counts: list[int] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    hyper: Any = None


@dataclass
class OptimizerSettings:
    """Adam settings of one network."""

    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.9)
    eps: float = 1e-8


@dataclass
class DiscriminatorLoss:
    """What a method's :meth:`Method.discriminator_loss` gives the base.

    Attributes:
        loss: the method's own D loss, a scalar (the base adds the aids and the gradient penalty).
        terms: named parts for losses.csv (``loss/d_adv`` ...), detached tensors or floats.
        real_logits, fake_logits: D's adversarial logits (B,) on the real batch and on the fakes, which LeCam
            regularises; None for a D without an adversarial logit (``d_has_adversarial_logit = False``).
        fakes: the fakes of this step, between which and the reals the gradient penalty is taken.
        critic: x -> D's adversarial logits (closing over the labels D needs), what the gradient penalty
            differentiates; None = no gradient penalty (the Hyper's ``gp_weight`` then must be 0 or absent).
    """

    loss: torch.Tensor
    terms: LossDict = field(default_factory=dict)
    real_logits: torch.Tensor | None = None
    fake_logits: torch.Tensor | None = None
    fakes: torch.Tensor | None = None
    critic: Callable[[torch.Tensor], torch.Tensor] | None = None


@dataclass
class GeneratorLoss:
    """What a method's :meth:`Method.generator_loss` gives the base: the G loss (a scalar) and its named parts."""

    loss: torch.Tensor
    terms: LossDict = field(default_factory=dict)


@dataclass(frozen=True)
class Phase:
    """One update of a training iteration: the net it trains, its optimizer, the loss (a function of tensors) and the
    net kept out of its backward (D during the G step)."""

    name: str
    module: nn.Module
    optimizer: torch.optim.Optimizer
    loss: Callable[..., Any]
    frozen: nn.Module | None = None


class Method:
    """Base class of a registered GAN method. Subclasses set the class attributes, build their nets in
    ``__init__`` (after ``super().__init__``) and implement :meth:`discriminator_loss` and :meth:`generator_loss`.

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
        class_input: how its G takes the class: ``"generator"`` (the backbone's conditional generator, as
            ``g_cond`` says) or ``"latent"`` (BAGAN's class Gaussians: ``g_cond`` must be left unset).
        needs: the backbone pieces it builds besides a trunk and a generator (``"decoder"``, ``"encoder"``).
        min_classes: the fewest classes it trains on (EBGAN's wrong-label term needs 2).
        d_has_adversarial_logit: whether D has a real/fake logit, which the ``lecam`` regulariser needs (BAGAN's
            (C + 1)-way D has none): the plan refuses ``lecam`` for a method that says False.
        search_space: the options ``bench tune`` varies and their ranges, each with its source
            (:class:`bench.methods.search.SearchSpace`), checked against the Hyper's rules and the option table when
            the method registers.
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
    class_input: ClassVar[str] = "generator"
    needs: ClassVar[tuple[str, ...]] = ()
    min_classes: ClassVar[int] = 1
    d_has_adversarial_logit: ClassVar[bool] = True  # D has a real/fake logit (what lecam regularises)
    search_space: ClassVar[SearchSpace] = SearchSpace()  # what bench tune varies (bench.methods.search)

    # set by subclasses' __init__
    G: nn.Module
    D: nn.Module
    G_ema: nn.Module | None = None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    latent_dim: int = 128
    ema_decay: float | None = None
    ema_start: int = 0
    # set by the loop (bench.run.loop); a method reads them through forward_context() and draw_rows()
    amp_dtype: torch.dtype | None = None  # autocast dtype of the steps' forward passes (bf16); None = fp32
    pretrain_opt: torch.optim.Optimizer | None = None  # the pretraining stage's optimizer while it runs
    shard: tuple[int, int] | None = None  # (rank, world) while data-parallel training draws noise; None = alone

    def __init__(self, config: MethodConfig, device: torch.device | str = "cpu") -> None:
        self.config = config
        self.device = torch.device(device)
        self.backbone = config.backbone or self.default_backbone
        self.hp = config.hyper if config.hyper is not None else self.resolve_hyper(config.options, self.backbone)
        type(self).check_build(config, self.hp)  # the plan ran these rules; here they meet the real data
        check(config.num_classes is not None and config.channels is not None,
              "a method is built for known data: num_classes and channels must be given")
        self.arch: Backbone = get_backbone(self.backbone)
        self.n_dis = self.d_steps(self.hp)
        self.lecam = LeCam().to(self.device) if config.regularizer == "lecam" else None
        self.augment_policy = DIFFAUG_POLICY if config.augment == "diffaug" else None
        self._augmenting = True  # off while d_class_scores looks at images as they are
        self._aids_installed = False

    # -- configuration (class methods: they run before anything is built) --------------------------
    @classmethod
    def backbone_recipe(cls, backbone: str) -> dict[str, Any]:
        """Option values this method takes on ``backbone`` unless the run's options say otherwise: the backbone's
        latent size here (for a Hyper with a ``latent_dim`` option); methods with per-backbone recipes add theirs."""
        return {"latent_dim": get_backbone(backbone).default_latent_dim}

    @classmethod
    def resolve_hyper(cls, options: dict[str, Any], backbone: str | None = None) -> Any:
        """The full, checked ``Hyper`` of a run on ``backbone`` (None = the default one): defaults < the backbone's
        recipe < ``options``. An unknown option or a bad value is a ConfigError naming the method and the key."""
        return hyper_options.resolve(cls.name, cls.Hyper, cls.backbone_recipe(backbone or cls.default_backbone),
                                     options)

    @staticmethod
    def d_steps(hyper: Any) -> int:
        """D updates per iteration under a resolved Hyper: its ``n_dis``, else 1."""
        return int(getattr(hyper, "n_dis", 1))

    @classmethod
    def d_steps_per_iteration(cls, options: dict[str, Any], backbone: str | None = None) -> int:
        """D updates per iteration (``n_dis``) this method makes with ``options`` (:meth:`d_steps`)."""
        return cls.d_steps(cls.resolve_hyper(options, backbone))

    @classmethod
    def resolve_g_cond(cls, arch: Backbone, g_cond: str | None) -> str | None:
        """How G takes the class on ``arch``: ``g_cond`` checked against the backbone's ways (None = its paper way)
        for a method whose G is the backbone's conditional generator; None for a method whose class lives in its
        latent, which refuses any ``g_cond``."""
        check(cls.class_input in CLASS_INPUTS, f"method {cls.name!r}: class_input must be one of "
                                               f"{', '.join(CLASS_INPUTS)}, got {cls.class_input!r}")
        if cls.class_input == "latent":
            check(g_cond is None, f"{cls.name}'s G takes the class through its latent class Gaussians; g_cond = "
                                  f"{g_cond!r} does not apply to it (leave g_cond unset)")
            return None
        return arch.check_g_cond(g_cond)

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
    def check_build(cls, config: MethodConfig, hyper: Any) -> None:
        """Every rule the build of this method would enforce, without building anything (the run plan calls it for
        ``bench run --dry-run``; ``__init__`` calls it again with the data's facts): quirks, channels and classes
        (when known), the training aids, the backbone (image size, width divisor, the pieces in ``needs``) and how
        G takes the class. A ConfigError says what is refused; a subclass adds its own rules after ``super()``."""
        check(config.quirks in QUIRKS, f"unknown quirks {config.quirks!r}{closest(config.quirks, QUIRKS)}; "
                                       f"known: {', '.join(QUIRKS)}")
        if config.channels is not None:
            check(config.channels in (1, 3), f"channels must be 1 or 3, got {config.channels}")
        if config.num_classes is not None:
            check(config.num_classes >= max(1, cls.min_classes),
                  f"{cls.name} needs at least {max(1, cls.min_classes)} classes"
                  f"{' (its wrong-label term)' if cls.min_classes > 1 else ''}, got num_classes {config.num_classes}")
        cls.check_training_aids(config.regularizer, config.augment)
        arch = get_backbone(config.backbone or cls.default_backbone)
        arch.check_pieces(cls.needs)
        arch.check(config.channels if config.channels is not None else 3, config.image_size,
                   getattr(hyper, "div", 1))
        cls.resolve_g_cond(arch, config.g_cond)

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

    @classmethod
    def describe(cls) -> str:
        """One line for ``bench list methods``."""
        return f"{cls.name:<10} {cls.default_backbone:<9} {cls.paper_row}"

    # -- pretraining -----------------------------------------------------------------------------------
    @property
    def has_pretrain(self) -> bool:
        """Whether the loop must run the pretraining stage before the first step."""
        return False

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
        the Hyper's ``pretrain_epochs``), :meth:`finish_pretrain`. ``loader`` yields (x in [-1, 1], y) batches on the
        method's device and is re-iterable (one pass = one epoch). The loop runs the same sequence itself, epoch
        by epoch with a checkpoint after each, for the plan's epochs (``bench.run.loop``). Returns the last epoch's
        mean losses per image."""
        if not self.has_pretrain:
            return {}
        epochs = int(getattr(self.hp, "pretrain_epochs", 0)) if epochs is None else epochs
        self.begin_pretrain()
        means: LossDict = {}
        for _ in range(epochs):
            means = self.pretrain_epoch(loader)
        self.finish_pretrain(loader)
        return means

    def discriminator_loss(self, real_x: torch.Tensor, real_y: torch.Tensor) -> DiscriminatorLoss:
        """The method's D loss on a checked real batch (x (B,C,H,W) in [-1,1], y (B,) int64), computed inside the
        base's autocast, with D's adversarial logits, the fakes and the critic the base's aids and GP need. Draw
        noise through :meth:`sample_z`, :meth:`sample_labels` or :meth:`draw_rows`."""
        raise NotImplementedError

    def generator_loss(self, y: torch.Tensor) -> GeneratorLoss:
        """The method's G loss on fakes of the labels ``y`` (``config.batch_size`` of them, uniform over all
        classes), computed inside the base's autocast with D frozen."""
        raise NotImplementedError

    def phases(self) -> dict[str, Phase]:
        """The updates of one iteration: ``D`` (n_dis times: D, opt_d, :meth:`discriminator_loss`) and ``G`` (G,
        opt_g, :meth:`generator_loss`, D frozen). A method that trains other nets in a phase overrides this."""
        return {"D": Phase("D", self.D, self.opt_d, self.discriminator_loss),
                "G": Phase("G", self.G, self.opt_g, self.generator_loss, frozen=self.D)}

    # -- training: the step sequence, the base's for every method --------------------------------------
    def d_step(self, real_x: torch.Tensor, real_y: torch.Tensor) -> LossDict:
        """One discriminator update on a real batch (x (B,C,H,W) in [-1,1], y (B,) int64): the batch checked
        (:func:`check_real_batch`); inside autocast the method's D loss, then LeCam (``regularizer = lecam``), then
        the gradient penalty (the Hyper's ``gp_weight`` > 0, its α drawn last); then one optimizer step."""
        check_real_batch(real_x, real_y, self.config.num_classes)
        phase = self.phases()["D"]
        self._install_aids(phase.module)
        with self.forward_context():
            out = phase.loss(real_x, real_y)
            loss, terms = out.loss, dict(out.terms)
            if self.lecam is not None:
                check(out.real_logits is not None and out.fake_logits is not None,
                      f"method {self.name!r}: its discriminator_loss returns no adversarial logits, which regularizer "
                      f"'lecam' needs (a D without one sets d_has_adversarial_logit = False)")
                penalty = self.lecam(out.real_logits, out.fake_logits)
                loss = loss + self.lecam.weight * penalty
                terms["loss/d_lecam"] = penalty.detach()
            gp_weight = getattr(self.hp, "gp_weight", 0.0) or 0.0
            if gp_weight > 0:
                check(out.critic is not None and out.fakes is not None,
                      f"method {self.name!r}: gp_weight = {gp_weight} but its discriminator_loss returns no critic "
                      f"and fakes for the gradient penalty")
                alpha = self.draw_rows(real_x.shape[0], lambda n: gp_mix_weights(n, real_x, self.config.quirks))
                penalty = gradient_penalty(out.critic, real_x, out.fakes, quirks=self.config.quirks, alpha=alpha)
                loss = loss + gp_weight * penalty
                terms["loss/d_gp"] = penalty.detach()
        self.optimizer_step(phase.optimizer, loss)
        return {"loss/d": loss.detach(), **terms}

    def g_step(self) -> LossDict:
        """One generator update on ``config.batch_size`` fakes with labels uniform over all classes: D frozen, the
        method's G loss inside autocast, one optimizer step."""
        phase = self.phases()["G"]
        self._install_aids(self.phases()["D"].module)
        y = self.sample_labels(self.config.batch_size)
        with self.frozen(phase.frozen) if phase.frozen is not None else contextlib.nullcontext():
            with self.forward_context():
                out = phase.loss(y)
            self.optimizer_step(phase.optimizer, out.loss)
        return {"loss/g": out.loss.detach(), **out.terms}

    def _install_aids(self, d_net: nn.Module) -> None:
        """Once, before the first step: DiffAugment (``augment = diffaug``) as a forward pre-hook on the input of
        D's trunk (or of D, when it has no ``trunk``), so that every image D sees in the steps — reals, fakes, the
        gradient penalty's interpolates — is augmented, and nothing else is (``d_class_scores`` switches it off)."""
        if self._aids_installed:
            return
        self._aids_installed = True
        if self.augment_policy is not None:
            getattr(d_net, "trunk", d_net).register_forward_pre_hook(self._augment_d_input)

    def _augment_d_input(self, _module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        if not self._augmenting:
            return None
        x = args[0]

        def draw(shape: tuple[int, ...]) -> torch.Tensor:  # through draw_rows: ranks of a data-parallel run agree
            return self.draw_rows(shape[0], lambda n: torch.rand((n, *shape[1:]), device=x.device))

        return (diff_augment(x, self.augment_policy, draw), *args[1:])

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
        check_space(cls)  # a misspelt or out-of-rule key fails here, at import, in one line
        return METHODS.add(name, cls)

    return wrap
