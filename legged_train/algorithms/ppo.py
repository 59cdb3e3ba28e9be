"""Proximal Policy Optimization with an asymmetric actor-critic, as used for legged locomotion.

The maths lives here (acting, GAE, the clipped losses, learning-rate schedules); the loop lives in
``OnPolicyRunner`` and ``PPO.learn`` hands over to it. Defaults follow rsl_rl's legged-robot
settings, which are known to make quadrupeds walk.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from legged_train.config import RunnerConfig, apply_overrides, check_fields, resolve_device
from legged_train.distributed import average_gradients, broadcast_module, mean_over_ranks
from legged_train.networks import RNN_TYPES, MLPActor, MLPCritic, RecurrentActor, RecurrentCritic
from legged_train.finite import check_finite, check_module_finite
from legged_train.storage import RolloutStorage

LR_SCHEDULES = ("adaptive", "fixed", "linear")


@dataclass
class PPOConfig(RunnerConfig):
    # Rollout and training length.
    num_steps_per_env: int = 24
    max_iterations: int = 1500
    # Optimizer and learning-rate schedule: "adaptive" follows the KL to desired_kl after every
    # minibatch (rsl_rl), "fixed" keeps learning_rate, "linear" decays it to min_learning_rate
    # at max_iterations.
    learning_rate: float = 1e-3
    schedule: str = "adaptive"
    desired_kl: float = 0.01
    lr_adapt_factor: float = 1.5
    min_learning_rate: float = 1e-5
    max_learning_rate: float = 1e-2
    num_learning_epochs: int = 5
    num_mini_batches: int = 4
    max_grad_norm: float = 1.0
    # Losses.
    clip_param: float = 0.2
    value_loss_coef: float = 1.0
    use_clipped_value_loss: bool = True
    # Entropy bonus, annealed linearly from entropy_coef to entropy_coef_final at max_iterations
    # (None keeps it constant): explore early, settle the gait late.
    entropy_coef: float = 0.01
    entropy_coef_final: float | None = 0.005
    normalize_advantage: bool = True
    # Returns.
    gamma: float = 0.99
    lam: float = 0.95
    # Policy. actor_cfg / critic_cfg are the networks' keyword arguments; with "rnn_type" ("gru" or
    # "lstm", plus "rnn_hidden_dim" and "rnn_num_layers") PPO builds RecurrentActor / RecurrentCritic.
    init_noise_std: float = 1.0
    empirical_normalization: bool = True
    actor_cfg: dict = field(default_factory=lambda: {"hidden_dims": [128, 128, 128], "activation": "elu"})
    critic_cfg: dict = field(default_factory=lambda: {"hidden_dims": [128, 128, 128], "activation": "elu"})
    # torch threads while collecting experience (0: as torch_threads). With a CPU simulator, 1 leaves
    # the cores to its thread pool; the update, with the simulator idle, runs on torch_threads.
    rollout_torch_threads: int = 0
    # The observation groups (``extras["observations"]``) the actor and the critic read. A privileged
    # teacher reads e.g. "teacher"; an env without a "critic" group gives the critic "policy".
    actor_obs_group: str = "policy"
    critic_obs_group: str = "critic"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.schedule not in LR_SCHEDULES:
            raise ValueError(f"schedule={self.schedule!r} is not supported; allowed: {list(LR_SCHEDULES)}")
        positive = ("num_steps_per_env", "max_iterations", "learning_rate", "num_learning_epochs",
                    "num_mini_batches", "clip_param", "desired_kl", "max_grad_norm", "init_noise_std")
        check_fields(self, positive, lambda v: v > 0, "> 0")
        check_fields(self, ("gamma", "lam"), lambda v: 0.0 <= v <= 1.0, "in [0, 1]")
        check_fields(self, ("rollout_torch_threads",), lambda v: v >= 0, ">= 0 (0 = as torch_threads)")
        if self.lr_adapt_factor <= 1.0:
            raise ValueError(f"lr_adapt_factor={self.lr_adapt_factor!r} must be > 1")
        if not 0 < self.min_learning_rate <= self.max_learning_rate:
            raise ValueError(
                f"min_learning_rate={self.min_learning_rate!r} and max_learning_rate={self.max_learning_rate!r} "
                "must satisfy 0 < min <= max"
            )
        for name in ("actor_obs_group", "critic_obs_group"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"{name}={getattr(self, name)!r} must be the name of an observation group, e.g. 'policy'")
        for name in ("actor_cfg", "critic_cfg"):
            if not isinstance(getattr(self, name), dict):
                raise ValueError(f"{name}={getattr(self, name)!r} must be a dict of network kwargs")
            rnn_type = getattr(self, name).get("rnn_type")
            if rnn_type is not None and rnn_type not in RNN_TYPES:
                raise ValueError(
                    f"{name}.rnn_type={rnn_type!r} is not supported; allowed: {', '.join(map(repr, RNN_TYPES))}"
                )


def adaptive_learning_rate(
    learning_rate: float,
    kl: float,
    desired_kl: float,
    factor: float = 1.5,
    min_lr: float = 1e-5,
    max_lr: float = 1e-2,
) -> float:
    """rsl_rl's KL rule: shrink the step when the policy moved too far, grow it when it barely moved."""
    if kl > 2.0 * desired_kl:
        return max(min_lr, learning_rate / factor)
    if 0.0 < kl < 0.5 * desired_kl:
        return min(max_lr, learning_rate * factor)
    return learning_rate


