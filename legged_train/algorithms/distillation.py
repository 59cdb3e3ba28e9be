"""Teacher-student distillation by online DAgger: a student that sees what a robot measures learns to
act like a frozen teacher that sees privileged state.

At every rollout step each env is driven by the student's action, or with probability
``teacher_act_prob(iteration)`` by the teacher's; the teacher's deterministic action labels every
visited state whoever acted. The update regresses the student's deterministic action on those labels
(MSE or Huber), over epochs of minibatches of the rollout: shuffled steps for a feed-forward student,
whole trajectories run from their stored first hidden state for a recurrent one (truncated
backpropagation through time over the rollout, ``RolloutStorage.recurrent_minibatches``).

The maths lives here; the loop is ``DistillationRunner`` (an ``OnPolicyRunner``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from legged_train.algorithms.ppo import actor_classes, actor_network, frozen_teacher, network_class, reads_image_options
from legged_train.checkpoint import CheckpointError, first_line, load_checkpoint_file
from legged_train.config import RunnerConfig, check_fields, resolve_device
from legged_train.finite import check_finite, check_module_finite
from legged_train.networks import RNN_TYPES, MLPActor, RecurrentActor, check_network_options
from legged_train.observation_groups import image_columns, image_layout, observation_group_width
from legged_train.storage import RolloutStorage

TEACHER_ACT_PROB_SCHEDULES = ("exp", "linear", "tanh")
LOSSES = ("mse", "huber")


@dataclass
class DistillationConfig(RunnerConfig):
    # Rollout and training length.
    num_steps_per_env: int = 24
    max_iterations: int = 200
    # Adam on the student; the update runs num_learning_epochs passes of num_mini_batches minibatches
    # (recurrent students: minibatches of whole trajectories of num_envs / num_mini_batches envs).
    learning_rate: float = 1e-3
    num_learning_epochs: int = 3
    num_mini_batches: int = 4
    max_grad_norm: float = 1.0
    # The action loss: "mse" (mean squared error over samples and action dims) or "huber"
    # (smooth L1 with huber_delta: quadratic below it, linear above; robust to rare large labels).
    loss: str = "mse"
    huber_delta: float = 1.0
    # DAgger mixing: the probability that the teacher's action drives an env at a step, a function of
    # the learning iterations done (see teacher_act_prob_schedule): "exp", "linear", "tanh" with the
    # scale update_times_scale (iterations), a constant in [0, 1], or (from Python) a callable.
    teacher_act_prob: str | float | Callable[[int], float] = "exp"
    update_times_scale: float = 100.0
    # Gaussian noise (std, in action units) added to the student's executed action: wider state coverage.
    action_sample_std: float = 0.0
    # The observation groups the student and the teacher read (extras["observations"]).
    student_obs_group: str = "policy"
    teacher_obs_group: str = "teacher"
    # The student: RecurrentActor with rnn_type ("gru" / "lstm"), else MLPActor (give the student's
    # group a history_length for a history MLP).
    actor_cfg: dict = field(
        default_factory=lambda: {
            "rnn_type": "gru", "rnn_hidden_dim": 128, "rnn_num_layers": 1, "hidden_dims": [128, 128], "activation": "elu",
        }
    )
    empirical_normalization: bool = True
    # The teacher: a checkpoint of a PPO run whose actor reads teacher_obs_group (train.py --teacher).
    teacher_checkpoint: str = ""
    # torch threads while collecting experience (0: as torch_threads); see PPOConfig.
    rollout_torch_threads: int = 0
    # Left-right symmetry (the env's ``symmetry()``, as PPOConfig's): the student also learns the
    # mirrored teacher action for each mirrored observation (the loss is the mean of the two).
    symmetry_augmentation: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        positive = ("num_steps_per_env", "max_iterations", "learning_rate", "num_learning_epochs", "num_mini_batches",
                    "max_grad_norm", "huber_delta", "update_times_scale")
        check_fields(self, positive, lambda v: v > 0, "> 0")
        check_fields(self, ("action_sample_std", "rollout_torch_threads"), lambda v: v >= 0, ">= 0")
        if self.loss not in LOSSES:
            raise ValueError(f"loss={self.loss!r} is not supported; allowed: {list(LOSSES)}")
        teacher_act_prob_schedule(self.teacher_act_prob, self.update_times_scale)  # raises on a bad value
        for name in ("student_obs_group", "teacher_obs_group"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"{name}={getattr(self, name)!r} must be the name of an observation group, e.g. 'policy'")
        if not isinstance(self.actor_cfg, dict):
            raise ValueError(f"actor_cfg={self.actor_cfg!r} must be a dict of network kwargs")
        rnn_type = self.actor_cfg.get("rnn_type")
        if rnn_type is not None and rnn_type not in RNN_TYPES:
            raise ValueError(f"actor_cfg.rnn_type={rnn_type!r} is not supported; allowed: {', '.join(map(repr, RNN_TYPES))}")
        if not isinstance(self.teacher_checkpoint, str):
            raise ValueError(f"teacher_checkpoint={self.teacher_checkpoint!r} must be a path to a .pt file (or '')")

    def check_networks(self, prefix: str = "", image_actor: bool | None = None) -> None:
        """``actor_cfg`` against the student network it builds (RecurrentActor with rnn_type, else
        MLPActor; their image versions for a student group with images, as PPO's ``check_networks``):
        a misspelled option names ``{prefix}actor_cfg.<key>`` and the allowed keys."""
        if image_actor is None:
            image_actor = reads_image_options(self.actor_cfg)
        student = network_class(f"{prefix}actor", None, self.actor_cfg, *actor_classes(image_actor))
        check_network_options(f"{prefix}actor_cfg", student, self.actor_cfg, ("obs_normalization", "image_layout"))


def teacher_act_prob_schedule(schedule: str | float | Callable[[int], float], scale: float) -> Callable[[int], float]:
    """The probability that the teacher acts, as a function of the learning iterations done ``i``
    (0 for the first rollout), as in the seed's DAgger (``scale`` = ``update_times_scale``):

    - ``"exp"``:    p(i) = (1 - 1/scale) ** i: 1 at the start, about exp(-i / scale) for a large scale
      (0.37 after ``scale`` iterations, 0.05 after 3 ``scale``);
    - ``"linear"``: p(i) = max(0, 1 - i / scale): 0 from ``scale`` iterations on;
    - ``"tanh"``:   p(i) = (1 - tanh((i - scale) / scale)) / 2: 0.88 at the start, 0.5 at ``scale``;
    - a number c in [0, 1]: p(i) = c (0: the student always acts; 1: behaviour cloning);
    - a callable f: p(i) = f(i), which must lie in [0, 1].
    """
    if callable(schedule):
        return _checked(schedule)
    if isinstance(schedule, bool) or not isinstance(schedule, (str, int, float)):
        raise ValueError(f"teacher_act_prob={schedule!r}: allowed: {list(TEACHER_ACT_PROB_SCHEDULES)}, a number in [0, 1] or a callable")
    if isinstance(schedule, str):
        if schedule == "exp":
            base = max(0.0, 1.0 - 1.0 / scale)
            return lambda i: base ** i
        if schedule == "linear":
            return lambda i: max(0.0, 1.0 - i / scale)
        if schedule == "tanh":
            return lambda i: 0.5 * (1.0 - math.tanh((i - scale) / scale))
        raise ValueError(f"teacher_act_prob={schedule!r} is not a schedule; allowed: {list(TEACHER_ACT_PROB_SCHEDULES)}, "
                         "a number in [0, 1] or a callable")
    if not 0.0 <= schedule <= 1.0:
        raise ValueError(f"teacher_act_prob={schedule!r} must be in [0, 1] (a probability)")
    constant = float(schedule)
    return lambda i: constant


def _checked(schedule: Callable[[int], float]) -> Callable[[int], float]:
    def probability(i: int) -> float:
        p = float(schedule(i))
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"teacher_act_prob({i}) = {p!r}: a callable schedule must return a probability in [0, 1]")
        return p

    return probability


def action_loss(predicted: torch.Tensor, labels: torch.Tensor, loss: str, huber_delta: float = 1.0) -> torch.Tensor:
    """Mean over samples and action dims of the squared error ("mse") or the Huber loss ("huber")."""
    if loss == "mse":
        return F.mse_loss(predicted, labels)
    if loss == "huber":
        return F.huber_loss(predicted, labels, delta=huber_delta)
    raise ValueError(f"loss={loss!r} is not supported; allowed: {list(LOSSES)}")


# ----------------------------------------------------------------------------------- the teacher
def _input_width(actor_state: dict) -> int | None:
    # The RNN before the MLP: a recurrent actor's MLP reads the RNN's output, not the observations.
    for key, dim in (("obs_normalizer.mean", 0), ("rnn.weight_ih_l0", 1), ("mlp.0.weight", 1)):
        if key in actor_state:
            return int(actor_state[key].shape[dim])
    return None


def load_teacher(
    path: str, env, obs_group: str = "teacher", device: str | torch.device = "cpu", robot: dict | None = None
) -> nn.Module:
    """The frozen actor of a PPO checkpoint (read with ``weights_only``), in eval mode, for ``env``.

    Refused with a CheckpointError that says why: a file that is not a checkpoint, one without an
    actor, another robot (``robot``: ``runner.identity()["robot"]``), an actor that reads another
    group than ``obs_group``, or whose observation layout (terms, widths, history) differs from the
    env's ``obs_group``.
    """
    return load_actor(path, env, obs_group, device, robot)


def load_actor(
    path: str, env, obs_group: str, device: str | torch.device = "cpu", robot: dict | None = None,
    role: str = "teacher checkpoint", group_field: str = "teacher_obs_group",
) -> nn.Module:
    """``load_teacher`` for any use of a trained actor: a PPO run's actor or a distillation run's
    student, built as its run built it. ``role`` and ``group_field`` word the errors (a fine-tune's
    ``init_actor_checkpoint`` and its ``actor_obs_group``)."""
    path = str(path)
    owner = "teacher" if group_field == "teacher_obs_group" else "pretrained actor"
    checkpoint = load_checkpoint_file(path, map_location=device)
    actor_key = next((key for key in ("actor_state_dict", "student_state_dict") if key in checkpoint), None)
    if actor_key is None:
        raise CheckpointError(f"{role} {path!r} holds no actor_state_dict: it must be a PPO run (e.g. of go1_teacher) or a distillation run")
    saved_robot = checkpoint.get("identity", {}).get("robot")
    if robot and saved_robot and saved_robot["joint_names"] != robot["joint_names"]:
        raise CheckpointError(f"{role} {path!r} was trained on joints {saved_robot['joint_names']}; this env has {robot['joint_names']}")
    config = checkpoint.get("config", {})
    observations = checkpoint.get("observations", {})
    group = observations.get("policy_group", config.get("actor_obs_group", "policy"))
    if group != obs_group:
        raise CheckpointError(
            f"{role} {path!r}: its actor reads observation group {group!r}, {group_field} is {obs_group!r}"
            + (" (train the teacher with --task go1_teacher)" if group_field == "teacher_obs_group" else "")
        )
    if "layout" in observations and hasattr(env, "observation_layout"):
        saved = ([tuple(block) for block in observations["layout"].get(group, [])], observations["history"].get(group))
        here = ([tuple(block) for block in env.observation_layout().get(obs_group, [])], env.observation_history().get(obs_group))
        if saved != here:
            raise CheckpointError(
                f"{role} {path!r}: observation group {group!r} of the {owner}'s run does not fit this env's: "
                f"{owner} {saved[0]} x history {saved[1]}, env {here[0]} x history {here[1]}"
            )
    width = observation_group_width(env, obs_group, group_field)
    saved_width = _input_width(checkpoint[actor_key])
    if saved_width is not None and saved_width != width:
        raise CheckpointError(
            f"{role} {path!r}: its actor reads {saved_width} observations, this env's group {obs_group!r} has {width}"
        )
    actor_cfg = dict(config.get("actor_cfg", {}))
    actor_class = network_class("actor", None, actor_cfg, RecurrentActor, MLPActor)
    try:
        actor = actor_class(
            width, env.num_actions, obs_normalization=bool(config.get("empirical_normalization", True)),
            init_noise_std=float(config.get("init_noise_std", 1.0)), **actor_cfg,
        )
        actor.load_state_dict(checkpoint[actor_key])
    except (RuntimeError, TypeError, ValueError) as err:
        raise CheckpointError(f"{role} {path!r}: its actor does not load: {first_line(err)}") from None
    return actor.to(device)


# -------------------------------------------------------------------------------- the algorithm
class Distillation:
    """A student actor regressed on a frozen teacher's actions at the states the DAgger mixture visits.

    ``teacher``: any module ``teacher(teacher_obs) -> actions`` (``load_teacher`` builds one from a
    run; a scripted function wrapped in a module works too), optionally recurrent (``reset(dones)``).
    ``student_class`` left out: ``RecurrentActor`` when ``cfg.actor_cfg`` has ``rnn_type``, else
    ``MLPActor``. ``actor`` is the student (the name runners and ``ActorPolicy`` use).
    """

    def __init__(
        self,
        env,
        cfg: DistillationConfig | None = None,
        teacher: nn.Module | None = None,
        student_class: type[nn.Module] | None = None,
        device: str | torch.device | None = None,
    ):
        self.env = env
        self.cfg = cfg if cfg is not None else DistillationConfig()
        cfg = self.cfg
        self.device = resolve_device(device if device is not None else cfg.device)
        self.num_student_obs = observation_group_width(env, cfg.student_obs_group, "student_obs_group")
        self.num_teacher_obs = observation_group_width(env, cfg.teacher_obs_group, "teacher_obs_group")
        images = image_layout(env, cfg.student_obs_group)
        if student_class is None:
            cfg.check_networks(image_actor=bool(images))
        student_class, image_kwargs = actor_network("actor", student_class, cfg.actor_cfg, cfg.student_obs_group, images)
        self.student = student_class(
            self.num_student_obs, env.num_actions, obs_normalization=cfg.empirical_normalization, **cfg.actor_cfg,
            **image_kwargs,
        ).to(self.device)
        self.student_is_recurrent = bool(getattr(self.student, "is_recurrent", False))
        self.teacher: nn.Module | None = None
        if teacher is not None:
            self.set_teacher(teacher)
        self.teacher_act_prob = teacher_act_prob_schedule(cfg.teacher_act_prob, cfg.update_times_scale)
        self.current_teacher_act_prob = self.teacher_act_prob(0)
        self.learning_rate = cfg.learning_rate
        self.optimizer = torch.optim.Adam(self.student.parameters(), lr=self.learning_rate)
        # RolloutStorage's fields as used here: obs = the student's observations, critic_obs = the
        # teacher's, actions = the teacher's labels, action_mean = the student's own (deterministic)
        # action; rewards and dones as in PPO (dones split trajectories); the PPO-only fields stay zero.
        hidden_shapes = None
        if self.student_is_recurrent:
            hidden_shapes = [tuple(h.shape) for h in self.student.initial_hidden_states(env.num_envs)]
        self.storage = RolloutStorage(
            env.num_envs, cfg.num_steps_per_env, self.num_student_obs, self.num_teacher_obs, env.num_actions,
            self.device, actor_hidden_shapes=hidden_shapes, half_obs_columns=image_columns(env, cfg.student_obs_group),
        )
        self._zeros = torch.zeros(env.num_envs, device=self.device)
        self._zero_actions = torch.zeros(env.num_envs, env.num_actions, device=self.device)
        # Which envs the teacher drove at the last step, and how many env steps it drove this rollout.
        self.teacher_acted = torch.zeros(env.num_envs, dtype=torch.bool, device=self.device)
        self._teacher_steps = torch.zeros((), device=self.device)
        self.runner = None
        self.mirror = None
        if cfg.symmetry_augmentation:
            if getattr(env, "symmetry", None) is None:
                raise ValueError(f"DistillationConfig.symmetry_augmentation: {type(env).__name__} has no symmetry() to mirror "
                                 "its observations and actions (the legged envs have)")
            symmetry = env.symmetry()
            self.mirror = {"obs": symmetry.observation(cfg.student_obs_group), "actions": symmetry.actions}

    @property
    def actor(self) -> nn.Module:
        return self.student

    def set_teacher(self, teacher: nn.Module) -> None:
        """Freeze ``teacher`` (eval mode, no gradients) and use it from now on."""
        self.teacher = frozen_teacher(teacher, self.num_teacher_obs, self.cfg.teacher_obs_group, self.device)

    # ------------------------------------------------------------------------------- acting
    def act(self, student_obs: torch.Tensor, teacher_obs: torch.Tensor) -> torch.Tensor:
        """The actions that drive the envs this step; stores the student's observation and the teacher's label."""
        if self.teacher is None:
            raise ValueError("Distillation has no teacher: set DistillationConfig.teacher_checkpoint (train.py --teacher) or pass teacher=")
        # The state the student starts this step from: the update replays trajectories from it.
        hidden_states = self.student.get_hidden_states() if self.student_is_recurrent else None
        # The student runs at every step, whoever acts: its memory must follow the whole trajectory.
        student_actions = self.student(student_obs)
        labels = self.teacher(teacher_obs)
        executed = student_actions
        if self.cfg.action_sample_std > 0:
            executed = student_actions + self.cfg.action_sample_std * torch.randn_like(student_actions)
        # One draw per env and step: rand < p holds with probability p (never for 0, always for 1).
        self.teacher_acted = torch.rand(student_obs.shape[0], device=self.device) < self.current_teacher_act_prob
        actions = torch.where(self.teacher_acted.unsqueeze(1), labels, executed)
        self.storage.add(
            student_obs, teacher_obs, labels, self._zeros, self._zeros, student_actions, self._zero_actions,
            actor_hidden_states=hidden_states,
        )
        return actions

    def process_env_step(self, rewards: torch.Tensor, dones: torch.Tensor, extras: dict) -> None:
        """Store reward and done (the done splits trajectories); envs that are done start a fresh memory."""
        dones = dones.to(self.device)
        self.storage.set_step_result(rewards.to(self.device, torch.float32), dones.float())
        self._teacher_steps += self.teacher_acted.sum()
        self.reset(dones)

    def reset(self, dones: torch.Tensor | None = None) -> None:
        """Zero the student's and the teacher's running hidden states for the envs that are done (all without ``dones``)."""
        for network in (self.student, self.teacher):
            if getattr(network, "is_recurrent", False):
                network.reset(dones)

    def adjust_schedules(self, iteration: int) -> None:
        """The teacher's acting probability for the rollout of ``iteration`` (learning iterations done)."""
        self.current_teacher_act_prob = self.teacher_act_prob(iteration)

    # ------------------------------------------------------------------------------- learning
    def update(self) -> dict[str, float]:
        """Epochs of minibatch regression of the student's action on the teacher's labels; returns figures to log."""
        cfg, storage = self.cfg, self.storage
        with torch.no_grad():
            # How far the student was from the teacher on the states just visited, before learning from them.
            student_error = (storage.action_mean - storage.actions).square().mean().sqrt().item()
            teacher_fraction = (self._teacher_steps / (storage.num_steps * storage.num_envs)).item()
        total_loss, num_updates = 0.0, 0
        minibatches = storage.recurrent_minibatches if self.student_is_recurrent else storage.minibatches
        for batch in minibatches(cfg.num_mini_batches, cfg.num_learning_epochs):
            loss = action_loss(self._predict(batch, batch.obs), batch.actions, cfg.loss, cfg.huber_delta)
            if self.mirror is not None:
                # A recurrent student runs the mirrored trajectories from the stored (unmirrored) memory
                # they started with: exact for those that start an episode, close for the others.
                mirrored = self._predict(batch, self.mirror["obs"](batch.obs))
                loss = 0.5 * (loss + action_loss(mirrored, self.mirror["actions"](batch.actions), cfg.loss, cfg.huber_delta))
            check_finite(loss.detach(), "distillation action loss")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(self.student.parameters(), cfg.max_grad_norm)
            self.optimizer.step()
            check_module_finite(self.student, "student", "a distillation step")
            total_loss += loss.item()
            num_updates += 1
        with torch.no_grad():
            # After the update, as in PPO: the rollout and its update saw the same observation transform.
            obs = storage.obs.flatten(0, 1)[:]  # [:]: float32 rows also from compact (image) storage
            if self.mirror is not None:  # the student sees the mirror images too: its statistics are symmetric
                obs = torch.cat((obs, self.mirror["obs"](obs)))
            self.student.update_normalization(obs)
        storage.clear()
        self._teacher_steps.zero_()
        return {
            "distill/action_loss": total_loss / num_updates,
            "distill/teacher_act_prob": self.current_teacher_act_prob,
            "distill/teacher_action_fraction": teacher_fraction,
            "distill/student_action_error": student_error,
            "train/learning_rate": self.learning_rate,
        }

    def _predict(self, batch, obs: torch.Tensor) -> torch.Tensor:
        """The student's actions for a minibatch's observations ``obs`` (the batch's own, or their mirror)."""
        if batch.masks is None:
            return self.student(obs)
        # Padded trajectories from their first step's stored state; the real steps come out flat.
        return self.student(obs, masks=batch.masks, hidden_states=batch.actor_hidden_states)

    def train_mode(self) -> None:
        self.student.train()
        if self.teacher is not None:
            self.teacher.eval()  # frozen: always deterministic, normalizer fixed

    def eval_mode(self) -> None:
        self.student.eval()

    # ----------------------------------------------------------------------------- persistence
    def _recurrent_networks(self) -> dict[str, nn.Module]:
        networks = {"student": self.student, "teacher": self.teacher}
        return {name: net for name, net in networks.items() if getattr(net, "is_recurrent", False)}

    def state_dict(self) -> dict[str, Any]:
        """The student (normalizer included), its optimizer and the running episodes' hidden states;
        the teacher is frozen and comes back from ``cfg.teacher_checkpoint``."""
        state = {
            "student_state_dict": self.student.state_dict(),
            "optimizer_state_dict": self.optimizer.state_dict(),
            "learning_rate": self.learning_rate,
        }
        running = {name: net.get_hidden_states() for name, net in self._recurrent_networks().items()}
        if running:
            state["rollout_hidden_states"] = {name: [h.clone() for h in states] for name, states in running.items() if states is not None}
        return state

    def load_state_dict(self, state: dict[str, Any], load_optimizer: bool = True) -> None:
        self.student.load_state_dict(state["student_state_dict"])
        if not load_optimizer:
            return
        self.optimizer.load_state_dict(state["optimizer_state_dict"])
        self.learning_rate = float(state.get("learning_rate", self.learning_rate))
        saved = state.get("rollout_hidden_states", {})
        for name, network in self._recurrent_networks().items():
            # Restored when resuming with as many envs (the env's episodes come back too); else from zeros.
            states = saved.get(name)
            expected = [tuple(h.shape) for h in network.initial_hidden_states(self.env.num_envs)]
            fits = states is not None and [tuple(h.shape) for h in states] == expected
            network.set_hidden_states(tuple(h.to(self.device) for h in states) if fits else None)
