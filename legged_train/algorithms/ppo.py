"""Proximal Policy Optimization with an asymmetric actor-critic, as used for legged locomotion.

The maths lives here (acting, GAE, the clipped losses, learning-rate schedules); the loop lives in
``OnPolicyRunner`` and ``PPO.learn`` hands over to it. Defaults follow rsl_rl's legged-robot
settings, which are known to make quadrupeds walk.
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from legged_train.config import RunnerConfig, check_fields, resolve_device
from legged_train.distributed import average_gradients, broadcast_module, mean_over_ranks
from legged_train.networks import RNN_TYPES, EmpiricalNormalization, MLPActor, MLPCritic, RecurrentActor, RecurrentCritic, check_network_options
from legged_train.finite import check_finite, check_module_finite
from legged_train.observation_groups import image_columns, image_layout, observation_group_width, term_columns
from legged_train.storage import RolloutStorage

LR_SCHEDULES = ("adaptive", "fixed", "linear")
# Network arguments PPO passes from its own fields (empirical_normalization, init_noise_std) and from the env
# (image_layout: where a group's images are), not from actor_cfg / critic_cfg.
PPO_SETS_NETWORK_OPTIONS = ("obs_normalization", "init_noise_std", "image_layout")


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
    # Observation terms the empirical normalization leaves as they are (read at their term's scale),
    # in the actor's and the critic's groups: legged_gym's height scan, whose hundreds of columns would
    # otherwise each count as much as a joint angle (see go1_rough_teacher).
    fixed_scale_terms: list[str] = field(default_factory=list)
    actor_cfg: dict = field(default_factory=lambda: {"hidden_dims": [128, 128, 128], "activation": "elu"})
    critic_cfg: dict = field(default_factory=lambda: {"hidden_dims": [128, 128, 128], "activation": "elu"})
    # torch threads while collecting experience (0: as torch_threads). With a CPU simulator, 1 leaves
    # the cores to its thread pool; the update, with the simulator idle, runs on torch_threads.
    rollout_torch_threads: int = 0
    # The observation groups (``extras["observations"]``) the actor and the critic read. A privileged
    # teacher reads e.g. "teacher"; an env without a "critic" group gives the critic "policy".
    actor_obs_group: str = "policy"
    critic_obs_group: str = "critic"
    # Left-right symmetry (the env's ``symmetry()``: legged envs mirror their groups and actions from
    # the robot's layout). symmetry_augmentation: every minibatch is learned twice, as sampled and as
    # its mirror image (rsl_rl's data augmentation); mirror_loss_coef > 0: a loss on the difference
    # between the actor's mean action for a mirrored observation and the mirrored mean action.
    # Feed-forward actors and critics only.
    symmetry_augmentation: bool = False
    mirror_loss_coef: float = 0.0
    # Fine-tuning a pretrained actor (cloned from demonstrations, distilled, or loaded): the first
    # critic_warmup_iterations of PPO train the critic alone, the actor (its weights, its observation
    # statistics) and its learning rate held,
    # so that the first advantages the actor follows come from a critic of its own returns; and
    # anchor_coef adds the squared distance of the actor's mean action from the actor's at the start
    # of PPO (a frozen copy), its weight decayed linearly to 0 over anchor_iterations.
    critic_warmup_iterations: int = 0
    anchor_coef: float = 0.0
    anchor_iterations: int = 100
    # Fine-tuning a distilled student: teacher_coef > 0 adds the squared distance of the actor's mean
    # action from a frozen teacher's action (the actor of the PPO run teacher_checkpoint, reading the
    # env's teacher_obs_group) at every sampled state: DAgger's loss kept beside PPO's at a constant
    # weight (the anchor decays; PPO then undid go1_rough_student's stairs). The teacher must be a
    # feed-forward actor. train.py --teacher RUN|CHECKPOINT sets teacher_checkpoint.
    teacher_coef: float = 0.0
    teacher_obs_group: str = "teacher"
    teacher_checkpoint: str = ""
    # True: PPO's updates leave the observation normalizers' statistics as they are (as pretrained or
    # loaded): a pretrained actor then keeps reading its inputs on the scale it was fitted on.
    freeze_obs_normalization: bool = False
    # A trained actor this run starts from: a checkpoint file of a PPO run or of a distillation run
    # (its student), whose actor reads the same observation group, with the same layout and network
    # sizes. Its weights and observation statistics are loaded; the action std is init_noise_std's
    # (a distilled student never learned one). New runs only: a resume loads its own checkpoint.
    # train.py --init-actor RUN|CHECKPOINT sets it; go1_rough_student_ppo fine-tunes a distilled student.
    init_actor_checkpoint: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fields(self, ("mirror_loss_coef", "anchor_coef", "critic_warmup_iterations", "teacher_coef"),
                     lambda v: v >= 0, ">= 0 (0: off)")
        check_fields(self, ("anchor_iterations",), lambda v: v > 0, "> 0")
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
        for name in ("init_actor_checkpoint", "teacher_checkpoint"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name}={getattr(self, name)!r} must be a path to a .pt file (or '')")
        if self.teacher_checkpoint and not self.teacher_coef > 0:
            raise ValueError(f"teacher_checkpoint={self.teacher_checkpoint!r} with teacher_coef={self.teacher_coef!r}: "
                             "the teacher is read only for its pull; set teacher_coef > 0, or leave teacher_checkpoint ''")
        for name in ("actor_obs_group", "critic_obs_group", "teacher_obs_group"):
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

    def check_networks(self, prefix: str = "", image_actor: bool | None = None) -> None:
        """``actor_cfg`` / ``critic_cfg`` against the networks PPO builds from them when no class is given
        (MLPActor / MLPCritic, RecurrentActor / RecurrentCritic with rnn_type; the image actors for an
        actor group with images, or, before the env is known (None), for an actor_cfg with encoder_*
        options): a misspelled option is one ValueError naming ``{prefix}actor_cfg.<key>`` and the
        allowed keys, before anything is built."""
        if image_actor is None:
            image_actor = reads_image_options(self.actor_cfg)
        for name, (recurrent, feed_forward) in (("actor", actor_classes(image_actor)), ("critic", (RecurrentCritic, MLPCritic))):
            options = getattr(self, f"{name}_cfg")
            network = network_class(f"{prefix}{name}", None, options, recurrent, feed_forward)
            check_network_options(f"{prefix}{name}_cfg", network, options, PPO_SETS_NETWORK_OPTIONS)


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


def actor_classes(image_actor: bool) -> tuple[type[nn.Module], type[nn.Module]]:
    """(recurrent, feed-forward) actor classes built when none is given: the image-reading ones
    (``legged_train.image_networks``) for an observation group holding images."""
    if image_actor:
        from legged_train.image_networks import ImageMLPActor, ImageRecurrentActor

        return ImageRecurrentActor, ImageMLPActor
    return RecurrentActor, MLPActor


def reads_image_options(network_cfg: dict) -> bool:
    """Whether a network config carries options only the image actors take (``encoder_*``)."""
    return any(str(key).startswith("encoder_") for key in network_cfg)


def actor_network(name: str, given: type[nn.Module] | None, actor_cfg: dict, obs_group: str,
                  images: list) -> tuple[type[nn.Module], dict]:
    """The actor class (``given``, else built from ``actor_cfg``: the image actors for a group with
    ``images``) and the ``image_layout`` keyword it takes ({} without images)."""
    actor_class = network_class(name, given, actor_cfg, *actor_classes(bool(images)))
    return actor_class, image_options(name, actor_class, obs_group, images)


def image_options(name: str, network: type[nn.Module], obs_group: str, images: list) -> dict:
    """The ``image_layout`` keyword for a network reading ``obs_group`` whose image terms are
    ``images`` (``observation_groups.image_layout``); {} without images. A network class that
    cannot take images is a one-line ValueError."""
    if not images:
        return {}
    from legged_train.image_networks import check_image_layout

    check_image_layout(name, network, obs_group, [term for term, _, _ in images])
    return {"image_layout": [(start, shape) for _, start, shape in images]}


def keep_fixed_scale_terms(env, terms: list[str], groups: dict[nn.Module, str]) -> None:
    """Switch the empirical normalization off for ``terms`` in each network of ``groups`` (network ->
    the observation group it reads). A term in none of the groups is a ValueError."""
    if not terms:
        return
    found = set()
    for network, group in groups.items():
        columns = term_columns(env, group, terms)
        if columns is None:
            continue
        found.update(term for term, _ in env.observation_layout()[group] if term in terms)
        normalizer = getattr(network, "obs_normalizer", None)
        if not isinstance(normalizer, EmpiricalNormalization):
            continue
        images = image_columns(env, group)
        # An image network normalizes its vector columns only.
        normalizer.keep_columns(columns if images is None else columns[~images])
    missing = [term for term in terms if term not in found]
    if missing:
        layout = env.observation_layout() if hasattr(env, "observation_layout") else {}
        raise ValueError(
            f"fixed_scale_terms: {missing[0]!r} is not a term of the actor's or the critic's group: "
            + ", ".join(f"{group!r} has {[term for term, _ in layout.get(group, [])]}" for group in dict.fromkeys(groups.values()))
        )


def frozen_teacher(teacher: nn.Module, num_teacher_obs: int, teacher_obs_group: str, device) -> nn.Module:
    """``teacher`` on ``device`` in eval mode without gradients, once its input width is checked
    against the env's ``teacher_obs_group`` (PPO's teacher_coef and Distillation share it)."""
    width = getattr(teacher, "num_obs", None)
    if width is not None and width != num_teacher_obs:
        raise ValueError(f"the teacher reads {width} observations; the env's group {teacher_obs_group!r} has {num_teacher_obs}")
    return teacher.to(device).eval().requires_grad_(False)


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
        critic_group = cfg.critic_obs_group if self.has_critic_group else "policy"
        actor_images, critic_images = image_layout(env, cfg.actor_obs_group), image_layout(env, critic_group)
        if actor_class is None and critic_class is None:
            cfg.check_networks(image_actor=bool(actor_images))
        actor_class, actor_image_options = actor_network("actor", actor_class, cfg.actor_cfg, cfg.actor_obs_group, actor_images)
        critic_class = network_class("critic", critic_class, cfg.critic_cfg, RecurrentCritic, MLPCritic)
        self.actor = actor_class(
            num_actor_obs,
            env.num_actions,
            obs_normalization=cfg.empirical_normalization,
            init_noise_std=cfg.init_noise_std,
            **cfg.actor_cfg,
            **actor_image_options,
        ).to(self.device)
        self.critic = critic_class(
            num_critic_obs, obs_normalization=cfg.empirical_normalization, **cfg.critic_cfg,
            **image_options("critic", critic_class, critic_group, critic_images),
        ).to(self.device)
        self.learning_rate = cfg.learning_rate
        self.entropy_coef = cfg.entropy_coef
        self.optimizer = torch.optim.Adam(
            [*self.actor.parameters(), *self.critic.parameters()], lr=self.learning_rate
        )
        self.actor_is_recurrent = bool(getattr(self.actor, "is_recurrent", False))
        self.critic_is_recurrent = bool(getattr(self.critic, "is_recurrent", False))
        keep_fixed_scale_terms(env, cfg.fixed_scale_terms, {self.actor: cfg.actor_obs_group, self.critic: critic_group})
        self.is_recurrent = self.actor_is_recurrent or self.critic_is_recurrent
        self.storage = RolloutStorage(
            env.num_envs, cfg.num_steps_per_env, num_actor_obs, num_critic_obs, env.num_actions, self.device,
            actor_hidden_shapes=self._hidden_shapes(self.actor), critic_hidden_shapes=self._hidden_shapes(self.critic),
            # Images in float16: half the memory of the rollout's largest part.
            half_obs_columns=image_columns(env, cfg.actor_obs_group), half_critic_obs_columns=image_columns(env, critic_group),
            teacher_actions=cfg.teacher_coef > 0,
        )
        self.runner = None  # made by learn() on first use
        self._warned_no_final_obs = False
        self.mirror = self._mirrors(env) if cfg.symmetry_augmentation or cfg.mirror_loss_coef > 0 else None
        # Fine-tuning (critic_warmup_iterations, anchor_coef): PPO updates done, and the actor as the first found it.
        self.ppo_updates = 0
        self.anchor: nn.Module | None = None
        # The teacher's pull (teacher_coef): the frozen teacher (set_teacher; the runner loads it from
        # teacher_checkpoint) and its action for the observations the next act() is given.
        if cfg.teacher_coef > 0:
            self.num_teacher_obs = observation_group_width(env, cfg.teacher_obs_group, "teacher_obs_group")
        self.teacher: nn.Module | None = None
        self.teacher_actions: torch.Tensor | None = None

    def _mirrors(self, env) -> dict:
        """The mirror images of the actor's and the critic's observations and of the actions."""
        make = getattr(env, "symmetry", None)
        if make is None:
            raise ValueError(f"PPOConfig.symmetry_augmentation / mirror_loss_coef: {type(env).__name__} has no symmetry() "
                             "to mirror its observations and actions (the legged envs have)")
        if self.is_recurrent:
            raise ValueError("PPOConfig.symmetry_augmentation / mirror_loss_coef: needs feed-forward networks "
                             "(actor_cfg and critic_cfg without rnn_type); for a recurrent policy set "
                             "symmetry_augmentation=False and mirror_loss_coef=0")
        symmetry = make()
        critic_group = self.critic_obs_group if self.has_critic_group else self.actor_obs_group
        return {"obs": symmetry.observation(self.actor_obs_group), "critic_obs": symmetry.observation(critic_group),
                "actions": symmetry.actions}

    def _hidden_shapes(self, network: nn.Module) -> list[tuple[int, ...]] | None:
        """Shapes of a recurrent network's per-step state tensors for all envs; None for a feed-forward one."""
        if not getattr(network, "is_recurrent", False):
            return None
        return [tuple(state.shape) for state in network.initial_hidden_states(self.env.num_envs)]

    def set_teacher(self, teacher: nn.Module) -> None:
        """Freeze ``teacher`` (a feed-forward actor reading ``cfg.teacher_obs_group``) for the pull of
        ``teacher_coef``; ``observe_teacher`` then labels each step."""
        if getattr(teacher, "is_recurrent", False):
            raise ValueError("PPOConfig.teacher_coef: the teacher must be a feed-forward actor (a PPO run without rnn_type)")
        self.teacher = frozen_teacher(teacher, self.num_teacher_obs, self.cfg.teacher_obs_group, self.device)

    def observe_teacher(self, teacher_obs: torch.Tensor) -> None:
        """The teacher's deterministic action for the observations of the next ``act``: its label."""
        self.teacher_actions = self.teacher(teacher_obs)

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
            teacher_actions=self.teacher_actions,
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

    # ------------------------------------------------------------------------------- learning
    def update(self) -> dict[str, float]:
        """Epochs of minibatch updates over the stored rollout; returns mean losses for logging."""
        cfg = self.cfg
        totals = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0, "approx_kl": 0.0, "clip_fraction": 0.0}
        auxiliary: dict[str, float] = {}
        num_updates = 0
        if self.anchor is None and cfg.anchor_coef > 0:
            self.anchor = copy.deepcopy(self.actor).requires_grad_(False)  # the actor PPO starts from
        critic_only = self.ppo_updates < cfg.critic_warmup_iterations
        anchor_weight = cfg.anchor_coef * max(0.0, 1.0 - self.ppo_updates / cfg.anchor_iterations)
        minibatches = self.storage.recurrent_minibatches if self.is_recurrent else self.storage.minibatches
        for batch in minibatches(cfg.num_mini_batches, cfg.num_learning_epochs):
            sampled = len(batch.actions)
            if cfg.symmetry_augmentation:
                batch = self._with_mirror_image(batch)
            if batch.masks is None:
                distribution = self.actor.distribution(batch.obs)
                values = self.critic(batch.critic_obs)
            else:
                distribution, values = self._evaluate_trajectories(batch)
            log_probs = distribution.log_prob(batch.actions).sum(dim=-1)
            entropy = distribution.entropy().sum(dim=-1).mean()

            with torch.no_grad():  # on the sampled half: the policy that sampled it is what moved
                kl = gaussian_kl(batch.old_mean[:sampled], batch.old_std[:sampled], distribution.mean[:sampled],
                                 distribution.stddev[:sampled]).mean()
                kl = mean_over_ranks(kl)  # every rank adapts its learning rate alike
            if cfg.schedule == "adaptive" and not critic_only:  # the actor holds still: no KL to follow
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
            if critic_only:  # the warm-up: the critic learns the pretrained actor's returns
                loss = cfg.value_loss_coef * value_loss
            elif anchor_weight > 0:
                anchor_loss = (distribution.mean[:sampled] - self._anchor_mean(batch, sampled)).square().mean()
                loss = loss + anchor_weight * anchor_loss
                auxiliary["train/anchor_loss"] = auxiliary.get("train/anchor_loss", 0.0) + anchor_loss.item()
            if batch.teacher_actions is not None and not critic_only:
                teacher_loss = (distribution.mean[:sampled] - batch.teacher_actions).square().mean()
                loss = loss + cfg.teacher_coef * teacher_loss
                auxiliary["train/teacher_loss"] = auxiliary.get("train/teacher_loss", 0.0) + teacher_loss.item()
            if cfg.mirror_loss_coef > 0 and not critic_only:
                mirror_loss = self._mirror_loss(batch, distribution, sampled)
                loss = loss + cfg.mirror_loss_coef * mirror_loss
                auxiliary["train/mirror_loss"] = auxiliary.get("train/mirror_loss", 0.0) + mirror_loss.item()

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
        if not cfg.freeze_obs_normalization:
            # In the warm-up the actor holds still, its input statistics too: moved alone they changed
            # the cloned policy's walk (go1_flat_pretrained: velocity_rmsd 0.113 -> 0.122 in 10 iterations).
            self._update_normalization(actor=not critic_only)
        self.storage.clear()
        self.ppo_updates += 1
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
            **({"train/critic_warmup": 1.0} if critic_only else {}),
            **({"train/anchor_weight": anchor_weight} if cfg.anchor_coef > 0 else {}),
            **{key: value / num_updates for key, value in auxiliary.items()},
        }

    @torch.no_grad()
    def _anchor_mean(self, batch, sampled: int) -> torch.Tensor:
        """The anchor actor's mean action at the minibatch's sampled steps, flat as the actor's."""
        if batch.masks is None:
            return self.anchor.distribution(batch.obs[:sampled]).mean
        if self.actor_is_recurrent:
            return self.anchor.distribution(batch.obs, masks=batch.masks, hidden_states=batch.actor_hidden_states).mean
        return self.anchor.distribution(batch.obs[batch.masks]).mean

    def _with_mirror_image(self, batch):
        """The minibatch followed by its mirror image: mirrored observations and actions with the
        sampled ones' old log-probabilities, values, returns and advantages (rsl_rl's augmentation: the
        mirrored action is taken as as likely under the old policy as the sampled one was)."""
        mirror = self.mirror
        twice = {name: torch.cat((getattr(batch, name),) * 2) for name in
                 ("old_log_probs", "old_values", "returns", "advantages")}
        return replace(
            batch,
            obs=torch.cat((batch.obs, mirror["obs"](batch.obs))),
            critic_obs=torch.cat((batch.critic_obs, mirror["critic_obs"](batch.critic_obs))),
            actions=torch.cat((batch.actions, mirror["actions"](batch.actions))),
            old_mean=torch.cat((batch.old_mean, mirror["actions"](batch.old_mean))),
            old_std=torch.cat((batch.old_std, batch.old_std[..., mirror["actions"].permutation])),
            **twice,
        )

    def _mirror_loss(self, batch, distribution, sampled: int) -> torch.Tensor:
        """Mean squared difference between the actor's mean action for the mirrored observations and
        the mirror of its mean action for the sampled ones (that one held fixed)."""
        mean = distribution.mean[:sampled]
        if len(distribution.mean) > sampled:  # augmented: the mirrored half is already evaluated
            mirrored_mean = distribution.mean[sampled:]
        else:
            mirrored_mean = self.actor.distribution(self.mirror["obs"](batch.obs)).mean
        return (mirrored_mean - self.mirror["actions"](mean).detach()).square().mean()

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
    def _update_normalization(self, actor: bool = True) -> None:
        # Statistics move only here, after the update, from the rollout just used: the rollout's
        # log-probs and the update then see the same observation transform, so the KL that drives
        # the adaptive learning rate measures the policy change alone. actor=False: the critic's only.
        obs, critic_obs = self.storage.obs.flatten(0, 1)[:], self.storage.critic_obs.flatten(0, 1)[:]  # [:]: compact storage too
        if self.mirror is not None:  # the networks see the mirror images too: their statistics are symmetric
            obs = torch.cat((obs, self.mirror["obs"](obs)))
            critic_obs = torch.cat((critic_obs, self.mirror["critic_obs"](critic_obs)))
        if actor:
            self.actor.update_normalization(obs)
        self.critic.update_normalization(critic_obs)

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
            "ppo_updates": self.ppo_updates,
        }
        if self.anchor is not None:  # fine-tuning goes on from the same anchor after a resume
            state["anchor_state_dict"] = self.anchor.state_dict()
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
            # A resume continues fine-tuning where it was; loading weights only (a pretrained actor) starts it.
            self.ppo_updates = int(state.get("ppo_updates", 0))
            if "anchor_state_dict" in state:
                self.anchor = copy.deepcopy(self.actor).requires_grad_(False)
                self.anchor.load_state_dict(state["anchor_state_dict"])
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
        """Train with the runner registered for this algorithm (``OnPolicyRunner``: the single on-policy
        loop); the runner is kept for later calls."""
        # The registry, not the runner module: the runner imports this module (no import cycle).
        from legged_train.runners.registry import runner_class

        if self.runner is None:
            self.runner = runner_class(type(self))(agent=self, env=self.env, cfg=self.cfg, log_dir=log_dir, **runner_kwargs)
        return self.runner.learn(num_learning_iterations=num_learning_iterations, total_timesteps=total_timesteps)


def num_iterations_for(total_timesteps: int, cfg: PPOConfig, num_envs: int) -> int:
    """Learning iterations needed to collect at least ``total_timesteps`` env steps."""
    return max(1, math.ceil(total_timesteps / (cfg.num_steps_per_env * num_envs)))