def linear_learning_rate(cfg: PPOConfig, iteration: int) -> float:
    progress = min(1.0, iteration / cfg.max_iterations)
    return max(cfg.min_learning_rate, cfg.learning_rate * (1.0 - progress))


def gaussian_kl(old_mean, old_std, new_mean, new_std) -> torch.Tensor:
    """KL(old || new) of diagonal Gaussians, summed over action dims: one value per sample."""
    return (
        torch.log(new_std / old_std)
        + (old_std.square() + (old_mean - new_mean).square()) / (2.0 * new_std.square())
        - 0.5
    ).sum(dim=-1)


def observation_group_width(env, group: str, field_name: str) -> int:
    """Width of the env's observation ``group`` (``extras["observations"]`` of ``get_observations()``).

    "policy" is ``env.num_obs``; a group the env does not have is a ValueError naming ``field_name``
    and listing the env's groups."""
    if group == "policy":
        return env.num_obs
    _, extras = env.get_observations()
    groups = extras.get("observations") or {}
    if group not in groups:
        raise ValueError(
            f"{field_name}={group!r}: {type(env).__name__} has no observation group {group!r}; "
            f"its groups: {sorted(groups) or ['policy']}"
        )
    return int(groups[group].shape[-1])


def network_class(
    name: str, given: type[nn.Module] | None, network_cfg: dict, recurrent: type[nn.Module], feed_forward: type[nn.Module]
) -> type[nn.Module]:
    """The class PPO builds for the actor / critic: the given one, else the recurrent one when the cfg has rnn_type."""
    rnn_keys = sorted(key for key in network_cfg if key.startswith("rnn_"))
    if given is None:
        if rnn_keys and "rnn_type" not in network_cfg:
            raise ValueError(
                f"{name}_cfg.{rnn_keys[0]}={network_cfg[rnn_keys[0]]!r} without {name}_cfg.rnn_type: "
                f"set rnn_type (allowed: {', '.join(map(repr, RNN_TYPES))}) for a recurrent {name}, or drop the rnn_* keys"
            )
        return recurrent if "rnn_type" in network_cfg else feed_forward
    if rnn_keys and not getattr(given, "is_recurrent", False):
        raise ValueError(
            f"{name}_cfg has {rnn_keys} but {name}_class={given.__name__} is not recurrent: "
            f"leave {name}_class out to get {recurrent.__name__}, or drop the rnn_* keys"
        )
    return given


