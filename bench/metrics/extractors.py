"""Feature extractors: a registry of name -> class, each mapping uint8 image batches to (features, logits).

========================  =====================================================  ========  ==========
name                      network                                                features  IS logits
========================  =====================================================  ========  ==========
``inception-v3-compat``   torch-fidelity's TF-FID InceptionV3 (TF1-exact resize)  2048      1008 (``logits_unbiased``)
``torchvision-inception`` torchvision ImageNet InceptionV3 (the ECOGAN code's)    2048      1000
``dinov2``                DINOv2 ViT-L/14, the [CLS] token (FD-DINOv2)            1024      none (0)
``classifier``            bench's small CNN trained on the reference split        128       C
``random-cnn``            a fixed, randomly initialised conv net: label-free      128       none (0)
========================  =====================================================  ========  ==========

An extractor without class logits (``random-cnn``, ``dinov2``) returns logits of shape (N, 0); the evaluator then
takes IS from the judge's (the classifier's) logits.

Every extractor takes uint8 (N, C, H, W) images with C in {1, 3} (1-channel images are repeated to 3 for the
ImageNet nets) and returns float32 ``(features (N, F), logits (N, K))`` on its device; IS uses
``softmax(logits)``. ``cache_tag`` names the weights, so reference caches change when the weights do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from bench import progress
from bench.datasets.base import ImageSet, uint8_to_float
from bench.errors import ConfigError, check
from bench.metrics.cache import default_cache_root
from bench.metrics.classifier import ReferenceClassifier, load_or_train_classifier, weights_tag
from bench.metrics.dinov2 import VIT_L14, load_dinov2, preprocess
from bench.metrics.random_features import RandomConvNet
from bench.metrics.random_features import weights_tag as random_tag
from bench.metrics.weights import DINOV2_VITL14, INCEPTION_V3_COMPAT, TORCHVISION_INCEPTION, resolve_weights
from bench.registry import Registry
from bench.rng import preserved_rng
from bench.speed import phase

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INCEPTION_SIZE = 299

EXTRACTORS: Registry[type[FeatureExtractor]] = Registry("feature extractor")


class FeatureExtractor:
    """Base class: subclasses set ``name`` (by :func:`register_extractor`) and implement :meth:`forward`."""

    name: ClassVar[str] = ""
    cache_tag: str = ""  # identifies the weights; part of every reference-feature cache key

    def __init__(self, device: torch.device | str) -> None:
        self.device = torch.device(device)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 (N, C, H, W) on ``self.device`` -> (features (N, F), logits (N, K)), float32."""
        raise NotImplementedError

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check(images.dtype == torch.uint8 and images.ndim == 4 and images.shape[1] in (1, 3),
              f"{self.name} extractor expects uint8 (N, 1|3, H, W) images, got {images.dtype} {tuple(images.shape)}")
        features, logits = self.forward(images.to(self.device))
        return features.float(), logits.float()

    def extract(self, images: torch.Tensor, batch_size: int = 128,
                bar_name: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """All of ``images`` (uint8 (N, C, H, W), any device) in batches -> (features, logits) on the CPU; with a
        progress bar named ``bar_name`` when given (:mod:`bench.progress`)."""
        outs = []
        with progress.bar(images.shape[0], bar_name or "", unit="img", leave=False, disable=bar_name is None) as bar:
            for batch in images.split(batch_size):
                outs.append(self(batch))
                bar.update(batch.shape[0])
        return torch.cat([f.cpu() for f, _ in outs]), torch.cat([lg.cpu() for _, lg in outs])


def register_extractor(name: str) -> Callable[[type[FeatureExtractor]], type[FeatureExtractor]]:
    """Class decorator: register a :class:`FeatureExtractor` subclass under ``name``."""

    def wrap(cls: type[FeatureExtractor]) -> type[FeatureExtractor]:
        assert issubclass(cls, FeatureExtractor) and name not in EXTRACTORS, name
        cls.name = name
        return EXTRACTORS.add(name, cls)

    return wrap


def list_extractors() -> list[str]:
    """Registered extractor names, sorted."""
    return sorted(EXTRACTORS.names())


def get_extractor(name: str, device: torch.device | str = "cpu", *, reference_set: ImageSet | None = None,
                  cache_root: Path | str | None = None, weights_path: Path | str | None = None) -> FeatureExtractor:
    """Build the extractor registered as ``name`` on ``device``.

    Args:
        name: a name from :func:`list_extractors`.
        device: where the network runs.
        reference_set: the balanced reference split; required by ``classifier`` (which trains on it).
        cache_root: where ``classifier`` caches its weights; None = :func:`default_cache_root`.
        weights_path: the weights file of an ImageNet extractor (the run's ``inception_weights`` /
            ``tv_inception_weights`` / ``dinov2_weights``); None = the env variable, else the hub cache
            (:mod:`bench.metrics.weights`).

    Raises:
        ConfigError: unknown name (the message lists the known ones), or a weights file that does not load.
        DataNotFoundError: Inception or DINOv2 weights that are neither on disk nor downloadable.
    """
    return EXTRACTORS.get(name)(device, reference_set=reference_set, cache_root=cache_root, weights_path=weights_path)


def _file_tag(path: Path) -> str:
    """``<file name>-<sha256[:12]>`` of a weights file."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return f"{path.name}-{h.hexdigest()[:12]}"


def _to_rgb(images: torch.Tensor) -> torch.Tensor:
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


@register_extractor("inception-v3-compat")
class TFInceptionExtractor(FeatureExtractor):
    """torch-fidelity's ``FeatureExtractorInceptionV3``: features '2048', IS logits 'logits_unbiased'.

    Weights: ``weights_path`` (config key ``inception_weights``), else ``$BENCH_INCEPTION_WEIGHTS``, else
    ``$TORCH_HOME/hub/checkpoints/weights-inception-2015-12-05-6726825d.pth``, else a download (see
    :mod:`bench.metrics.weights`). Input uint8; it resizes to 299 and scales itself.
    """

    def __init__(self, device: torch.device | str, *, weights_path: Path | str | None = None, **_: Any) -> None:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        super().__init__(device)
        path = resolve_weights(INCEPTION_V3_COMPAT, weights_path)
        try:
            with preserved_rng():
                self.net = FeatureExtractorInceptionV3(self.name, ["2048", "logits_unbiased"],
                                                       feature_extractor_weights_path=str(path))
        except Exception as err:
            raise ConfigError(f"cannot load {self.name} weights from {path}: {type(err).__name__}: "
                              f"{str(err).splitlines()[0] if str(err) else ''}") from err
        self.net.to(self.device)
        self.cache_tag = _file_tag(path)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features, logits = self.net(_to_rgb(images).contiguous())
        return features, logits


@register_extractor("torchvision-inception")
class TorchvisionInceptionExtractor(FeatureExtractor):
    """torchvision InceptionV3 with ImageNet weights, the ECOGAN code's FID/IS backbone (ecogan-upstream.md §7.1).

    Preprocessing as upstream: uint8 -> float, bilinear (align_corners=False) to 299, /255, ImageNet mean/std,
    then the net's ``transform_input`` (on, as torchvision sets it for pretrained weights). Features = the
    2048-d input of ``fc``; IS logits = the 1000-way ``fc`` output. Weights: ``weights_path`` (config key
    ``tv_inception_weights``), else ``$BENCH_TV_INCEPTION_WEIGHTS``, else
    ``$TORCH_HOME/hub/checkpoints/inception_v3_google-0cc3c7bd.pth``, else a download.
    """

    def __init__(self, device: torch.device | str, *, weights_path: Path | str | None = None, **_: Any) -> None:
        import torchvision

        super().__init__(device)
        path = resolve_weights(TORCHVISION_INCEPTION, weights_path)
        with preserved_rng():
            net = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False,
                                                  transform_input=True)
        try:
            net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        except Exception as err:
            raise ConfigError(f"cannot load {self.name} weights from {path}: {type(err).__name__}: "
                              f"{str(err).splitlines()[0] if str(err) else ''}") from err
        self.fc = net.fc
        net.fc = nn.Identity()  # the net now returns the 2048-d pooled features
        self.net = net.eval().requires_grad_(False).to(self.device)
        self.fc = self.fc.eval().requires_grad_(False).to(self.device)
        self.mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)
        self.cache_tag = _file_tag(path)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.interpolate(images.float(), size=(INCEPTION_SIZE, INCEPTION_SIZE), mode="bilinear",
                          align_corners=False)
        x = (_to_rgb(x) / 255.0 - self.mean) / self.std
        features = self.net(x)
        return features, self.fc(features)


@register_extractor("dinov2")
class DinoV2Extractor(FeatureExtractor):
    """FD-DINOv2's features (Stein et al. 2023): DINOv2 ViT-L/14's [CLS] token after its final LayerNorm, 1,024-d,
    of images resized to 224×224 as dgm-eval does (:mod:`bench.metrics.dinov2`); no class logits (IS then comes
    from the judge's).

    Weights: ``weights_path`` (config key ``dinov2_weights``), else ``$BENCH_DINOV2_WEIGHTS``, else
    ``$TORCH_HOME/hub/checkpoints/dinov2_vitl14_pretrain.pth``, else a download (see :mod:`bench.metrics.weights`).
    The network is bench's own definition of the official layout; nothing is fetched from a hub but that file.
    """

    shape = VIT_L14  # the network the weights file must match (tests use a small one through the same code)

    def __init__(self, device: torch.device | str, *, weights_path: Path | str | None = None, **_: Any) -> None:
        super().__init__(device)
        path = resolve_weights(DINOV2_VITL14, weights_path)
        self.net = load_dinov2(path, self.shape, self.device)
        self.cache_tag = _file_tag(path)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.net(preprocess(images))
        return features, features.new_empty(features.shape[0], 0)


@register_extractor("classifier")
class ClassifierExtractor(FeatureExtractor):
    """bench's reference classifier (:mod:`bench.metrics.classifier`): 128-d penultimate features, C logits.

    Trained on first use for a reference split and cached under ``cache_root``; it only takes images of the
    reference's size and channel count.
    """

    def __init__(self, device: torch.device | str, *, reference_set: ImageSet | None = None,
                 cache_root: Path | str | None = None, **_: Any) -> None:
        super().__init__(device)
        check(reference_set is not None, "the classifier extractor needs the dataset's reference split to train on")
        assert reference_set is not None
        root = Path(cache_root) if cache_root is not None else default_cache_root()
        with phase("judge"):
            self.net, self.path = load_or_train_classifier(reference_set, root, self.device)
        self.input_shape = (reference_set.channels, reference_set.image_size, reference_set.image_size)
        self.cache_tag = weights_tag(self.net)

    @classmethod
    def untrained(cls, channels: int, num_classes: int, image_size: int,
                  device: torch.device | str = "cpu") -> ClassifierExtractor:
        """A judge of the right shape with random weights: it costs what a trained one costs (the time
        calibration of ``bench.estimate``); its numbers mean nothing."""
        self = cls.__new__(cls)
        FeatureExtractor.__init__(self, device)
        with preserved_rng():
            self.net = ReferenceClassifier(channels, num_classes).to(self.device).eval().requires_grad_(False)
        self.path = None
        self.input_shape = (channels, image_size, image_size)
        self.cache_tag = "untrained"
        return self

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check(tuple(images.shape[1:]) == self.input_shape,
              f"classifier extractor was trained on {self.input_shape} images, got {tuple(images.shape[1:])}")
        return self.net(uint8_to_float(images))


@register_extractor("random-cnn")
class RandomCNNExtractor(FeatureExtractor):
    """The label-free extractor (:mod:`bench.metrics.random_features`): 128 features of a fixed random conv net,
    no logits, no training, no file. The default of the cpu, lab and smoke scales, where within-class variation must
    count (FID, coverage, diversity); the classifier stays the judge of class identity.
    """

    def __init__(self, device: torch.device | str, *, reference_set: ImageSet | None = None, **_: Any) -> None:
        super().__init__(device)
        channels = reference_set.channels if reference_set is not None else 3
        check(reference_set is None or reference_set.image_size >= 8,
              f"the random-cnn extractor takes images of at least 8 x 8, got {getattr(reference_set, 'image_size', 0)}")
        with preserved_rng():
            self.net = RandomConvNet(channels).to(self.device)
        self.channels = channels
        self.cache_tag = random_tag(self.net)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check(images.shape[1] == self.channels and images.shape[-1] >= 8,
              f"random-cnn extractor was built for {self.channels}-channel images of at least 8 x 8, got "
              f"{tuple(images.shape[1:])}")
        features = self.net(images)
        return features, features.new_zeros(features.shape[0], 0)
