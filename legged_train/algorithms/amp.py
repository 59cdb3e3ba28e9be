"""Adversarial Motion Priors (Peng et al. 2021; for hardware, Escontrela et al. 2022): PPO whose
reward mixes the task reward with a style reward from a discriminator that tells reference motion
from the policy's.

The discriminator D sees a transition as the pair (s, s') of AMP observations one policy step
apart (the env's ``amp`` group, normalized by running statistics). Least squares (default):
D(reference) -> +1, D(policy) -> -1, with a gradient penalty on reference pairs,

    loss = 0.5 [mean (D(ref) - 1)^2 + mean (D(pol) + 1)^2] + 0.5 w_gp mean ||dD/dx(ref)||^2,

style reward ``max(0, 1 - 0.25 (D - 1)^2)``. Binary cross-entropy with the R1 penalty is the other
choice (style reward ``-log(1 - sigmoid(D))``). The reward PPO learns from is the lerp
``(1 - task_reward_lerp) * style_weight * dt * style + task_reward_lerp * task``. Policy transitions
go to a replay buffer; each PPO minibatch step is followed by one discriminator step (its own Adam,
learning rate and weight decay) on a batch of reference pairs and a batch of replayed policy pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from legged_train.algorithms.ppo import PPO, PPOConfig
from legged_train.config import check_fields
from legged_train.distributed import average_gradients
from legged_train.finite import check_finite, check_module_finite
from legged_train.networks import EmpiricalNormalization, make_mlp
from legged_train.observation_groups import observation_group_width

DISCRIMINATOR_LOSSES = ("lsq", "bce")


@dataclass
class AMPConfig(PPOConfig):
    amp_obs_group: str = "amp"  # the env's observation group the discriminator sees
    # Reference clips (.npz of legged_train.motions, or AMP-for-hardware .json) or folders of them;
    # relative paths are taken from the project root. A task may generate them (tasks/go1/amp.py).
    motion_files: list[str] = field(default_factory=list)
    motion_weights: list[float] | None = None  # per file; None: the clips' own weights
    discriminator_hidden_dims: list[int] = field(default_factory=lambda: [256, 256])
    discriminator_activation: str = "relu"
    discriminator_learning_rate: float = 1e-4
    discriminator_weight_decay: float = 1e-4
    discriminator_loss: str = "lsq"  # "lsq" (least squares + gradient penalty) or "bce" (+ R1)
    grad_penalty_weight: float = 10.0
    discriminator_batch_size: int = 1024  # reference pairs and as many policy pairs per step
    style_reward_weight: float = 2.0  # per second, scaled by the policy dt like the env's reward weights
    task_reward_lerp: float = 0.3  # share of the task reward in what PPO learns from
    # Iterations (start, end) over which the style weight ramps linearly from 0 to full; (0, 0):
    # full from the start. A late start lets the task reward teach stepping first: a full style
    # weight from iteration 0 made standing still (fair style, no exploration noise) a trap.
    style_reward_ramp: tuple[int, int] = (0, 0)
    amp_replay_buffer_size: int = 100_000  # policy transitions kept for the discriminator
    amp_normalization: bool = True  # running mean/std of AMP observations (reference and policy)
    reference_state_init_prob: float = 0.0  # share of resets that start from a random reference frame
    # tune.py's search space: override key -> {"type": "float" | "int" | "categorical", "low", "high",
    # "log"} or {"type": "categorical", "choices": [...]}. Keys are --set keys (train.x, env.y).
    search_space: dict = field(default_factory=lambda: {
        "train.style_reward_weight": {"type": "float", "low": 0.5, "high": 8.0, "log": True},
        "train.task_reward_lerp": {"type": "float", "low": 0.1, "high": 0.7},
        "train.discriminator_learning_rate": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True},
        "train.grad_penalty_weight": {"type": "float", "low": 1.0, "high": 20.0, "log": True},
    })

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fields(self, ("discriminator_learning_rate", "discriminator_batch_size", "amp_replay_buffer_size"),
                     lambda v: v > 0, "> 0")
        check_fields(self, ("discriminator_weight_decay", "grad_penalty_weight", "style_reward_weight"),
                     lambda v: v >= 0, ">= 0")
        check_fields(self, ("task_reward_lerp", "reference_state_init_prob"), lambda v: 0.0 <= v <= 1.0, "in [0, 1]")
        if self.discriminator_loss not in DISCRIMINATOR_LOSSES:
            raise ValueError(f"discriminator_loss={self.discriminator_loss!r}: allowed: {', '.join(DISCRIMINATOR_LOSSES)}")
        ramp = self.style_reward_ramp
        if not (isinstance(ramp, (list, tuple)) and len(ramp) == 2 and 0 <= ramp[0] <= ramp[1]):
            raise ValueError(f"style_reward_ramp={ramp!r}: must be (start, end) iterations with 0 <= start <= end")
        self.style_reward_ramp = (int(ramp[0]), int(ramp[1]))
        if not self.discriminator_hidden_dims:
            raise ValueError("discriminator_hidden_dims=[]: the discriminator needs at least one hidden layer")


def discriminator_loss(expert_scores: torch.Tensor, policy_scores: torch.Tensor, kind: str) -> torch.Tensor:
    """Least squares (+1 reference, -1 policy) or binary cross-entropy on logits, averaged."""
    if kind == "lsq":
        return 0.5 * ((expert_scores - 1.0).square().mean() + (policy_scores + 1.0).square().mean())
    bce = nn.functional.binary_cross_entropy_with_logits
    return 0.5 * (bce(expert_scores, torch.ones_like(expert_scores)) + bce(policy_scores, torch.zeros_like(policy_scores)))


def style_reward(scores: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-transition style reward from discriminator scores (N,): in [0, 1] for least squares."""
    if kind == "lsq":
        return torch.clamp(1.0 - 0.25 * (scores - 1.0).square(), min=0.0)
    return -torch.log(torch.clamp(1.0 - torch.sigmoid(scores), min=1e-4))