class PPO:
    """PPO agent: actor (reads ``cfg.actor_obs_group``, default ``policy``), critic (reads
    ``cfg.critic_obs_group``, default ``critic``), optimizer, rollout storage.

    ``actor_class`` / ``critic_class`` left out: ``RecurrentActor`` / ``RecurrentCritic`` when
    ``cfg.actor_cfg`` / ``cfg.critic_cfg`` has ``rnn_type``, else ``MLPActor`` / ``MLPCritic``. With a
    recurrent network (either or both), the networks' running hidden states are reset on dones, the
    storage keeps the state each step started from, and the update learns from whole trajectories
    (``RolloutStorage.recurrent_minibatches``); the running states are part of ``state_dict``.
    """

    def __init__(
        self,
        env,
        cfg: PPOConfig | None = None,
        actor_class: type[nn.Module] | None = None,
        critic_class: type[nn.Module] | None = None,
        device: str | torch.device | None = None,
    ):
        self.env = env
        self.cfg = cfg if cfg is not None else PPOConfig()
        cfg = self.cfg
        self.device = resolve_device(device if device is not None else cfg.device)
        self.actor_obs_group, self.critic_obs_group = cfg.actor_obs_group, cfg.critic_obs_group
        num_actor_obs = observation_group_width(env, cfg.actor_obs_group, "actor_obs_group")
        if cfg.critic_obs_group == "critic":
            # Envs without a privileged group give the critic the policy observations.
            self.has_critic_group = getattr(env, "num_privileged_obs", None) is not None
            num_critic_obs = env.num_privileged_obs if self.has_critic_group else env.num_obs
        else:
            self.has_critic_group = True
            num_critic_obs = observation_group_width(env, cfg.critic_obs_group, "critic_obs_group")
        actor_class = network_class("actor", actor_class, cfg.actor_cfg, RecurrentActor, MLPActor)
        critic_class = network_class("critic", critic_class, cfg.critic_cfg, RecurrentCritic, MLPCritic)
        self.actor = actor_class(
            num_actor_obs,
            env.num_actions,
            obs_normalization=cfg.empirical_normalization,
            init_noise_std=cfg.init_noise_std,
            **cfg.actor_cfg,
        ).to(self.device)
        self.critic = critic_class(num_critic_obs, obs_normalization=cfg.empirical_normalization, **cfg.critic_cfg).to(
            self.device
        )
        self.learning_rate = cfg.learning_rate
        self.entropy_coef = cfg.entropy_coef
        self.optimizer = torch.optim.Adam(
            [*self.actor.parameters(), *self.critic.parameters()], lr=self.learning_rate
        )
        self.actor_is_recurrent = bool(getattr(self.actor, "is_recurrent", False))
        self.critic_is_recurrent = bool(getattr(self.critic, "is_recurrent", False))
        self.is_recurrent = self.actor_is_recurrent or self.critic_is_recurrent
        self.storage = RolloutStorage(
            env.num_envs, cfg.num_steps_per_env, num_actor_obs, num_critic_obs, env.num_actions, self.device,
            actor_hidden_shapes=self._hidden_shapes(self.actor), critic_hidden_shapes=self._hidden_shapes(self.critic),
        )
        self.runner = None  # made by learn() on first use
        self.storage_from_dataset = False  # set by collect_transition_from_dataset
        self._warned_no_final_obs = False

    def _hidden_shapes(self, network: nn.Module) -> list[tuple[int, ...]] | None:
        """Shapes of a recurrent network's per-step state tensors for all envs; None for a feed-forward one."""
        if not getattr(network, "is_recurrent", False):
            return None
        return [tuple(state.shape) for state in network.initial_hidden_states(self.env.num_envs)]

    # ------------------------------------------------------------------------------- acting
    def act(self, obs: torch.Tensor, critic_obs: torch.Tensor) -> torch.Tensor:
        """Sample actions for a rollout step and record what the update will need."""
        hidden_states = {}
        if self.is_recurrent:
            # The states the networks start this step from (before they see obs): the update replays
            # each trajectory from the state stored at its first step.
            hidden_states = {
                "actor_hidden_states": self.actor.get_hidden_states() if self.actor_is_recurrent else None,
                "critic_hidden_states": self.critic.get_hidden_states() if self.critic_is_recurrent else None,
            }
        distribution = self.actor.distribution(obs)
        actions = distribution.sample()
        self.storage.add(
            obs,
            critic_obs,
            actions,
            distribution.log_prob(actions).sum(dim=-1),
            self.critic(critic_obs),
            distribution.mean,
            distribution.stddev,
            **hidden_states,
        )
        return actions

    def act_inference(self, obs: torch.Tensor) -> torch.Tensor:
        """The deterministic action; a recurrent actor reads and advances its running (rollout) state."""
        return self.actor(obs)

    def _values(self, critic_obs: torch.Tensor) -> torch.Tensor:
        """V(critic_obs) after the last step, leaving a recurrent critic's running state as it is
        (the next ``act`` starts from it, and a final observation is never stepped from)."""
        if self.critic_is_recurrent:
            return self.critic.step(critic_obs, self.critic.get_hidden_states())[0]
        return self.critic(critic_obs)

    def reset(self, dones: torch.Tensor | None = None) -> None:
        """Zero the networks' running hidden states for the envs that are done (all without ``dones``)."""
        for network, recurrent in ((self.actor, self.actor_is_recurrent), (self.critic, self.critic_is_recurrent)):
            if recurrent:
                network.reset(dones)

    def process_env_step(self, rewards: torch.Tensor, dones: torch.Tensor, extras: dict) -> None:
        """Store reward and done; a truncated step's reward gets gamma * V(final observation)."""
        rewards = rewards.to(self.device, torch.float32).clone()
        truncated = extras.get("truncated", extras.get("time_outs"))
        if truncated is not None:
            truncated = truncated.to(self.device).bool()
            terminated = extras.get("terminated")
            if terminated is not None:
                truncated = truncated & ~terminated.to(self.device).bool()  # both set: a real end wins
            if bool(truncated.any()):
                rewards += self.cfg.gamma * self._truncation_values(extras, truncated) * truncated.float()
        self.storage.set_step_result(rewards, dones.to(self.device).float())
        if self.is_recurrent:
            # After the truncation values, which need the critic's memory of the episode that ended.
            self.reset(dones.to(self.device))

    def _truncation_values(self, extras: dict, truncated: torch.Tensor) -> torch.Tensor:
        key = "final_critic_observation" if self.has_critic_group else "final_observation"
        final_obs = extras.get(key)
        if self.has_critic_group and self.critic_obs_group != "critic":
            key = f"final_observations.{self.critic_obs_group}"
            final_obs = (extras.get("final_observations") or {}).get(self.critic_obs_group)
        if final_obs is None:
            # Older envs give no final observation: fall back to rsl_rl's approximation, the
            # value of the observation the step started from.
            if not self._warned_no_final_obs:
                warnings.warn(f"env extras have no {key!r}: truncated steps bootstrap from V(s_t)", stacklevel=3)
                self._warned_no_final_obs = True
            return self.storage.values[self.storage.step]
        final_obs = final_obs.to(self.device)
        check_finite(final_obs[truncated], f"env extras[{key!r}]")
        return self._values(final_obs)

    def compute_returns(self, last_critic_obs: torch.Tensor) -> None:
        last_values = self._values(last_critic_obs)
        self.storage.compute_returns(last_values, self.cfg.gamma, self.cfg.lam)
        if self.cfg.normalize_advantage:
            advantages = self.storage.advantages
            advantages.copy_((advantages - advantages.mean()) / (advantages.std() + 1e-8))

    # ------------------------------------------------------------------- learning from a dataset
    def collect_transition_from_dataset(self, transition, infos: dict) -> None:
        """Store a demonstration transition (``RolloutDataset``) as if the actor had taken it.

        The next ``update`` then clones the stored actions (behaviour cloning) and regresses the
        critic on the stored rewards' returns instead of a PPO step: TwoStageRunner's pretraining.
        """
        if self.is_recurrent:
            raise ValueError("pretraining from a dataset needs feed-forward networks (actor_cfg/critic_cfg without rnn_type)")
        distribution = self.actor.distribution(transition.obs)
        actions = transition.actions.to(self.device)
        self.storage.add(
            transition.obs,
            transition.critic_obs,
            actions,
            distribution.log_prob(actions).sum(dim=-1),
            self.critic(transition.critic_obs),
            distribution.mean,
            distribution.stddev,
        )
        # Time-outs bootstrap from the final observation, exactly as in an env rollout.
        extras = {
            "time_outs": infos["time_outs"],
            "final_observation": transition.next_obs,
            "final_critic_observation": transition.next_critic_obs,
        }
        self.process_env_step(transition.rewards, transition.dones, extras)
        self.storage_from_dataset = True

    def _pretrain_update(self) -> dict[str, float]:
        """Behaviour cloning of the stored dataset actions and value regression on their returns."""
        cfg = self.cfg
        nll = getattr(cfg, "bc_loss", "mse") == "nll"
        totals = {"bc_loss": 0.0, "value_loss": 0.0}
        num_updates = 0
        for batch in self.storage.minibatches(cfg.num_mini_batches, cfg.num_learning_epochs):
            distribution = self.actor.distribution(batch.obs)
            if nll:  # the whole Gaussian: for datasets of sampled actions
                bc_loss = -distribution.log_prob(batch.actions).sum(dim=-1).mean()
            else:  # the mean only: the std stays PPO's to explore with
                bc_loss = (distribution.mean - batch.actions).square().sum(dim=-1).mean()
            value_loss = (self.critic(batch.critic_obs) - batch.returns).square().mean()
            check_finite(bc_loss.detach(), "behaviour cloning loss")
            check_finite(value_loss.detach(), "value loss (pretraining)")
            self._gradient_step(bc_loss + cfg.value_loss_coef * value_loss)
            check_module_finite(self.actor, "actor", "a behaviour cloning step")
            check_module_finite(self.critic, "critic", "a behaviour cloning step")
            totals["bc_loss"] += bc_loss.item()
            totals["value_loss"] += value_loss.item()
            num_updates += 1
        self._update_normalization()
        self.storage.clear()
        self.storage_from_dataset = False
        return {
            "train/bc_loss": totals["bc_loss"] / num_updates,
            "train/value_loss": totals["value_loss"] / num_updates,
            "train/learning_rate": self.learning_rate,
            "train/action_std": self.actor.std.mean().item(),
        }

    # ------------------------------------------------------------------------------- learning
    def update(self) -> dict[str, float]:
        """Epochs of minibatch updates over the stored rollout; returns mean losses for logging.

        A rollout stored from a dataset (``collect_transition_from_dataset``) gets the pretraining
        update instead."""
        if self.storage_from_dataset:
            return self._pretrain_update()
        cfg = self.cfg
        totals = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0, "approx_kl": 0.0, "clip_fraction": 0.0}
        auxiliary: dict[str, float] = {}
        num_updates = 0
        minibatches = self.storage.recurrent_minibatches if self.is_recurrent else self.storage.minibatches
        for batch in minibatches(cfg.num_mini_batches, cfg.num_learning_epochs):
            if batch.masks is None:
                distribution = self.actor.distribution(batch.obs)
                values = self.critic(batch.critic_obs)
            else:
                distribution, values = self._evaluate_trajectories(batch)
            log_probs = distribution.log_prob(batch.actions).sum(dim=-1)
            entropy = distribution.entropy().sum(dim=-1).mean()

            with torch.no_grad():
                kl = gaussian_kl(batch.old_mean, batch.old_std, distribution.mean, distribution.stddev).mean()
                kl = mean_over_ranks(kl)  # every rank adapts its learning rate alike
            if cfg.schedule == "adaptive":
                self.set_learning_rate(
                    adaptive_learning_rate(
                        self.learning_rate, kl.item(), cfg.desired_kl, cfg.lr_adapt_factor,
                        cfg.min_learning_rate, cfg.max_learning_rate,
                    )
                )

            ratio = torch.exp(log_probs - batch.old_log_probs)
            surrogate = batch.advantages * ratio
            surrogate_clipped = batch.advantages * ratio.clamp(1.0 - cfg.clip_param, 1.0 + cfg.clip_param)
            policy_loss = -torch.min(surrogate, surrogate_clipped).mean()

            if cfg.use_clipped_value_loss:
                values_clipped = batch.old_values + (values - batch.old_values).clamp(-cfg.clip_param, cfg.clip_param)
                value_loss = torch.max((values - batch.returns).square(), (values_clipped - batch.returns).square()).mean()
            else:
                value_loss = (values - batch.returns).square().mean()

            check_finite(policy_loss.detach(), "PPO policy loss")
            check_finite(value_loss.detach(), "PPO value loss")
            check_finite(entropy.detach(), "PPO entropy")
            loss = policy_loss + cfg.value_loss_coef * value_loss - self.entropy_coef * entropy

            self._gradient_step(loss)
            for key, value in self._auxiliary_step().items():  # e.g. AMP's discriminator
                auxiliary[key] = auxiliary.get(key, 0.0) + value
            check_module_finite(self.actor, "actor", f"a PPO step (learning_rate={self.learning_rate:.3g})")
            check_module_finite(self.critic, "critic", f"a PPO step (learning_rate={self.learning_rate:.3g})")

            totals["policy_loss"] += policy_loss.item()
            totals["value_loss"] += value_loss.item()
            totals["entropy"] += entropy.item()
            totals["approx_kl"] += kl.item()
            totals["clip_fraction"] += ((ratio - 1.0).abs() > cfg.clip_param).float().mean().item()
            num_updates += 1
        self._update_normalization()
        self.storage.clear()
        means = {name: value / num_updates for name, value in totals.items()}
        return {
            "train/policy_loss": means["policy_loss"],
            "train/value_loss": means["value_loss"],
            # The term minimized for exploration (before entropy_coef), as in SB3/CleanRL.
            "train/entropy_loss": -means["entropy"],
            "train/entropy": means["entropy"],
            "train/approx_kl": means["approx_kl"],
            "train/clip_fraction": means["clip_fraction"],
            "train/learning_rate": self.learning_rate,
            "train/entropy_coef": self.entropy_coef,
            "train/action_std": self.actor.std.mean().item(),
            **{key: value / num_updates for key, value in auxiliary.items()},
        }

    def _auxiliary_step(self) -> dict[str, float]:
        """One step of a model trained beside the policy, after each PPO minibatch step (none here;
        AMP trains its discriminator). Returns figures to average over the update."""
        return {}

    def _evaluate_trajectories(self, batch) -> tuple[torch.distributions.Normal, torch.Tensor]:
        """Action distribution and values at the real steps of a recurrent minibatch, flat as its other fields."""
        if self.actor_is_recurrent:
            distribution = self.actor.distribution(batch.obs, masks=batch.masks, hidden_states=batch.actor_hidden_states)
        else:
            distribution = self.actor.distribution(batch.obs[batch.masks])
        if self.critic_is_recurrent:
            values = self.critic(batch.critic_obs, masks=batch.masks, hidden_states=batch.critic_hidden_states)
        else:
            values = self.critic(batch.critic_obs[batch.masks])
        return distribution, values

    def _gradient_step(self, loss: torch.Tensor) -> None:
        """Backpropagate, average the gradients over the ranks (data-parallel), clip, step."""
        parameters = [*self.actor.parameters(), *self.critic.parameters()]
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(parameters)
        nn.utils.clip_grad_norm_(parameters, self.cfg.max_grad_norm)
        self.optimizer.step()

    def broadcast_parameters(self) -> None:
        """Start every rank from rank 0's networks (and normalizer statistics)."""
        broadcast_module(self.actor)
        broadcast_module(self.critic)

    @torch.no_grad()
    def _update_normalization(self) -> None:
        # Statistics move only here, after the update, from the rollout just used: the rollout's
        # log-probs and the update then see the same observation transform, so the KL that drives
        # the adaptive learning rate measures the policy change alone.
        self.actor.update_normalization(self.storage.obs.flatten(0, 1))
        self.critic.update_normalization(self.storage.critic_obs.flatten(0, 1))

    def set_learning_rate(self, learning_rate: float) -> None:
        self.learning_rate = learning_rate
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate

    def adjust_schedules(self, iteration: int) -> None:
        """Per-iteration schedules (the adaptive one runs per minibatch inside ``update``)."""
        cfg = self.cfg
        if cfg.schedule == "linear":
            self.set_learning_rate(linear_learning_rate(cfg, iteration))
        if cfg.entropy_coef_final is not None:
            progress = min(1.0, iteration / cfg.max_iterations)
            self.entropy_coef = cfg.entropy_coef + (cfg.entropy_coef_final - cfg.entropy_coef) * progress

    def train_mode(self) -> None:
        self.actor.train()
        self.critic.train()

    def eval_mode(self) -> None:
        self.actor.eval()
        self.critic.eval()

    # ----------------------------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, Any]:
        state = {
            "actor_state_dict": self.actor.state_dict(),  # includes the observation normalizer
            "critic_state_dict": self.critic.state_dict(),
            "optimizer_state_dict": self.optimizer.state_dict(),
            "learning_rate": self.learning_rate,
            "entropy_coef": self.entropy_coef,
        }
        if self.is_recurrent:
            # The memory of the episodes being played: with the env's state, a resume continues them exactly.
            state["rollout_hidden_states"] = {
                name: [h.clone() for h in states]
                for name, states in self._running_hidden_states().items()
                if states is not None
            }
        return state

    def _running_hidden_states(self) -> dict[str, Any]:
        networks = {"actor": (self.actor, self.actor_is_recurrent), "critic": (self.critic, self.critic_is_recurrent)}
        return {name: network.get_hidden_states() for name, (network, recurrent) in networks.items() if recurrent}

    def load_state_dict(self, state: dict[str, Any], load_optimizer: bool = True) -> None:
        self.actor.load_state_dict(state["actor_state_dict"])
        self.critic.load_state_dict(state["critic_state_dict"])
        if load_optimizer:
            self.optimizer.load_state_dict(state["optimizer_state_dict"])
            self.set_learning_rate(float(state["learning_rate"]))
            self.entropy_coef = float(state.get("entropy_coef", self.entropy_coef))
        if self.is_recurrent:
            self._load_hidden_states(state.get("rollout_hidden_states", {}) if load_optimizer else {})

    def _load_hidden_states(self, saved: dict[str, Any]) -> None:
        # Restored when resuming with as many envs (the runner then restores the env's episodes too);
        # otherwise the episodes start afresh, from zeros.
        for name, network in (("actor", self.actor), ("critic", self.critic)):
            if not getattr(network, "is_recurrent", False):
                continue
            states = saved.get(name)
            expected = self._hidden_shapes(network)
            fits = states is not None and [tuple(h.shape) for h in states] == expected
            network.set_hidden_states(tuple(h.to(self.device) for h in states) if fits else None)

    # -------------------------------------------------------------------------------- training
    def learn(
        self,
        total_timesteps: int | None = None,
        num_learning_iterations: int | None = None,
        log_dir: str | None = None,
        **runner_kwargs: Any,
    ) -> dict[str, float]:
        """Train with ``OnPolicyRunner`` (the single on-policy loop); the runner is kept for later calls."""
        from legged_train.runners.on_policy_runner import OnPolicyRunner

        if self.runner is None:
            self.runner = OnPolicyRunner(agent=self, env=self.env, cfg=self.cfg, log_dir=log_dir, **runner_kwargs)
        return self.runner.learn(num_learning_iterations=num_learning_iterations, total_timesteps=total_timesteps)


