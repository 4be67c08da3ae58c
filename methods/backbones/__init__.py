"""The backbone registry: the G/D network families that methods build on.

A backbone is a recipe for networks, not a network: a method asks it for the pieces it needs and adds
its own heads (``bench.methods.heads``). Every backbone offers

- ``trunk(channels, image_size, latent_dim=None, div=1)``: the discriminator trunk, a :class:`Trunk` whose
  feature map is (B, F, 4, 4) (dcgan64, tiny) or (B, F, 8, 8) (biggan32), with sum-pooled (B, F) and
  flattened (B, F·h·w) views, and — when ``latent_dim`` is given — the autoencoder projection ``linear0``;
- ``conditional_generator(latent_dim, num_classes, channels, image_size, div=1, g_cond=None)``: G(z, y) → images
  in [-1, 1], the class entering G as ``g_cond`` says (one of the backbone's ``g_conds``; None = its
  ``default_g_cond``, the paper's way);
- ``decoder(latent_dim, channels, image_size)``: an unconditional latent → image decoder (the autoencoder
  methods, BAGAN and EBGAN, need it; biggan32 has none and says so).

``get_backbone(name)`` gives the registered object; an unknown name is a ConfigError. Modules are imported
on first use, so the registry costs nothing until a method asks for a backbone.
"""

from __future__ import annotations

import importlib

import torch
from torch import nn

from bench.errors import ConfigError, check, unknown_name
from bench.registry import Registry

# name -> module holding ``BACKBONE``; imported lazily (the modules import the base classes below).
BACKBONES: Registry[Backbone] = Registry("backbone", load=lambda module: importlib.import_module(module).BACKBONE)
for _name in ("dcgan64", "biggan32", "tiny"):
    BACKBONES.add(_name, f"bench.methods.backbones.{_name}")


PIECES = {"trunk": "discriminator trunk", "generator": "conditional generator",
          "decoder": "unconditional decoder", "encoder": "autoencoder encoder (linear0)"}


def _pieces_of(name: str) -> tuple[str, ...]:
    return BACKBONES.get(name).pieces


class Trunk(nn.Module):
    """A discriminator trunk: images (B, C, H, W) → feature map (B, out_channels, out_size, out_size).

    Attributes:
        out_channels: channels F of the feature map.
        out_size: side of the feature map.
        linear0: the autoencoder projection Linear(F·out_size² → latent_dim), or None when not built.
    """

    out_channels: int
    out_size: int
    linear0: nn.Linear | None

    @property
    def flat_dim(self) -> int:
        """Length of the flattened feature map, F·out_size²."""
        return self.out_channels * self.out_size * self.out_size

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """Global sum pool of the feature map, (B, F) (sum, not mean, as upstream and StudioGAN)."""
        return self(x).sum(dim=(2, 3))

    def flattened(self, x: torch.Tensor) -> torch.Tensor:
        """The feature map flattened to (B, F·h·w)."""
        return self(x).flatten(1)


class Backbone:
    """Base of a registered backbone. Subclasses implement the builders they support.

    Attributes:
        name: registry key.
        spectral_norm: whether the method's D heads must be spectrally normalised (and orthogonally initialised).
        default_latent_dim: latent size used when a method's ``latent_dim`` option is None.
        description: one line for listings.
        g_conds: the ways its conditional generator can take the class (config key ``g_cond``).
        default_g_cond: the paper's way for this backbone, used when ``g_cond`` is None.
        pieces: what it can build for a method (:data:`PIECES`); a method lists what it needs in ``Method.needs``.
    """

    name: str = ""
    spectral_norm: bool = False
    default_latent_dim: int = 128
    description: str = ""
    g_conds: tuple[str, ...] = ()
    default_g_cond: str = ""
    pieces: tuple[str, ...] = ("trunk", "generator")

    def check_pieces(self, needed: tuple[str, ...]) -> None:
        """ConfigError naming the first of ``needed`` (:data:`PIECES`) this backbone cannot build."""
        for piece in needed:
            check(piece in PIECES, f"unknown backbone piece {piece!r}; known: {', '.join(PIECES)}")
            check(piece in self.pieces, f"backbone {self.name!r} has no {PIECES[piece]}, which this method needs; "
                                        f"use {' or '.join(n for n in BACKBONES.names() if piece in _pieces_of(n))}")

    def check_g_cond(self, g_cond: str | None) -> str:
        """``g_cond`` resolved (None → :attr:`default_g_cond`); a ConfigError listing the known ones otherwise."""
        if g_cond is None:
            return self.default_g_cond
        if g_cond not in self.g_conds:
            raise unknown_name(f"g_cond for backbone {self.name!r}", g_cond, self.g_conds)
        return g_cond

    def image_sizes(self) -> str:
        """The supported image sizes, in words (for error messages)."""
        raise NotImplementedError

    def supports(self, image_size: int) -> bool:
        raise NotImplementedError

    def check(self, channels: int, image_size: int, div: int = 1) -> None:
        """ConfigError unless ``channels`` is 1 or 3, ``image_size`` is supported and ``div`` is allowed."""
        check(channels in (1, 3), f"backbone {self.name!r}: channels must be 1 or 3, got {channels}")
        check(isinstance(image_size, int) and self.supports(image_size),
              f"backbone {self.name!r} does not support image_size {image_size}; it supports {self.image_sizes()}")
        check(div == 1, f"option div = {div} applies to backbone 'biggan32' only (backbone is {self.name!r})")

    def trunk(self, channels: int, image_size: int, latent_dim: int | None = None, div: int = 1) -> Trunk:
        raise NotImplementedError

    def conditional_generator(self, latent_dim: int, num_classes: int, channels: int, image_size: int,
                              div: int = 1, g_cond: str | None = None) -> nn.Module:
        raise NotImplementedError

    def decoder(self, latent_dim: int, channels: int, image_size: int) -> nn.Module:
        raise ConfigError(f"backbone {self.name!r} has no unconditional decoder, which this method needs; "
                          f"use dcgan64 or tiny")


def list_backbones() -> list[str]:
    """Registered backbone names, sorted."""
    return sorted(BACKBONES.names())


def get_backbone(name: str) -> Backbone:
    """The backbone registered as ``name``; a ConfigError listing the known names otherwise."""
    return BACKBONES.get(name)


__all__ = ["Backbone", "Trunk", "get_backbone", "list_backbones"]
