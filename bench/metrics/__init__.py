"""Metrics and their protocols: FID, IS, KID, precision/recall, intra-class and head/tail FID, conditional
accuracy, measured under a named protocol (``paper`` | ``standard``) through a named feature extractor.

The training loop uses :class:`Evaluator`; see :mod:`bench.metrics.evaluator` for the row it returns.
"""

from bench.metrics.cache import default_cache_root
from bench.metrics.evaluator import METRICS_COLUMNS, PER_CLASS_COLUMNS, EvalResult, Evaluator
from bench.metrics.extractors import FeatureExtractor, get_extractor, list_extractors, register_extractor
from bench.metrics.protocols import PROTOCOLS, Protocol, get_protocol

__all__ = ["METRICS_COLUMNS", "PER_CLASS_COLUMNS", "PROTOCOLS", "EvalResult", "Evaluator", "FeatureExtractor",
           "Protocol", "default_cache_root", "get_extractor", "get_protocol", "list_extractors",
           "register_extractor"]