# rsl_rl-style train_cfg dicts: keys this project has no use for but that such dicts commonly carry.
# Checkpoint selection (our CLI has --resume / --load-run / --checkpoint), Neptune (not a backend here),
# the Isaac Lab wrapper's action clip (our envs clip: LeggedEnvConfig.clip_actions), rsl_rl's NaN
# check (our runner always checks, infinities too) and rsl_rl's multi-GPU settings (one process here).
_IGNORED_RSL_RL_KEYS = {
    "algorithm_class_name", "policy_class_name", "resume", "load_run", "checkpoint", "load_checkpoint",
    "resume_path", "neptune_project", "clip_actions", "store_code_state", "check_for_nan", "multi_gpu",
    "grad_reduce_bucket_mb",
}

# rsl_rl settings that this PPO has one way only: accepted at the value that describes what it does,
# an error otherwise (silently training something else would be worse).
_RSL_RL_FIXED_CHOICES = {
    "optimizer": ("adam",),
    "normalize_advantage_per_mini_batch": (False,),  # advantages are normalized over the whole rollout
    "rnd_cfg": (None,),  # no random network distillation
    "symmetry_cfg": (None,),  # no symmetry augmentation
    "share_cnn_encoders": (False, None),  # MLPs only
    "use_mixed_precision": (False,),
    "torch_compile_mode": (None,),
}

