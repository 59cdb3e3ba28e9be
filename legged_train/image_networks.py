"""Networks that read images: a CNN depth encoder, and actors that feed its latent together with the
proprioception to a GRU / LSTM (``ImageRecurrentActor``) or straight to an MLP (``ImageMLPActor``).

Observation groups stay flat tensors (N, num_obs): an image term of shape (C, H, W) is flattened
row-major (C, then H, then W) into its block of columns. ``image_layout`` tells a network where the
images are: a list of ``(start, (C, H, W))``, ``start`` being the block's first column in the
group's one-step vector; every other column is a vector feature (proprioception). Each image block
has its own ``DepthEncoder``; the vector columns (normalized when ``obs_normalization`` is on) and
the latents, concatenated in that order, are what the RNN or the MLP reads.

The empirical normalization covers the vector columns only: per-pixel running statistics would
whiten away what a CNN looks for (edges, relative depth), so images go in as the env scaled them.

Both actors follow the actor protocol of ``legged_train.networks`` (the recurrent one exactly as
``RecurrentActor``), so PPO and Distillation take them as ``actor_class`` / ``student_class`` with
``image_layout`` in the network's keyword arguments, and ``export_policy`` exports them from the
flat observation vector the env gives.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import torch
from torch import nn

from legged_train.networks import (
    EmpiricalNormalization,
    FeedForward,
    GaussianPolicy,
    RecurrentActor,
    _RecurrentNetwork,
    make_activation,
    make_mlp,
)

ImageShape = tuple[int, int, int]  # (C, H, W)
ImageLayout = list[tuple[int, ImageShape]]  # [(first column, (C, H, W)), ...]


def _positive_ints(name: str, values, length: int | None = None) -> tuple[int, ...]:
    """``values`` as a tuple of positive ints, else a one-line ValueError naming ``name``."""
    ok = isinstance(values, Sequence) and not isinstance(values, str) and len(values) > 0
    ok = ok and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values)
    if not ok or (length is not None and len(values) != length):
        what = f"{length} positive ints" if length is not None else "a non-empty list of positive ints"
        raise ValueError(f"{name}={values!r} must be {what}")
    return tuple(values)


def parse_image_layout(num_obs: int, image_layout) -> ImageLayout:
    """``image_layout`` checked against a group of ``num_obs`` columns, as sorted ``(start, (C, H, W))``
    tuples (lists from a JSON or CLI config are accepted)."""
    if not isinstance(image_layout, Sequence) or isinstance(image_layout, str) or not image_layout:
        raise ValueError(
            f"image_layout={image_layout!r} must be a non-empty list of (start column, (C, H, W)); "
            "a group without images needs a network without image_layout (MLPActor, RecurrentActor)"
        )
    blocks = []
    for entry in image_layout:
        if not isinstance(entry, Sequence) or len(entry) != 2:
            raise ValueError(f"image_layout entry {entry!r} must be (start column, (C, H, W))")
        start, shape = entry
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise ValueError(f"image_layout entry {entry!r}: start={start!r} must be a column index >= 0")
        blocks.append((start, _positive_ints(f"image_layout entry {entry!r}: shape", shape, length=3)))
    blocks.sort()
    end = 0
    for start, (c, h, w) in blocks:
        if start < end:
            raise ValueError(f"image_layout={image_layout!r}: the image block at column {start} overlaps the one before it")
        end = start + c * h * w
        if end > num_obs:
            raise ValueError(
                f"image_layout={image_layout!r}: the image at column {start} of shape {(c, h, w)} ends at column "
                f"{end}, past the group's {num_obs} columns"
            )
    return blocks


def vector_column_ranges(num_obs: int, image_layout: ImageLayout) -> list[tuple[int, int]]:
    """The runs ``[begin, end)`` of columns that are not image pixels, in order."""
    ranges, column = [], 0
    for start, (c, h, w) in image_layout:
        if start > column:
            ranges.append((column, start))
        column = start + c * h * w
    if column < num_obs:
        ranges.append((column, num_obs))
    return ranges


def reads_images(network_class: type) -> bool:
    """Whether ``network_class`` takes an ``image_layout`` (the image networks here do)."""
    return "image_layout" in inspect.signature(network_class.__init__).parameters


def check_image_layout(field: str, network_class: type, obs_group: str, image_terms: Sequence[str]) -> None:
    """A one-line ValueError when a group holding image terms is fed to a network that reads flat vectors only.

    E.g. ``check_image_layout("student actor", MLPActor, "policy", ["depth_image"])``."""
    if image_terms and not reads_images(network_class):
        raise ValueError(
            f"{field}: observation group {obs_group!r} holds image term(s) {list(image_terms)} but "
            f"{network_class.__name__} reads flat vectors only; use ImageRecurrentActor (actor_cfg with rnn_type) "
            "or ImageMLPActor"
        )


# ------------------------------------------------------------------------------------ the encoder
class DepthEncoder(nn.Module):
    """(batch, C, H, W) images -> (batch, latent_dim) features: strided convolutions, then one linear layer.

    The defaults are Robot Parkour's depth backbone: three convolutions of 16, 32, 32 channels,
    kernels 5, 4, 3, strides 2, 2, 1 (no padding), each followed by the activation, then a linear
    layer to a 128-d latent and the activation. A 1 x 48 x 64 image leaves a 32 x 8 x 12 map.
    """

    def __init__(
        self,
        image_shape: ImageShape,
        *,
        channels: Sequence[int] = (16, 32, 32),
        kernel_sizes: Sequence[int] = (5, 4, 3),
        strides: Sequence[int] = (2, 2, 1),
        latent_dim: int = 128,
        activation: str = "elu",
    ):
        super().__init__()
        in_channels, height, width = _positive_ints("image_shape", tuple(image_shape), length=3)
        channels = _positive_ints("encoder_channels", channels)
        kernel_sizes = _positive_ints("encoder_kernel_sizes", kernel_sizes, length=len(channels))
        strides = _positive_ints("encoder_strides", strides, length=len(channels))
        if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim < 1:
            raise ValueError(f"encoder_latent_dim={latent_dim!r} must be a positive int")
        self.image_shape = (in_channels, height, width)
        layers: list[nn.Module] = []
        for out_channels, kernel, stride in zip(channels, kernel_sizes, strides):
            height, width = (height - kernel) // stride + 1, (width - kernel) // stride + 1
            if height < 1 or width < 1:
                raise ValueError(
                    f"image_shape={self.image_shape} is too small for encoder_kernel_sizes={list(kernel_sizes)} "
                    f"with encoder_strides={list(strides)}: use fewer or smaller convolutions"
                )
            layers += [nn.Conv2d(in_channels, out_channels, kernel, stride), make_activation(activation)]
            in_channels = out_channels
        self.convs = nn.Sequential(*layers)
        self.conv_output_shape = (in_channels, height, width)
        self.latent = nn.Sequential(nn.Flatten(), nn.Linear(in_channels * height * width, latent_dim), make_activation(activation))
        self.latent_dim = latent_dim

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.latent(self.convs(images))


class ImageFeatures(nn.Module):
    """Raw observations (..., num_obs) -> features (..., output_dim): the vector columns (through the
    running normalization when on), then each image block's latent from its own ``DepthEncoder``."""

    def __init__(
        self,
        num_obs: int,
        image_layout,
        *,
        obs_normalization: bool,
        encoder_channels: Sequence[int],
        encoder_kernel_sizes: Sequence[int],
        encoder_strides: Sequence[int],
        encoder_latent_dim: int,
        activation: str,
    ):
        super().__init__()
        self.num_obs = num_obs
        self.image_layout = parse_image_layout(num_obs, image_layout)
        self.vector_ranges = vector_column_ranges(num_obs, self.image_layout)
        self.num_vector_obs = sum(end - begin for begin, end in self.vector_ranges)
        self.obs_normalizer = EmpiricalNormalization(self.num_vector_obs) if obs_normalization else nn.Identity()
        self.encoders = nn.ModuleList(
            DepthEncoder(
                shape, channels=encoder_channels, kernel_sizes=encoder_kernel_sizes, strides=encoder_strides,
                latent_dim=encoder_latent_dim, activation=activation,
            )
            for _, shape in self.image_layout
        )
        self.output_dim = self.num_vector_obs + sum(encoder.latent_dim for encoder in self.encoders)

    def vector_obs(self, obs: torch.Tensor) -> torch.Tensor:
        """The columns that are not pixels, (..., num_vector_obs)."""
        return torch.cat([obs[..., begin:end] for begin, end in self.vector_ranges] or [obs[..., :0]], dim=-1)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        # Images of all leading dimensions (a step batch, or time x batch) go through a CNN as one batch.
        flat = obs.reshape(-1, obs.shape[-1])
        features = [self.obs_normalizer(self.vector_obs(flat))]
        for (start, (c, h, w)), encoder in zip(self.image_layout, self.encoders):
            features.append(encoder(flat[:, start : start + c * h * w].reshape(-1, c, h, w)))
        return torch.cat(features, dim=-1).reshape(*obs.shape[:-1], self.output_dim)

    def update_normalization(self, obs: torch.Tensor) -> None:
        if isinstance(self.obs_normalizer, EmpiricalNormalization):
            self.obs_normalizer.update(self.vector_obs(obs))


