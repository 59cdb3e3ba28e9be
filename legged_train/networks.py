"""Actor and critic networks for PPO, with observation normalization stored inside the model.

Keeping the normalizer in the model means a checkpoint, a TorchScript file or an ONNX export
carries it: deployment feeds raw observations, exactly as the env produces them.

Constructor protocol a custom ``actor_class`` / ``critic_class`` must follow (PPO builds them):
``actor_class(num_obs, num_actions, *, obs_normalization, init_noise_std, **actor_cfg)`` with
``forward(obs) -> mean action``, ``distribution(obs) -> torch.distributions.Normal`` and
``update_normalization(obs)``; ``critic_class(num_obs, *, obs_normalization, **critic_cfg)`` with
``forward(obs) -> value (N,)`` and ``update_normalization(obs)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.distributions import Normal

ACTIVATIONS = {
    "elu": nn.ELU,
    "relu": nn.ReLU,
    "selu": nn.SELU,
    "tanh": nn.Tanh,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "sigmoid": nn.Sigmoid,
}


def make_activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation={name!r} is not supported; allowed: {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def make_hidden_layers(input_dim: int, hidden_dims: list[int] | tuple[int, ...], activation: str) -> nn.Sequential:
    """[Linear, activation] per hidden width: an MLP without its output layer (a torso for several heads)."""
    if not hidden_dims or any(int(h) < 1 for h in hidden_dims):
        raise ValueError(f"hidden_dims={list(hidden_dims)!r} must be a non-empty list of positive ints")
    layers: list[nn.Module] = []
    in_dim = input_dim
    for hidden_dim in hidden_dims:
        layers += [nn.Linear(in_dim, int(hidden_dim)), make_activation(activation)]
        in_dim = int(hidden_dim)
    return nn.Sequential(*layers)


def make_mlp(input_dim: int, hidden_dims: list[int] | tuple[int, ...], output_dim: int, activation: str) -> nn.Sequential:
    hidden = make_hidden_layers(input_dim, hidden_dims, activation)
    return nn.Sequential(*hidden, nn.Linear(int(hidden_dims[-1]), output_dim))


class EmpiricalNormalization(nn.Module):
    """Running mean / std of observations (Chan's parallel update), applied as (x - mean) / std.

    Statistics change only when ``update`` is called (PPO does, once per iteration, with the
    rollout it just learned from) and stop after ``until`` samples if set.
    """

    def __init__(self, shape: int, eps: float = 1e-2, until: int | None = None):
        super().__init__()
        self.eps = eps
        self.until = until
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("var", torch.ones(shape))
        self.register_buffer("std", torch.ones(shape))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / (self.std + self.eps)

    @torch.jit.unused
    def update(self, x: torch.Tensor) -> None:
        if self.until is not None and int(self.count) >= self.until:
            return
        batch_count = x.shape[0]
        batch_mean = x.mean(dim=0)
        batch_var = x.var(dim=0, unbiased=False)
        total = self.count + batch_count
        delta = batch_mean - self.mean
        new_mean = self.mean + delta * (batch_count / total)
        # Combine the two sums of squared deviations, then divide by the new count.
        m2 = self.var * self.count + batch_var * batch_count + delta.square() * (self.count * batch_count / total)
        self.mean.copy_(new_mean)
        self.var.copy_(m2 / total)
        self.std.copy_(self.var.sqrt())
        self.count.copy_(total)


class MLPActor(nn.Module):
    """Gaussian policy: MLP mean, state-independent learnable log-std."""

    def __init__(
        self,
        num_obs: int,
        num_actions: int,
        *,
        hidden_dims: list[int] = (128, 128, 128),
        activation: str = "elu",
        init_noise_std: float = 1.0,
        obs_normalization: bool = False,
        min_std: float = 1e-3,
    ):
        super().__init__()
        if init_noise_std <= 0:
            raise ValueError(f"init_noise_std={init_noise_std!r} must be > 0")
        self.num_obs = num_obs
        self.num_actions = num_actions
        self.min_std = min_std
        self.obs_normalizer = EmpiricalNormalization(num_obs) if obs_normalization else nn.Identity()
        self.mlp = make_mlp(num_obs, list(hidden_dims), num_actions, activation)
        # log-std keeps std positive without clamping gradients away.
        self.log_std = nn.Parameter(torch.full((num_actions,), math.log(init_noise_std)))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """The deterministic action (the Gaussian's mean) for raw observations."""
        return self.mlp(self.obs_normalizer(obs))

    @property
    def std(self) -> torch.Tensor:
        return self.log_std.exp().clamp_min(self.min_std)

    def distribution(self, obs: torch.Tensor) -> Normal:
        mean = self.forward(obs)
        # No argument validation: a NaN mean then reaches the runner's check, which names the parameter.
        return Normal(mean, self.std.expand_as(mean), validate_args=False)

    def update_normalization(self, obs: torch.Tensor) -> None:
        if isinstance(self.obs_normalizer, EmpiricalNormalization):
            self.obs_normalizer.update(obs)


class MLPCritic(nn.Module):
    """State-value MLP; reads the critic (privileged) observation group."""

    def __init__(
        self,
        num_obs: int,
        *,
        hidden_dims: list[int] = (128, 128, 128),
        activation: str = "elu",
        obs_normalization: bool = False,
    ):
        super().__init__()
        self.num_obs = num_obs
        self.obs_normalizer = EmpiricalNormalization(num_obs) if obs_normalization else nn.Identity()
        self.mlp = make_mlp(num_obs, list(hidden_dims), 1, activation)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.obs_normalizer(obs)).squeeze(-1)

    def update_normalization(self, obs: torch.Tensor) -> None:
        if isinstance(self.obs_normalizer, EmpiricalNormalization):
            self.obs_normalizer.update(obs)