# rsl_rl 5's MLPModel defaults, for the keys an actor / critic section leaves out.
_RSL_RL5_MLP_DEFAULTS = {"hidden_dims": [256, 256, 256], "activation": "elu", "obs_normalization": False}
# rsl_rl's activation names where ours differ.
_RSL_RL_ACTIVATIONS = {"lrelu": "leaky_relu", "swish": "silu"}


def _class_basename(value: Any) -> str:
    """'MLPModel', 'rsl_rl.models.MLPModel', 'rsl_rl.models:MLPModel' or the class itself -> 'MLPModel'."""
    name = getattr(value, "__name__", value)
    return str(name).replace(":", ".").rsplit(".", 1)[-1]


def _check_class_name(value: Any, path: str, expected: str, problems: list[str]) -> None:
    if value is not None and _class_basename(value) != expected:
        problems.append(f"{path}={value!r}: only {expected} is implemented here; allowed: {expected!r}")


def _check_obs_groups(obs_groups: Any, problems: list[str]) -> None:
    # Our runner gives the actor the 'policy' group and the critic the 'critic' group (the 'policy' group
    # on envs without one): rsl_rl's own resolution when obs_groups is left out. rsl_rl 3-4 named the
    # actor's set 'policy'.
    if not obs_groups:
        return
    expected = {"actor": ["policy"], "policy": ["policy"], "critic": ["critic"]}
    if not isinstance(obs_groups, dict) or any(
        not isinstance(groups, (list, tuple)) or list(groups) != expected.get(name) for name, groups in obs_groups.items()
    ):
        problems.append(
            f"obs_groups={obs_groups!r}: the actor reads the 'policy' group and the critic the 'critic' group "
            "(the 'policy' group on envs without one); allowed: {'actor': ['policy'], 'critic': ['critic']}, "
            "or leave obs_groups out"
        )