def gradient_penalty(discriminator: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """mean ||dD/dx||^2 over the given (reference) inputs."""
    inputs = inputs.detach().requires_grad_(True)
    scores = discriminator(inputs)
    (grad,) = torch.autograd.grad(scores.sum(), inputs, create_graph=True)
    return grad.square().sum(dim=1).mean()


class TransitionReplay:
    """A ring of the policy's recent AMP transitions (s, s')."""

    def __init__(self, capacity: int, width: int, device: torch.device):
        self.states = torch.zeros(capacity, width, device=device)
        self.next_states = torch.zeros(capacity, width, device=device)
        self.capacity, self.position, self.size = capacity, 0, 0

    def insert(self, states: torch.Tensor, next_states: torch.Tensor) -> None:
        n = states.shape[0]
        if n >= self.capacity:  # only the newest fit
            states, next_states, n = states[-self.capacity :], next_states[-self.capacity :], self.capacity
        index = (self.position + torch.arange(n, device=self.states.device)) % self.capacity
        self.states[index] = states
        self.next_states[index] = next_states
        self.position = (self.position + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        if self.size == 0:
            raise RuntimeError("the AMP replay buffer is empty: no policy transition was recorded before the update")
        index = torch.randint(self.size, (n,), generator=generator, device=self.states.device)
        return self.states[index], self.next_states[index]

    def state_dict(self) -> dict:
        return {"states": self.states[: self.size].clone(), "next_states": self.next_states[: self.size].clone(),
                "position": self.position, "size": self.size}

    def load_state_dict(self, state: dict) -> None:
        size = int(state["size"])
        if size > self.capacity:
            raise ValueError(f"AMP replay buffer: the checkpoint holds {size} transitions; this buffer holds {self.capacity}")
        self.states[:size] = state["states"].to(self.states)
        self.next_states[:size] = state["next_states"].to(self.next_states)
        self.position, self.size = int(state["position"]), size


class AMP(PPO):
    """PPO with an AMP discriminator. ``motion_library`` serves reference (s, s') pairs."""

    def __init__(self, env, cfg: AMPConfig, motion_library, device=None, **ppo_kwargs):
        super().__init__(env, cfg, device=device, **ppo_kwargs)
        cfg = self.cfg
        width = observation_group_width(env, cfg.amp_obs_group, "amp_obs_group")
        if motion_library.observation_width != width:
            raise ValueError(
                f"reference AMP observations have {motion_library.observation_width} values; the env's "
                f"{cfg.amp_obs_group!r} group has {width}: the library must be built from that group's terms"
            )
        self.motion_library = motion_library
        self.discriminator = make_mlp(2 * width, cfg.discriminator_hidden_dims, 1, cfg.discriminator_activation).to(self.device)
        self.amp_normalizer = EmpiricalNormalization(width).to(self.device) if cfg.amp_normalization else nn.Identity()
        self.discriminator_optimizer = torch.optim.Adam(
            self.discriminator.parameters(), lr=cfg.discriminator_learning_rate, weight_decay=cfg.discriminator_weight_decay
        )
        self.replay = TransitionReplay(cfg.amp_replay_buffer_size, width, self.device)
        self.amp_generator = torch.Generator(device=self.device).manual_seed(cfg.seed)
        self.style_reward_scale = cfg.style_reward_weight * float(getattr(env, "step_dt", 1.0))
        self.amp_observations: torch.Tensor | None = None  # s of the step being taken, set by the runner
        self._rollout_sums = torch.zeros(2, device=self.device)  # style, task, summed over envs and steps
        self._rollout_env_steps = 0

    # ------------------------------------------------------------------------------- rollout

    def discriminator_inputs(self, states: torch.Tensor, next_states: torch.Tensor) -> torch.Tensor:
        """(N, 2 width): a transition's two AMP observations, normalized, side by side."""
        return torch.cat((self.amp_normalizer(states), self.amp_normalizer(next_states)), dim=1)

    def discriminate(self, states: torch.Tensor, next_states: torch.Tensor) -> torch.Tensor:
        """Scores (N,) of transitions."""
        return self.discriminator(self.discriminator_inputs(states, next_states)).squeeze(-1)

    def process_env_step(self, rewards: torch.Tensor, dones: torch.Tensor, extras: dict) -> None:
        """Score the step's transition, store it for the discriminator, and hand PPO the mixed reward."""
        group = self.cfg.amp_obs_group
        observed = extras["observations"][group].to(self.device)
        next_states = observed
        final = (extras.get("final_observations") or {}).get(group)
        if final is not None:  # a finished env's s' is its last state, not the next episode's first
            next_states = torch.where(dones.to(self.device).bool()[:, None], final.to(self.device), observed)
        states = self.amp_observations
        style = style_reward(self.discriminate(states, next_states), self.cfg.discriminator_loss)
        self.replay.insert(states, next_states)
        task = rewards.to(self.device, torch.float32)
        lerp = self.cfg.task_reward_lerp
        mixed = (1.0 - lerp) * self.style_reward_scale * self.style_ramp() * style + lerp * task
        self._rollout_sums += torch.stack((style.sum(), task.sum()))
        self._rollout_env_steps += style.numel()
        self.amp_observations = observed
        super().process_env_step(mixed, dones, extras)

    def style_ramp(self) -> float:
        """The style weight's factor at the runner's iteration (see ``style_reward_ramp``)."""
        start, end = self.cfg.style_reward_ramp
        iteration = self.runner.iteration if self.runner is not None else 0
        if iteration >= end:
            return 1.0
        return 0.0 if iteration < start else (iteration - start) / (end - start)

    def rollout_stats(self) -> dict[str, float]:
        """Mean style reward (unscaled) and task reward per env step since the last call."""
        style, task = self._rollout_sums.tolist()
        steps, self._rollout_env_steps = self._rollout_env_steps, 0
        self._rollout_sums.zero_()
        if steps == 0:
            return {}
        return {"amp/style_reward": style / steps, "amp/task_reward": task / steps, "amp/style_weight_factor": self.style_ramp()}

    # -------------------------------------------------------------------------------- update

    def _auxiliary_step(self) -> dict[str, float]:
        cfg = self.cfg
        n = cfg.discriminator_batch_size
        expert = self.motion_library.sample_pairs(n)
        policy = self.replay.sample(n, self.amp_generator)
        if cfg.amp_normalization:
            with torch.no_grad():
                self.amp_normalizer.update(torch.cat((*expert, *policy)))
        expert_inputs = self.discriminator_inputs(*expert)
        policy_inputs = self.discriminator_inputs(*policy)
        expert_scores = self.discriminator(expert_inputs).squeeze(-1)
        policy_scores = self.discriminator(policy_inputs).squeeze(-1)
        loss = discriminator_loss(expert_scores, policy_scores, cfg.discriminator_loss)
        penalty = gradient_penalty(self.discriminator, expert_inputs)
        total = loss + 0.5 * cfg.grad_penalty_weight * penalty
        check_finite(total.detach(), "AMP discriminator loss")
        self.discriminator_optimizer.zero_grad(set_to_none=True)
        total.backward()
        average_gradients(self.discriminator.parameters())
        self.discriminator_optimizer.step()
        check_module_finite(self.discriminator, "discriminator", "an AMP discriminator step")
        with torch.no_grad():  # 0 separates the classes: least squares targets +-1, logits for BCE
            accuracy = 0.5 * ((expert_scores > 0).float().mean() + (policy_scores < 0).float().mean())
        return {
            "amp/disc_loss": loss.item(),
            "amp/grad_penalty": penalty.item(),
            "amp/expert_score": expert_scores.mean().item(),
            "amp/policy_score": policy_scores.mean().item(),
            "amp/disc_accuracy": accuracy.item(),
        }

    # --------------------------------------------------------------------------- persistence

    def train_mode(self) -> None:
        super().train_mode()
        self.discriminator.train()

    def eval_mode(self) -> None:
        super().eval_mode()
        self.discriminator.eval()

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["amp"] = {
            "discriminator": self.discriminator.state_dict(),
            "discriminator_optimizer": self.discriminator_optimizer.state_dict(),
            "normalizer": self.amp_normalizer.state_dict(),
            "replay": self.replay.state_dict(),
            "generator": self.amp_generator.get_state(),
            "motion_library": self.motion_library.state_dict(),
        }
        return state

    def load_state_dict(self, state: dict[str, Any], load_optimizer: bool = True) -> None:
        super().load_state_dict(state, load_optimizer)
        amp = state.get("amp")
        if amp is None:
            return  # a plain PPO checkpoint: the discriminator starts fresh
        self.discriminator.load_state_dict(amp["discriminator"])
        self.amp_normalizer.load_state_dict(amp["normalizer"])
        if load_optimizer:
            self.discriminator_optimizer.load_state_dict(amp["discriminator_optimizer"])
            self.replay.load_state_dict(amp["replay"])
            self.amp_generator.set_state(amp["generator"])
            self.motion_library.load_state_dict(amp["motion_library"])
