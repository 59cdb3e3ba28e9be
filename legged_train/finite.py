"""NaN/Inf guards that name their source: the reward term, the network parameter, the loss."""

from __future__ import annotations

import torch
from torch import nn


class NonFiniteError(FloatingPointError):
    """NaN or Inf reached the training loop; the message names where."""


def check_finite(tensor: torch.Tensor, source: str) -> None:
    """Raise NonFiniteError naming ``source`` if ``tensor`` holds NaN or Inf."""
    if not bool(torch.isfinite(tensor).all()):
        bad = ~torch.isfinite(tensor)
        rows = bad.reshape(bad.shape[0], -1).any(dim=1).nonzero().flatten()[:5].tolist() if tensor.dim() > 0 else []
        raise NonFiniteError(f"non-finite values (NaN/Inf) in {source}; first bad rows: {rows}")


def non_finite_parameters(module: nn.Module) -> list[str]:
    """Names of the parameters and buffers of ``module`` holding NaN or Inf."""
    tensors = [*module.named_parameters(), *module.named_buffers()]
    return [name for name, t in tensors if t.is_floating_point() and not bool(torch.isfinite(t).all())]


def check_module_finite(module: nn.Module, network: str, after: str) -> None:
    """Raise NonFiniteError naming the network and its non-finite parameters, if any."""
    flags = [torch.isfinite(p).all() for p in module.parameters()]
    if not flags or bool(torch.stack(flags).all()):  # one sync for the whole network
        return
    bad = non_finite_parameters(module)
    if bad:
        raise NonFiniteError(f"non-finite values (NaN/Inf) in network {network!r}, parameters {bad[:5]}, after {after}")


def check_reward_terms(env, rewards: torch.Tensor) -> None:
    """Raise NonFiniteError if ``rewards`` holds NaN/Inf, naming the env's reward terms (and weights) to blame."""
    if bool(torch.isfinite(rewards).all()):
        return
    terms = getattr(env, "reward_terms", {})
    weights = getattr(env, "reward_weights", {})
    bad = [f"{name!r} (weight {weights.get(name)})" for name, value in terms.items() if not bool(torch.isfinite(value).all())]
    source = f"env rewards, reward term {', '.join(bad)}" if bad else "env rewards"
    check_finite(rewards, source)