def _rsl_rl_logger(value: Any, problems: list[str]) -> dict[str, Any]:
    """rsl_rl's ``logger`` -> logger_backend (and the W&B project of rsl_rl 5's dict form)."""
    if not isinstance(value, dict):
        return {"logger_backend": value}  # "tensorboard", "wandb", ...: PPOConfig checks the name
    rest = dict(value)
    backend = {"tensorboard": "tensorboard", "WandbLogWriter": "wandb"}.get(_class_basename(rest.pop("class_name", None)))
    project = rest.pop("project_name", None)
    if backend is None or rest:
        problems.append(
            f"logger={value!r}: allowed: 'tensorboard', 'wandb', 'swanlab', a list of them, "
            "{'class_name': 'tensorboard'} or {'class_name': 'WandbLogWriter', 'project_name': ...}"
        )
        return {}
    return {"logger_backend": backend, **({"logger_kwargs": {"wandb": {"project": project}}} if project else {})}


def _rsl_rl5_model(name: str, section: Any, problems: list[str]) -> tuple[dict, bool, float | None]:
    """An rsl_rl 5 ``actor`` / ``critic`` section -> (network kwargs, obs_normalization, initial action std)."""
    from legged_train.networks import ACTIVATIONS

    if not isinstance(section, dict):
        problems.append(f"{name}={section!r}: must be a dict such as {{'class_name': 'MLPModel', 'hidden_dims': [256, 256]}}")
        return {}, False, None
    section = {**_RSL_RL5_MLP_DEFAULTS, **section}
    _check_class_name(section.pop("class_name", None), f"{name}.class_name", "MLPModel", problems)
    hidden_dims = section.pop("hidden_dims")
    if not isinstance(hidden_dims, (list, tuple)):
        problems.append(f"{name}.hidden_dims={hidden_dims!r}: must be a list of layer widths such as [256, 256]")
    given_activation = section.pop("activation")
    activation = _RSL_RL_ACTIVATIONS.get(str(given_activation).lower(), str(given_activation).lower())
    if activation not in ACTIVATIONS:
        problems.append(f"{name}.activation={given_activation!r}: allowed: {sorted([*ACTIVATIONS, *_RSL_RL_ACTIVATIONS])}")
    obs_normalization = bool(section.pop("obs_normalization"))
    distribution = section.pop("distribution_cfg", None)
    init_std = section.pop("init_noise_std", None) if name == "actor" else None  # rsl_rl 4.0's name
    if name == "critic":
        if distribution is not None:
            problems.append(f"critic.distribution_cfg={distribution!r}: the critic outputs a value; allowed: None")
    elif distribution is not None and init_std is not None:
        problems.append("actor: give distribution_cfg.init_std (rsl_rl 5) or init_noise_std (rsl_rl 4.0), not both")
    elif distribution is None and init_std is None:
        problems.append(
            "actor.distribution_cfg: missing; PPO needs a stochastic actor, "
            "e.g. {'class_name': 'GaussianDistribution', 'init_std': 1.0}"
        )
    elif distribution is not None:
        init_std = _rsl_rl5_gaussian(distribution, problems)
    allowed = ["class_name", "hidden_dims", "activation", "obs_normalization", "distribution_cfg"]
    allowed += ["init_noise_std"] if name == "actor" else []
    for key in section:
        problems.append(f"{name}.{key}: not supported; allowed: {allowed}")
    hidden_dims = list(hidden_dims) if isinstance(hidden_dims, (list, tuple)) else []
    return {"hidden_dims": hidden_dims, "activation": activation}, obs_normalization, init_std