# ------------------------------------------------------------------------------------- the actors
class ImageRecurrentActor(GaussianPolicy, _RecurrentNetwork):
    """Gaussian policy with memory reading images: a ``DepthEncoder`` per image block, its latent
    concatenated with the (normalized) vector columns, then a GRU / LSTM and an MLP mean.

    Follows ``RecurrentActor``'s protocol exactly (running and explicit hidden states, padded
    trajectories with masks, export with ``h_in`` / ``h_out``). ``image_layout``: ``[(start, (C, H, W)), ...]``.
    """

    def __init__(
        self,
        num_obs: int,
        num_actions: int,
        *,
        image_layout,
        rnn_type: str = "gru",
        rnn_hidden_dim: int = 128,
        rnn_num_layers: int = 1,
        hidden_dims: list[int] = (128, 128, 128),
        activation: str = "elu",
        encoder_channels: Sequence[int] = (16, 32, 32),
        encoder_kernel_sizes: Sequence[int] = (5, 4, 3),
        encoder_strides: Sequence[int] = (2, 2, 1),
        encoder_latent_dim: int = 128,
        init_noise_std: float = 1.0,
        obs_normalization: bool = False,
        min_std: float = 1e-3,
    ):
        image_features = ImageFeatures(
            num_obs, image_layout, obs_normalization=obs_normalization, encoder_channels=encoder_channels,
            encoder_kernel_sizes=encoder_kernel_sizes, encoder_strides=encoder_strides,
            encoder_latent_dim=encoder_latent_dim, activation=activation,
        )
        # The base's obs_normalizer stays the identity: the normalization of the vector columns is
        # inside image_features, which is what _features runs.
        super().__init__(
            num_obs, num_actions, rnn_type=rnn_type, rnn_hidden_dim=rnn_hidden_dim, rnn_num_layers=rnn_num_layers,
            hidden_dims=hidden_dims, activation=activation, obs_normalization=False,
            rnn_input_dim=image_features.output_dim,
        )
        self.image_features = image_features
        self.image_layout = image_features.image_layout
        self._init_action_std(num_actions, init_noise_std, min_std)

    def _features(self, obs: torch.Tensor) -> torch.Tensor:
        return self.image_features(obs)

    def update_normalization(self, obs: torch.Tensor) -> None:
        self.image_features.update_normalization(obs)

    # Only what the RNN reads differs from RecurrentActor: the protocol's methods are its own.
    forward = RecurrentActor.forward
    step = RecurrentActor.step
    export_module = RecurrentActor.export_module


