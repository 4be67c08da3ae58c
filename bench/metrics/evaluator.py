"""The Evaluator: one metrics row (and per-class rows) for a method at a step, under a named protocol.

The training loop calls::

    evaluator = Evaluator(cfg, train_set, reference_set, device)     # once per run
    result = evaluator.evaluate(method, step, "paper")               # at each evaluation
    append(metrics.csv, result.row); append(per_class.csv, result.per_class)

Per call: the protocol (:mod:`bench.metrics.protocols`) picks the reference set, the label mix and the
extractor (``cfg.extractor`` overrides it); a deterministic, histogram-keeping subset of at most
``cfg.num_eval_samples`` reference images is chosen; its features and FID statistics come from the cache
(:mod:`bench.metrics.reference`). Then n_fake = n_real fakes are generated in memory with z drawn from a
private ``torch.Generator`` seeded by (cfg.seed, step), quantised to uint8 as the paper does, and passed
once through the extractor (and the reference classifier, for conditional accuracy). Every metric comes from
that one pass. The whole call runs under :func:`bench.rng.preserved_rng`: the global RNG state after
evaluation equals the state before, so training never depends on evaluation.

Metrics (``metrics.csv``; NaN where undefined):
    fid                 FID vs the reference (torch-fidelity's ``fid_statistics_to_metric``).
    is_mean, is_std     Inception Score over the protocol's 10 splits (softmax of the extractor's logits).
    kid_mean, kid_std   KID, 100 subsets of min(1000, n_real, n_fake) rows (:mod:`bench.metrics.kid`).
    precision, recall   k = 3 nearest-neighbour manifolds (:mod:`bench.metrics.prc`).
    ifid_mean           mean intra-class FID over classes with >= 2 real and >= 2 fake samples.
    fid_head, fid_tail  FID over the head / tail classes: head = TRAIN count >= median TRAIN count.
    cond_acc            mean over classes of the share of class-c fakes that the reference classifier calls c.
    judge_acc           the reference classifier's class-mean accuracy on real train images (its ceiling).
    d_acc_real          D's own class-mean accuracy on the balanced reference images (NaN: D has no class view).
    d_acc_fake          D's own class-mean accuracy on the fakes, against the labels they were generated for.
    label_sens          ‖G(z, y) − G(z, y′)‖ / ‖G(z, y) − G(z′, y)‖ (:mod:`bench.metrics.conditioning`).
    fid_lo, fid_hi      95% basic bootstrap interval of fid over ``cfg.bootstrap`` class-stratified resamples of
                        the real and the fake features (:mod:`bench.metrics.bootstrap`); so too
                        fid_head_lo/_hi, fid_tail_lo/_hi, and per_class.csv's fid_lo/_hi. NaN with bootstrap = 0,
                        and (with a note) where every class holds one image on both sides.
    fid_half_a, _b      FID of all fakes against half A / half B of the reference (alternate rows within each
                        class): the report picks the best step on A and reports B there (held-out best step).
    density, coverage   Naeem et al. 2020's k = 5 density (fidelity) and coverage (diversity) of the fakes
                        against the reference (:mod:`bench.metrics.coverage`).
    diversity           mean over classes of the intra-class diversity ratio sqrt(Tr Σ_fake,c / Tr Σ_real,c)
                        (:mod:`bench.metrics.diversity`); diversity_min its minimum over classes.
    collapsed_classes   classes whose own diversity, coverage and density meet the collapse rule
                        (:mod:`bench.metrics.collapse`); collapsed = 1 when the overall numbers meet it, else 0.
    ifid_rare10, _rare20  mean intra-class FID over the rarest 10 % / 20 % of the classes by training count (at
                        least one class); ikid_rare10, _rare20 the same for intra-class KID (:mod:`bench.metrics.tail`).
    density_half_a ...  density, coverage, diversity and collapsed of all fakes against half A (``_half_a``) and
                        half B (``_half_b``) of the reference, k = 3 neighbours (:mod:`bench.metrics.halves`): what
                        ``bench tune`` scores on half A and the held-out report shows on half B.

Per class (``per_class.csv``) the same: coverage, density, diversity and collapsed of the class's fakes against
the class's reference images, and ``kid``: the intra-class KID (:func:`bench.metrics.kid.class_kid`) of the rarest
20 % of the classes and of every class with no more real images than the feature dimension (NaN elsewhere).
Diversity, coverage and density are measured in the evaluation's feature space:
at the cpu, lab and smoke scales a label-free one (``random-cnn``), so that variation within a class counts; the
``classifier`` stays the judge of class identity (cond_acc, judge_acc) and gives IS its logits when the
extractor has none.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from typing import Protocol as TypingProtocol

import torch

from bench.config import RunConfig
from bench.datasets.base import ImageSet, float_to_uint8
from bench.errors import ConfigError, check, unknown_name
from bench.metrics.accuracy import conditional_accuracy
from bench.metrics.bootstrap import (
    basic_interval,
    reference_halves,
    resamplable_groups,
    resampled_fids,
    stratified_counts,
)
from bench.metrics.cache import default_cache_root
from bench.metrics.collapse import collapsed_classes, is_collapsed
from bench.metrics.conditioning import batched_scores, class_mean_accuracy, d_scores_of, label_sensitivity
from bench.metrics.coverage import density_coverage
from bench.metrics.diversity import diversity_ratio
from bench.metrics.extractors import FeatureExtractor, get_extractor, list_extractors
from bench.metrics.fid import fid_from_statistics, fid_statistics, frechet_distance, per_class_fid
from bench.metrics.halves import HALF_HEALTH_COLUMNS, half_health
from bench.metrics.isc import inception_score
from bench.metrics.kid import class_kid, kernel_inception_distance
from bench.metrics.prc import precision_recall
from bench.metrics.protocols import PROTOCOLS, fake_count, fake_labels, get_protocol, head_classes, subset_indices
from bench.metrics.reference import ReferenceFeatures, load_or_compute_reference
from bench.metrics.tail import TAIL_COLUMNS, kid_classes, tail_summary
from bench.metrics.weights import WEIGHTS_FILES
from bench.rng import eval_seed, preserved_rng

METRICS_COLUMNS = ["step", "source", "protocol", "extractor", "reference", "label_mix", "n_real", "n_fake", "fid",
                   "is_mean", "is_std", "kid_mean", "kid_std", "precision", "recall", "ifid_mean", "fid_head",
                   "fid_tail", "cond_acc", "judge_acc", "d_acc_real", "d_acc_fake", "label_sens", "fid_lo",
                   "fid_hi", "fid_head_lo", "fid_head_hi", "fid_tail_lo", "fid_tail_hi", "fid_half_a", "fid_half_b",
                   "density", "coverage", "diversity", "diversity_min", "collapsed_classes", "collapsed"]
_CORE_PER_CLASS_COLUMNS = ["step", "source", "protocol", "extractor", "class", "class_name", "train_count", "n_real",
                           "n_fake", "fid", "cond_acc", "d_acc_fake", "fid_lo", "fid_hi", "coverage", "density",
                           "diversity", "collapsed"]
# appended at the end: the tail metrics (bench.metrics.tail: metrics.csv's means over the rarest classes,
# per_class.csv's intra-class KID), then the health of the fakes against each half of the reference
# (bench.metrics.halves)
METRICS_COLUMNS += [*TAIL_COLUMNS, *HALF_HEALTH_COLUMNS]
PER_CLASS_COLUMNS = [*_CORE_PER_CLASS_COLUMNS, "kid"]
CLASSIFIER = "classifier"


class Generates(TypingProtocol):
    """What the Evaluator uses of a method (bench.methods.base.Method satisfies it)."""

    latent_dim: int
    device: torch.device

    def generate(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor: ...


@dataclass
class EvalResult:
    """One evaluation: a ``metrics.csv`` row and its ``per_class.csv`` rows (keys in column order)."""

    row: dict[str, Any]
    per_class: list[dict[str, Any]]


class Evaluator:
    """Measures a method under the named protocols, with reference features cached across calls.

    Args:
        cfg: the run's config; uses ``seed``, ``extractor``, ``num_eval_samples``, ``protocols`` (checked),
            ``image_size`` and ``channels`` (checked against the data), ``inception_weights`` and
            ``tv_inception_weights`` (weights files) and ``dataset`` (in messages).
        train_set: the (long-tailed) training split: the ``paper`` reference and the head/tail counts.
        reference_set: the balanced reference split (``split="test"``): the ``standard`` reference and the
            classifier's training data.
        device: where extractors and metrics run.
        cache_root: folder of the disk caches (classifier weights, reference features); None =
            :func:`bench.metrics.cache.default_cache_root` ($BENCH_CACHE, else ~/.cache/ecogan-bench).
        batch_size: images per generation / extraction batch.
        extractors: extractors already built, by name (e.g. an untrained judge for a time calibration,
            ``bench.estimate``); the others are built on first use.

    Raises:
        ConfigError: unknown protocol or extractor in ``cfg``; train and reference sets that disagree with each
            other or with ``cfg`` on the number of classes, channels or image size.
    """

    def __init__(self, cfg: RunConfig, train_set: ImageSet, reference_set: ImageSet, device: torch.device | str,
                 cache_root: Path | str | None = None, batch_size: int = 128,
                 extractors: dict[str, FeatureExtractor] | None = None) -> None:
        for name in cfg.protocols:
            get_protocol(name)
        if cfg.extractor is not None and cfg.extractor not in list_extractors():
            raise unknown_name("feature extractor (config key extractor)", cfg.extractor, list_extractors())
        check(train_set.num_classes == reference_set.num_classes,
              f"{cfg.dataset}: train split has {train_set.num_classes} classes, reference split "
              f"{reference_set.num_classes}")
        shape_train, shape_ref = tuple(train_set.images.shape[1:]), tuple(reference_set.images.shape[1:])
        check(shape_train == shape_ref, f"{cfg.dataset}: train images are {shape_train}, reference images {shape_ref}")
        check(train_set.image_size == cfg.image_size and cfg.channels in (None, train_set.channels),
              f"{cfg.dataset}: config asks for image_size={cfg.image_size}, channels={cfg.channels} but the train "
              f"images are {shape_train}")
        check(isinstance(batch_size, int) and batch_size >= 2, f"batch_size must be >= 2, got {batch_size!r}")
        self.cfg = cfg
        self.train_set = train_set
        self.reference_set = reference_set
        self.device = torch.device(device)
        self.cache_root = Path(cache_root) if cache_root is not None else default_cache_root()
        self.batch_size = batch_size
        self._extractors: dict[str, FeatureExtractor] = dict(extractors or {})
        self._references: dict[tuple[str, str, int], ReferenceFeatures] = {}
        self._judge_acc: float | None = None
        self._noted_fixed: list[str] = []  # the FIDs whose NaN intervals a note explained

    # -- building blocks (cached per Evaluator) ---------------------------------------------------------------
    def extractor(self, name: str) -> FeatureExtractor:
        """The extractor ``name``, built once per Evaluator (the classifier trains on the reference split).

        An Inception extractor's weights file is the config key of :data:`bench.metrics.weights.WEIGHTS_FILES`
        (``inception_weights`` / ``tv_inception_weights``) when set, else found as :mod:`bench.metrics.weights`
        says.
        """
        if name not in self._extractors:
            spec = WEIGHTS_FILES.get(name)
            weights_path = getattr(self.cfg, spec.config_key) if spec is not None else None
            with preserved_rng():
                self._extractors[name] = get_extractor(name, self.device, reference_set=self.reference_set,
                                                       cache_root=self.cache_root, weights_path=weights_path)
        return self._extractors[name]

    def reference(self, protocol: str) -> tuple[ImageSet, ReferenceFeatures]:
        """The protocol's reference set and the cached features of its evaluation subset."""
        proto = get_protocol(protocol)
        ref_set = self.train_set if proto.reference == "train-lt" else self.reference_set
        extractor_name = self.cfg.extractor or proto.extractor
        indices = subset_indices(ref_set.labels, self.cfg.num_eval_samples)
        key = (proto.reference, extractor_name, indices.numel())
        if key not in self._references:
            self._references[key] = load_or_compute_reference(ref_set, indices, self.extractor(extractor_name),
                                                               self.cache_root, self.batch_size)
        return ref_set, self._references[key]

    def judge(self) -> FeatureExtractor:
        """The reference classifier (trained on the reference split on first use, then cached on disk)."""
        return self.extractor(CLASSIFIER)

    def prepare(self) -> None:
        """Everything an evaluation reuses, built now rather than in the first evaluation: the judge, each
        protocol's extractor and cached reference features, the judge's accuracy on real train images. Draws
        nothing from the global generators."""
        with preserved_rng():
            self.judge()
            for protocol in self.cfg.protocols:
                self.reference(protocol)
            self.judge_accuracy()

    def judge_accuracy(self) -> float:
        """The reference classifier's class-mean accuracy on (a histogram-keeping subset of) the train split,
        which it never trained on: the ceiling of conditional accuracy. Computed once per Evaluator."""
        if self._judge_acc is None:
            images, labels = self._subset(self.train_set)
            scores = batched_scores(lambda x: self.extractor(CLASSIFIER)(x)[1], images, self.batch_size)
            self._judge_acc = class_mean_accuracy(scores, labels, self.train_set.num_classes)
        return self._judge_acc

    def _subset(self, image_set: ImageSet) -> tuple[torch.Tensor, torch.Tensor]:
        index = subset_indices(image_set.labels, self.cfg.num_eval_samples)
        return image_set.images[index].to(self.device), image_set.labels[index]

    def conditioning(self, method: Generates, step: int) -> dict[str, float]:
        """``judge_acc``, ``d_acc_real`` (D on the balanced reference images) and ``label_sens`` at ``step``."""
        images, labels = self._subset(self.reference_set)
        d_scores = batched_scores(d_scores_of(method), images, self.batch_size)
        return {"judge_acc": self.judge_accuracy(),
                "d_acc_real": class_mean_accuracy(d_scores, labels, self.reference_set.num_classes),
                "label_sens": label_sensitivity(method, self.train_set.num_classes, eval_seed(self.cfg.seed, step) + 1)}

    # -- one evaluation --------------------------------------------------------------------------------------
    def evaluate(self, method: Generates, step: int, protocol: str, source: str = "train",
                 fakes: int | None = None) -> EvalResult:
        """Generate, extract and measure; see the module docstring for the metrics.

        Args:
            method: anything with ``generate(z, y)`` (images in [-1, 1]), ``latent_dim`` and ``device``.
            step: the training step (seeds the evaluation noise with ``cfg.seed``).
            protocol: ``paper``, ``standard`` or ``studiogan`` (:data:`bench.metrics.protocols.PROTOCOLS`).
            source: the ``source`` column: ``train``, ``final:best``, ``final:last``, ``eval:best``, ``eval:latest``.
            fakes: how many fakes to generate (the final measurement's ``final_fakes``); None = ``cfg.eval_fakes``,
                else one per reference image. A protocol with ``fakes = "reference"`` (paper) ignores both.

        Returns:
            :class:`EvalResult` with one row per :data:`METRICS_COLUMNS` and one per class.
        """
        proto = get_protocol(protocol)
        extractor_name = self.cfg.extractor or proto.extractor
        with preserved_rng():
            ref_set, ref = self.reference(protocol)
            n_fake = fake_count(proto, ref.labels.numel(), fakes if fakes is not None else self.cfg.eval_fakes)
            labels = fake_labels(proto, ref.labels, ref_set.num_classes, n_fake)
            features, logits, cls_logits, d_scores = self._generate_and_extract(method, step, labels, extractor_name)
            diagnostics = self.conditioning(method, step)
        result = self._measure(step, source, proto.name, extractor_name, ref, labels, features, logits, cls_logits)
        num_classes = self.train_set.num_classes
        d_fake = conditional_accuracy(d_scores, labels, num_classes) if d_scores is not None else None
        result.row.update(diagnostics, d_acc_fake=_nanmean(d_fake) if d_fake is not None else math.nan)
        for c, row in enumerate(result.per_class):
            row["d_acc_fake"] = float(d_fake[c]) if d_fake is not None else math.nan
        return result

    def _generate_and_extract(self, method: Generates, step: int, labels: torch.Tensor,
                              extractor_name: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                            torch.Tensor | None]:
        """One pass: fakes for ``labels`` -> uint8 -> (features, IS logits, classifier logits, D's class scores or
        None), on the CPU."""
        extractor, classifier = self.extractor(extractor_name), self.extractor(CLASSIFIER)
        expected = tuple(self.reference_set.images.shape[1:])
        noise = torch.Generator().manual_seed(eval_seed(self.cfg.seed, step))
        z_all = torch.randn(labels.numel(), method.latent_dim, generator=noise)  # independent of batch size
        d_score = d_scores_of(method)
        feats, logits, cls_logits, d_scores = [], [], [], []
        for z, y in zip(z_all.split(self.batch_size), labels.split(self.batch_size), strict=True):
            with torch.no_grad():  # a generate() without its own no_grad would otherwise build a graph per batch
                images = method.generate(z.to(method.device), y.to(method.device))
            if tuple(images.shape[1:]) != expected:
                raise ConfigError(f"the method generates {tuple(images.shape[1:])} images but {self.cfg.dataset} "
                                  f"images are {expected} (check image_size and channels)")
            fakes = float_to_uint8(images.detach().float()).to(self.device)
            f, lg = extractor(fakes)
            c = lg if extractor is classifier else classifier(fakes)[1]
            feats.append(f.cpu())
            logits.append(lg.cpu())
            cls_logits.append(c.cpu())
            d = d_score(fakes)
            d_scores.append(d.float().cpu() if d is not None else None)
        d_all = None if any(d is None for d in d_scores) else torch.cat(d_scores)
        return torch.cat(feats), torch.cat(logits), torch.cat(cls_logits), d_all

    def _measure(self, step: int, source: str, protocol: str, extractor_name: str, ref: ReferenceFeatures,
                 labels: torch.Tensor, features: torch.Tensor, logits: torch.Tensor,
                 cls_logits: torch.Tensor) -> EvalResult:
        """All metrics from the reference features and one set of fake features / logits."""
        proto = PROTOCOLS[protocol]
        num_classes = self.train_set.num_classes
        real, fake = ref.features.to(self.device), features.to(self.device)
        n_real, n_fake = real.shape[0], fake.shape[0]
        fid = fid_from_statistics(ref.stats, fid_statistics(fake)) if min(n_real, n_fake) >= 2 else math.nan
        is_logits = logits if logits.shape[1] else cls_logits  # a label-free extractor has no class logits
        is_mean, is_std = inception_score(is_logits, proto.is_splits, proto.is_shuffle_seed)
        kid_mean, kid_std = kernel_inception_distance(fake, real)
        precision, recall = precision_recall(fake, real)
        class_fid = per_class_fid(real, ref.labels.to(self.device), fake, labels.to(self.device), num_classes)
        class_acc = conditional_accuracy(cls_logits, labels, num_classes)
        train_counts = self.train_set.class_counts
        real_counts = torch.bincount(ref.labels, minlength=num_classes)
        intra_kid = class_kid(real, ref.labels.to(self.device), fake, labels.to(self.device), num_classes,
                              kid_classes(train_counts, real_counts, real.shape[1]))
        is_head = head_classes(train_counts)
        fid_head = frechet_distance(real[is_head[ref.labels]], fake[is_head[labels]])
        fid_tail = frechet_distance(real[~is_head[ref.labels]], fake[~is_head[labels]])
        real_labels, fake_labels_dev = ref.labels.to(self.device), labels.to(self.device)
        spread = density_coverage(real, real_labels, fake, fake_labels_dev, num_classes)
        class_diversity = diversity_ratio(real, real_labels, fake, fake_labels_dev, num_classes)
        class_collapsed = collapsed_classes(class_diversity, spread.class_coverage, spread.class_density)
        diversity = _nanmean(class_diversity)
        half_a = reference_halves(ref.labels).to(self.device)
        halves = {**half_health(real[half_a], real_labels[half_a], fake, fake_labels_dev, num_classes, "a"),
                  **half_health(real[~half_a], real_labels[~half_a], fake, fake_labels_dev, num_classes, "b")}
        intervals = self._intervals(step, real, ref.labels, fake, labels, is_head,
                                    torch.tensor([fid, fid_head, fid_tail], dtype=torch.float64), class_fid)
        values = {"step": int(step), "source": source, "protocol": protocol, "extractor": extractor_name,
                  "reference": proto.reference, "label_mix": proto.label_mix, "n_real": n_real, "n_fake": n_fake,
                  "fid": fid, "is_mean": is_mean, "is_std": is_std, "kid_mean": kid_mean, "kid_std": kid_std,
                  "precision": precision, "recall": recall, "ifid_mean": _nanmean(class_fid),
                  "fid_head": fid_head, "fid_tail": fid_tail, "cond_acc": _nanmean(class_acc),
                  "fid_half_a": frechet_distance(real[half_a], fake),
                  "fid_half_b": frechet_distance(real[~half_a], fake),
                  "density": spread.density, "coverage": spread.coverage, "diversity": diversity,
                  "diversity_min": _nanmin(class_diversity), "collapsed_classes": int(class_collapsed.sum()),
                  "collapsed": int(is_collapsed(diversity, spread.coverage, spread.density)),
                  **intervals.row, **tail_summary(class_fid, intra_kid, train_counts), **halves}
        row = {k: values.get(k, math.nan) for k in METRICS_COLUMNS}
        fake_counts = torch.bincount(labels, minlength=num_classes).tolist()
        per_class = [dict(zip(_CORE_PER_CLASS_COLUMNS, (
            int(step), source, protocol, extractor_name, c, self.train_set.class_names[c], train_counts[c],
            int(real_counts[c]), fake_counts[c], float(class_fid[c]), float(class_acc[c]), math.nan,
            float(intervals.class_lo[c]), float(intervals.class_hi[c]), float(spread.class_coverage[c]),
            float(spread.class_density[c]), float(class_diversity[c]), int(class_collapsed[c])), strict=True))
            | {"kid": float(intra_kid[c])}
            for c in range(num_classes)]
        return EvalResult(row=row, per_class=per_class)

    def _intervals(self, step: int, real: torch.Tensor, real_labels: torch.Tensor, fake: torch.Tensor,
                   fake_labels: torch.Tensor, is_head: torch.Tensor, pooled_fid: torch.Tensor,
                   class_fid: torch.Tensor) -> _Intervals:
        """Bootstrap intervals of the overall, head, tail (``pooled_fid``) and per-class FIDs; NaN when
        ``cfg.bootstrap`` is 0. The resamples come from a private generator seeded by (cfg.seed, step)."""
        num_classes = self.train_set.num_classes
        nan = torch.full((num_classes,), math.nan, dtype=torch.float64)
        if self.cfg.bootstrap == 0:
            return _Intervals({k: math.nan for k in _INTERVAL_KEYS}, nan, nan)
        noise = torch.Generator().manual_seed(eval_seed(self.cfg.seed, step) + 2)
        weights_real = stratified_counts(real_labels, self.cfg.bootstrap, noise)
        weights_fake = stratified_counts(fake_labels, self.cfg.bootstrap, noise)
        groups = torch.stack([torch.ones_like(is_head), is_head, ~is_head])
        per_class, pooled = resampled_fids(real, real_labels, weights_real, fake, fake_labels, weights_fake,
                                           num_classes, groups)
        lo, hi = basic_interval(pooled_fid, pooled)
        fixed = ~resamplable_groups(real_labels, fake_labels, groups, num_classes)
        lo[fixed], hi[fixed] = math.nan, math.nan
        self._note_fixed_groups(fixed, len(real_labels), len(fake_labels))
        class_lo, class_hi = basic_interval(class_fid.double(), per_class)
        values = [float(v) for pair in zip(lo, hi, strict=True) for v in pair]
        return _Intervals(dict(zip(_INTERVAL_KEYS, values, strict=True)), class_lo, class_hi)

    def _note_fixed_groups(self, fixed: torch.Tensor, n_real: int, n_fake: int) -> None:
        """Say once per Evaluator which FIDs get no interval because resampling cannot vary them."""
        names = [name for name, is_fixed in zip(("fid", "fid_head", "fid_tail"), fixed.tolist(), strict=True)
                 if is_fixed]
        if names and names != self._noted_fixed:
            self._noted_fixed = names
            words = {"fid": "FID", "fid_head": "head FID", "fid_tail": "tail FID"}
            print(f"note: {self.cfg.dataset}: the classes of the {', '.join(words[n] for n in names)} hold at most "
                  f"one image each among the {n_real} reference and {n_fake} generated images, so class-stratified "
                  f"resampling cannot vary them: {', '.join(f'{n}_lo/{n}_hi' for n in names)} are NaN, not a "
                  f"zero-width interval", file=sys.stderr)

_INTERVAL_KEYS = ("fid_lo", "fid_hi", "fid_head_lo", "fid_head_hi", "fid_tail_lo", "fid_tail_hi")


@dataclass
class _Intervals:
    row: dict[str, float]  # the _INTERVAL_KEYS
    class_lo: torch.Tensor  # (C,)
    class_hi: torch.Tensor


def _nanmin(values: torch.Tensor) -> float:
    """Minimum over the finite entries; NaN when there is none."""
    finite = values[~values.isnan()]
    return float(finite.min()) if finite.numel() else math.nan


def _nanmean(values: torch.Tensor) -> float:
    """Mean over the finite entries; NaN when there is none."""
    finite = values[~values.isnan()]
    return float(finite.mean()) if finite.numel() else math.nan