def _rsl_rl5_gaussian(distribution: Any, problems: list[str]) -> float | None:
    """rsl_rl 5's ``actor.distribution_cfg`` -> the initial action std."""
    if not isinstance(distribution, dict):
        problems.append(f"actor.distribution_cfg={distribution!r}: must be a dict such as {{'class_name': 'GaussianDistribution'}}")
        return None
    distribution = dict(distribution)
    _check_class_name(distribution.pop("class_name", None), "actor.distribution_cfg.class_name", "GaussianDistribution", problems)
    init_std = distribution.pop("init_std", 1.0)
    # Our actor learns log(std) whichever rsl_rl parametrization is named: the same Gaussian policy.
    std_type = distribution.pop("std_type", "scalar")
    if std_type not in ("scalar", "log"):
        problems.append(f"actor.distribution_cfg.std_type={std_type!r}: allowed: 'scalar', 'log'")
    learn_std = distribution.pop("learn_std", True)
    if learn_std is not True:
        problems.append(f"actor.distribution_cfg.learn_std={learn_std!r}: the std is always learned here; allowed: True")
    for key in distribution:
        allowed = ["class_name", "init_std", "std_type", "learn_std"]
        problems.append(f"actor.distribution_cfg.{key}: not supported; allowed: {allowed}")
    return init_std