class ImageMLPActor(GaussianPolicy, FeedForward, nn.Module):
    """Gaussian policy without memory reading images: ``ImageFeatures``, then an MLP mean."""

    def __init__(
        self,
        num_obs: int,
        num_actions: int,
        *,
        image_layout,
        hidden_dims: list[int] = (128, 128, 128),
        activation: str = "elu",
        encoder_channels: Sequence[int] = (16, 32, 32),
        encoder_kernel_sizes: Sequence[int] = (5, 4, 3),
        encoder_strides: Sequence[int] = (2, 2, 1),
        encoder_latent_dim: int = 128,
        init_noise_std: float = 1.0,
        obs_normalization: bool = False,
        min_std: float = 1e-3,
    ):
        super().__init__()
        self.num_obs = num_obs
        self.image_features = ImageFeatures(
            num_obs, image_layout, obs_normalization=obs_normalization, encoder_channels=encoder_channels,
            encoder_kernel_sizes=encoder_kernel_sizes, encoder_strides=encoder_strides,
            encoder_latent_dim=encoder_latent_dim, activation=activation,
        )
        self.image_layout = self.image_features.image_layout
        self.mlp = make_mlp(self.image_features.output_dim, list(hidden_dims), num_actions, activation)
        self._init_action_std(num_actions, init_noise_std, min_std)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """The deterministic action (the Gaussian's mean) for raw observations."""
        return self.mlp(self.image_features(obs))

    def update_normalization(self, obs: torch.Tensor) -> None:
        self.image_features.update_normalization(obs)