def ppo_config_from_dict(train_cfg: dict) -> PPOConfig:
    """Build a PPOConfig from an rsl_rl-style ``train_cfg`` dict.

    Layouts:

    - legged_gym / rsl_rl 2-4: ``{"runner": {...}, "algorithm": {...}, "policy": {...}}``, or the runner
      keys at the top level next to ``algorithm`` and ``policy``; ``policy.actor_hidden_dims`` etc.
      map to actor_cfg / critic_cfg.
    - rsl_rl 5: runner keys at the top level (or under ``runner``, as rsl_rl's YAML files nest them)
      with ``algorithm``, ``actor`` and ``critic`` sections, as rsl_rl 5's OnPolicyRunner reads them.
      What a section leaves out takes rsl_rl 5's default (MLPModel: 256x3 ELU layers, no observation
      normalization), the model sections decide the observation normalization, and the entropy
      coefficient stays constant (``entropy_coef_final=None``), as in rsl_rl's PPO.

    Runner and algorithm keys with PPOConfig names map directly (PPOConfig-only fields such as
    ``entropy_coef_final`` too); rsl_rl settings this PPO has one way only (``optimizer``, ``rnd_cfg``,
    ...) pass at that value. Anything else raises one ValueError that lists every key it does not
    take, with what is allowed.
    """
    if not isinstance(train_cfg, dict):
        raise TypeError(f"train_cfg must be a dict, got {type(train_cfg).__name__}")
    # rsl_rl's YAML nests the sections under `runner:`; legged_gym puts algorithm / policy next to it.
    runner = {key: value for key, value in train_cfg.items() if key != "runner"}
    runner.update(train_cfg.get("runner") or {})
    algorithm = dict(runner.pop("algorithm", None) or {})
    policy = runner.pop("policy", None)
    actor, critic = runner.pop("actor", None), runner.pop("critic", None)
    rsl_rl5 = actor is not None or critic is not None

    problems: list[str] = []
    _check_class_name(runner.pop("class_name", None), "class_name", "OnPolicyRunner", problems)
    _check_class_name(algorithm.pop("class_name", None), "algorithm.class_name", "PPO", problems)
    _check_obs_groups(runner.pop("obs_groups", None), problems)

    cfg = PPOConfig()
    field_names = set(PPOConfig.__dataclass_fields__)
    overrides: dict[str, Any] = {}
    for prefix, section in (("", runner), ("algorithm.", algorithm)):
        for key, value in section.items():
            if key in _IGNORED_RSL_RL_KEYS:
                continue
            if key in _RSL_RL_FIXED_CHOICES:
                allowed = _RSL_RL_FIXED_CHOICES[key]
                if (value.lower() if isinstance(value, str) else value) not in allowed:
                    problems.append(f"{prefix}{key}={value!r}: not implemented here; allowed: {' or '.join(map(repr, allowed))}")
            elif key == "logger":
                overrides.update(_rsl_rl_logger(value, problems))
            elif key == "wandb_project":
                overrides["logger_kwargs"] = {"wandb": {"project": value}}
            elif key in field_names:
                overrides[key] = value
            else:
                problems.append(f"{prefix}{key}: unknown config field {key!r}")

    actor_cfg = dict(overrides.pop("actor_cfg", cfg.actor_cfg))
    critic_cfg = dict(overrides.pop("critic_cfg", cfg.critic_cfg))
    if rsl_rl5:
        if policy is not None:
            problems.append("policy: give a 'policy' section (rsl_rl <= 4.0) or 'actor' and 'critic' (rsl_rl 5), not both")
        if actor is None or critic is None:
            missing = "critic" if critic is None else "actor"
            problems.append(f"{missing}: missing; rsl_rl 5 configs have both 'actor' and 'critic' sections")
        actor_cfg, actor_norm, init_std = _rsl_rl5_model("actor", actor if actor is not None else {}, problems)
        critic_cfg, critic_norm, _ = _rsl_rl5_model("critic", critic if critic is not None else {}, problems)
        if actor_norm != critic_norm:
            problems.append(
                f"actor.obs_normalization={actor_norm} and critic.obs_normalization={critic_norm}: "
                "both networks normalize their observations or neither does (PPOConfig.empirical_normalization)"
            )
        overrides["empirical_normalization"] = actor_norm
        if init_std is not None:
            overrides["init_noise_std"] = init_std
        overrides.setdefault("entropy_coef_final", None)
    elif policy is not None:
        normalization = {}
        for key, value in dict(policy).items():
            if key == "class_name":
                _check_class_name(value, "policy.class_name", "ActorCritic", problems)
            elif key == "actor_hidden_dims":
                actor_cfg["hidden_dims"] = list(value)
            elif key == "critic_hidden_dims":
                critic_cfg["hidden_dims"] = list(value)
            elif key == "activation":
                actor_cfg["activation"] = critic_cfg["activation"] = value
            elif key == "init_noise_std":
                overrides["init_noise_std"] = value
            elif key in ("actor_obs_normalization", "critic_obs_normalization"):
                normalization[key] = value
            elif key == "noise_std_type" and value in ("scalar", "log"):
                pass  # our actor learns log(std) either way: the same Gaussian policy
            elif key == "state_dependent_std" and value is False:
                pass
            else:
                problems.append(
                    f"policy.{key}={value!r}: not supported; allowed: actor_hidden_dims, critic_hidden_dims, activation, "
                    "init_noise_std, actor_obs_normalization, critic_obs_normalization, class_name='ActorCritic', "
                    "noise_std_type='scalar'|'log', state_dependent_std=False"
                )
        if len(set(normalization.values())) > 1:
            problems.append(f"policy: {normalization}: both networks normalize their observations or neither does")
        elif normalization:
            overrides["empirical_normalization"] = next(iter(normalization.values()))

    if problems:
        known = sorted(field_names | set(_RSL_RL_FIXED_CHOICES) | {"logger", "wandb_project", "obs_groups", "class_name"})
        raise ValueError(
            "train_cfg has settings legged_train's PPO does not take:\n  - " + "\n  - ".join(problems)
            + f"\nRunner / algorithm keys it takes: {known}; ignored: {sorted(_IGNORED_RSL_RL_KEYS)}"
        )
    overrides["actor_cfg"] = actor_cfg
    overrides["critic_cfg"] = critic_cfg
    return apply_overrides(cfg, overrides)


def num_iterations_for(total_timesteps: int, cfg: PPOConfig, num_envs: int) -> int:
    """Learning iterations needed to collect at least ``total_timesteps`` env steps."""
    return max(1, math.ceil(total_timesteps / (cfg.num_steps_per_env * num_envs)))
