"""DAgger in two processes: a collector rolls out the student being trained and labels every step
with the teacher; a trainer clones those labels from the growing folder and saves checkpoints that
the collector reloads.

    python train.py --task go1_dagger_student --set train.pretrain_dataset.data_dir=data/go1_dagger   # first
    python dagger_collect.py --teacher <teacher run> --student-run <trainer run> --save-dir data/go1_dagger

``DaggerSaver`` is a ``DemonstrationSaver`` whose ``policy`` is the teacher (expert). At every step:

- the teacher acts on its observation group (``teacher_obs_group``): that action is the label stored
  as ``actions`` (its mean, or a sample with ``demo_by_sample``);
- the student (the newest ``model_<iteration>.pt`` in ``training_policy_logdir``, rebuilt from the
  checkpoint's own config) acts on its group (``student_obs_group``, by default the group its run's
  actor reads): its mean action plus Gaussian noise of std ``action_sample_std``;
- the env executes, per env, the teacher's action where ``use_teacher_act_mask`` is set, else the
  student's. The mask is drawn at every ``load_latest_training_policy`` (once per rollout buffer: an
  env keeps one driver for ``rollout_storage_length`` steps) with probability ``teacher_act_prob``
  of the student's training iteration (see ``teacher_act_probability``).

So the dataset holds the states the student visits, each labelled with what the teacher would do
there: the trainer (``TwoStageRunner`` with a ``RolloutDataset`` following the folder) learns to
correct its own mistakes.

Robustness (the failures of the design this follows): the first checkpoint is awaited for at most
``wait_timeout_s`` seconds with a message saying which folder and file pattern, then a
``TimeoutError``; a checkpoint that cannot be read (corrupt, partial, another network) is skipped
with a message and the current student kept; files are only ever written whole (see ``saver.py``).
"""

from __future__ import annotations

import os
import sys
import time
from collections import defaultdict
from typing import Callable

import torch
from torch import nn

# The teacher-act schedule is the single-process distillation's, so that both DAgger variants read
# teacher_act_prob / update_times_scale the same way ("exp", "linear", "tanh", a constant, a callable).
from legged_train.algorithms.distillation import teacher_act_prob_schedule
from legged_train.checkpoint import checkpoint_iteration
from legged_train.demonstrations.saver import DemonstrationSaver
from legged_train.observation_groups import image_layout

CHECKPOINT_PATTERN = "model_<iteration>.pt"
# How often a waiting collector repeats that it is still waiting.
WAIT_REPORT_INTERVAL_S = 30.0


def teacher_act_probability(teacher_act_prob, iteration: int, update_times_scale: float) -> float:
    """The probability that the teacher drives an env when the student has trained ``iteration``
    iterations: ``teacher_act_prob_schedule(teacher_act_prob, update_times_scale)(iteration)``, e.g.
    "exp": (1 - 1/scale) ** iteration, about exp(-iteration / scale)."""
    return float(teacher_act_prob_schedule(teacher_act_prob, update_times_scale)(iteration))


def _schedule_name(teacher_act_prob) -> str | float:
    """A plain-type description for the dataset's metadata."""
    if isinstance(teacher_act_prob, (str, int, float)):
        return teacher_act_prob
    return getattr(teacher_act_prob, "__qualname__", type(teacher_act_prob).__name__)


# ---------------------------------------------------------------------- checkpoints and actors
def actor_spec(checkpoint: dict, path: str, images: list | None = None, obs_group: str = "policy") -> tuple[type[nn.Module], dict]:
    """The actor class and keyword arguments a checkpoint's run built (its ``config``: actor_cfg,
    empirical_normalization, init_noise_std), as PPO builds them; ``images``: the image terms of the
    group it reads (``observation_groups.image_layout``), for an actor that reads images."""
    from legged_train.algorithms.ppo import actor_network
    from legged_train.checkpoint import CheckpointError

    config = checkpoint.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("actor_cfg"), dict) or "actor_state_dict" not in checkpoint:
        raise CheckpointError(f"checkpoint {path!r} holds no actor_state_dict with a config.actor_cfg: not a PPO-family run's checkpoint")
    actor_cfg = dict(config["actor_cfg"])
    try:
        cls, image_kwargs = actor_network("actor", None, actor_cfg, obs_group, images or [])
        kwargs = {
            "obs_normalization": bool(config.get("empirical_normalization", True)),
            "init_noise_std": float(config.get("init_noise_std", 1.0)),
            **actor_cfg,
            **image_kwargs,
        }
    except ValueError as err:
        raise CheckpointError(f"checkpoint {path!r}: {err}") from None
    return cls, kwargs


def load_actor(checkpoint: dict, path: str, num_obs: int, num_actions: int, device, previous: nn.Module | None = None,
               images: list | None = None, obs_group: str = "policy") -> nn.Module:
    """A new actor with the checkpoint's weights (observation normalizer included) on ``device``, in
    eval mode; a recurrent one takes over ``previous``'s memory when built alike (the episodes being
    played go on). A network that does not fit (another observation width, another size) is a
    ``CheckpointError`` naming both, and ``previous`` is left as it was."""
    from legged_train.checkpoint import CheckpointError

    cls, kwargs = actor_spec(checkpoint, path, images, obs_group)
    try:
        actor = cls(num_obs, num_actions, **kwargs)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint {path!r}: cannot build its actor {cls.__name__}({kwargs}): {err}") from None
    actor._dagger_spec = (cls, kwargs, num_obs, num_actions)
    try:
        actor.load_state_dict(checkpoint["actor_state_dict"])
    except (RuntimeError, KeyError) as err:
        raise CheckpointError(
            f"checkpoint {path!r} does not fit an actor of {num_obs} observations and {num_actions} actions "
            f"({str(err).splitlines()[0]}...): was it trained on another observation group or env?"
        ) from None
    actor = actor.to(device).eval()
    if getattr(actor, "is_recurrent", False) and getattr(previous, "_dagger_spec", None) == actor._dagger_spec:
        actor.set_hidden_states(previous.get_hidden_states())
    return actor


def wait_for(ready: Callable[[], bool], what: str, timeout_s: float, poll_interval_s: float, say: Callable[[str], None]) -> bool:
    """Call ``ready()`` until it is true or ``timeout_s`` passed (then False), saying what is awaited
    at the first miss and every ``WAIT_REPORT_INTERVAL_S`` seconds after."""
    started = time.monotonic()
    last_report = None
    while not ready():
        waited = time.monotonic() - started
        if waited >= timeout_s:
            return False
        if last_report is None or time.monotonic() - last_report >= WAIT_REPORT_INTERVAL_S:
            say(f"{'waiting' if last_report is None else 'still waiting'} for {what} ({waited:.0f} s of at most {timeout_s:g} s)")
            last_report = time.monotonic()
        time.sleep(min(poll_interval_s, max(0.0, timeout_s - waited)))
    return True


def actor_obs_group(checkpoint: dict) -> str:
    """The observation group a checkpoint's actor was trained on."""
    recorded = (checkpoint.get("observations") or {}).get("policy_group")
    return str(recorded or (checkpoint.get("config") or {}).get("actor_obs_group") or "policy")


# ----------------------------------------------------------------------------------- the saver
class DaggerSaver(DemonstrationSaver):
    """This demonstration saver rolls out the trajectories with the student policy (or, with a
    probability, the teacher's) and labels them with the teacher policy (``policy``).

    training_policy_logdir: the trainer's run folder, where it saves ``model_<iteration>.pt``.
    teacher_act_prob: "exp", "linear", "tanh", a probability or a callable of the student's iteration;
        see ``legged_train.algorithms.distillation.teacher_act_prob_schedule``.
    update_times_scale: the schedule's scale in student iterations ("exp": p = 0.37 after that many).
    action_sample_std: std of the Gaussian noise added to the student's actions (exploration).
    log_to_tensorboard: write rollout statistics as TensorBoard scalars under
        ``<training_policy_logdir>/dagger_collector`` (next to the trainer's own curves).
    teacher_obs_group: the group the teacher reads; default "teacher" if the env has one, else
        "critic" if it has one, else "policy".
    student_obs_group: the group the student reads; default the one its run's actor reads
        (``actor_obs_group``).
    wait_timeout_s: how long to wait for the first student checkpoint.
    poll_interval_s: seconds between looks while waiting.
    seed: of the teacher/student mask and the action noise.
    Other keyword arguments go to ``DemonstrationSaver`` (rollout_storage_length, min_timesteps, ...).
    """

    def __init__(
        self,
        env,
        policy,
        save_dir: str,
        training_policy_logdir: str,
        teacher_act_prob="exp",
        update_times_scale: float = 5000,
        action_sample_std: float = 0.0,
        log_to_tensorboard: bool = False,
        *,
        teacher_obs_group: str | None = None,
        student_obs_group: str | None = None,
        wait_timeout_s: float = 600.0,
        poll_interval_s: float = 1.0,
        seed: int = 0,
        **kwargs,
    ):
        if not update_times_scale > 0:
            raise ValueError(f"DaggerSaver update_times_scale={update_times_scale!r}: must be > 0")
        if not action_sample_std >= 0:
            raise ValueError(f"DaggerSaver action_sample_std={action_sample_std!r}: must be >= 0")
        if not wait_timeout_s >= 0 or not poll_interval_s > 0:
            raise ValueError(f"DaggerSaver wait_timeout_s={wait_timeout_s!r} must be >= 0 and poll_interval_s={poll_interval_s!r} > 0")
        # Set before DemonstrationSaver.__init__, which calls init_traj_handlers.
        self.training_policy_logdir = os.path.abspath(os.fspath(training_policy_logdir))
        self.teacher_act_prob = teacher_act_prob
        self.update_times_scale = float(update_times_scale)
        # p(student iteration); a bad name or value fails here, before any waiting.
        self.teacher_act_prob_func = teacher_act_prob_schedule(teacher_act_prob, self.update_times_scale)
        self.action_sample_std = float(action_sample_std)
        self.log_to_tensorboard = bool(log_to_tensorboard)
        self.teacher_obs_group = teacher_obs_group
        self.student_obs_group = student_obs_group
        self.wait_timeout_s = float(wait_timeout_s)
        self.poll_interval_s = float(poll_interval_s)
        self.seed = int(seed)
        self.tb_logger = None
        # The student: its network, the file it came from (path, mtime, size) and its iteration.
        self.training_policy: nn.Module | None = None
        self.training_policy_signature: tuple | None = None
        self.training_policy_path: str | None = None
        self.training_policy_iteration = 0
        self.training_policy_loads: list[int] = []  # iterations loaded, in order (this session)
        self._bad_checkpoints: set[tuple] = set()  # file versions that failed to load: said once
        self._last_load_error = ""
        super().__init__(env, policy, save_dir, **kwargs)

    # ------------------------------------------------------------------------- trajectories
    def init_traj_handlers(self) -> None:
        """Pick the observation groups, wait for and load the student, then open ``save_dir``."""
        groups = self.obs_groups
        if self.teacher_obs_group is None:
            self.teacher_obs_group = next(g for g in ("teacher", "critic", "policy") if g in groups)
        if self.teacher_obs_group not in groups:
            raise ValueError(f"teacher_obs_group={self.teacher_obs_group!r}: the env has no such group; it has {sorted(groups)}")
        teacher_obs = getattr(getattr(self.policy, "actor", None), "num_obs", None)
        width = int(groups[self.teacher_obs_group].shape[-1])
        if teacher_obs is not None and int(teacher_obs) != width:
            raise ValueError(
                f"the teacher reads {teacher_obs} observations, the env's group {self.teacher_obs_group!r} has {width}: "
                "give the group the teacher was trained on (teacher_obs_group)"
            )
        self.generator = torch.Generator(device=self.device).manual_seed(self.seed)
        self.build_training_policy()  # before the folder is locked: a collector that times out leaves it as it was
        super().init_traj_handlers()
        if self.log_to_tensorboard:
            from legged_train.logger import Logger

            self.tb_logger = Logger(os.path.join(self.training_policy_logdir, "dagger_collector"), backend="tensorboard")

    def _collection_config(self) -> dict:
        return {
            **super()._collection_config(),
            "dagger": {
                "training_policy_logdir": self.training_policy_logdir,
                "teacher_act_prob": _schedule_name(self.teacher_act_prob),
                "update_times_scale": self.update_times_scale,
                "action_sample_std": self.action_sample_std,
                "teacher_obs_group": self.teacher_obs_group,
                "student_obs_group": self.student_obs_group,
            },
        }

    # ---------------------------------------------------------------------- storage buffers
    def init_storage_buffer(self) -> None:
        """Also: per-env running episode return and length of the rollout (all episodes, falls
        included, whoever drove), and the sums print_log reports."""
        super().init_storage_buffer()
        self._episode_return = torch.zeros(self.num_envs, device=self.device)
        self._episode_length = torch.zeros(self.num_envs, device=self.device)
        self._reset_rollout_stats()

    def _reset_rollout_stats(self) -> None:
        # Sums on the device, read once per print_log: no host sync per step.
        self.rollout_episode_infos: dict[str, torch.Tensor] = defaultdict(lambda: torch.zeros((), device=self.device))
        self._rollout_episodes = torch.zeros((), device=self.device)
        self._teacher_steps = torch.zeros((), device=self.device)
        self._rollout_steps = 0

    # ------------------------------------------------------------------------------ student
    def build_training_policy(self) -> None:
        """Wait (at most ``wait_timeout_s``) for the trainer's first loadable checkpoint and build the
        student from it: its class and sizes come from the checkpoint's config."""
        pattern = os.path.join(self.training_policy_logdir, CHECKPOINT_PATTERN)
        found = wait_for(
            self.load_latest_training_policy,
            f"the student's first checkpoint {pattern} (the trainer writes model_0.pt when it starts)",
            self.wait_timeout_s,
            self.poll_interval_s,
            lambda line: self._say(line, always=True),
        )
        if not found:
            raise TimeoutError(self._no_student_message())

    def _no_student_message(self) -> str:
        from legged_train.checkpoint import list_checkpoints

        where = self.training_policy_logdir
        if not os.path.isdir(where):
            state = "the folder does not exist"
        elif list_checkpoints(where):
            state = f"its {len(list_checkpoints(where))} checkpoint(s) could not be read: {self._last_load_error}"
        else:
            state = "the folder holds none"
        return (
            f"no student checkpoint {CHECKPOINT_PATTERN} appeared in {where} within {self.wait_timeout_s:g} s ({state}): "
            f"start the trainer first (train.py with train.pretrain_dataset.data_dir={self.save_dir}) and give its run folder"
        )

    def load_latest_training_policy(self) -> bool:
        """Load the newest readable checkpoint of the trainer if it is not the one loaded (a look at
        the file names, mtimes and sizes when nothing changed), then draw ``use_teacher_act_mask``.

        Returns False only while no student could be loaded at all. A checkpoint that cannot be read
        is skipped with a message (once per file version): an older one is tried only while there
        is no student yet; otherwise the current student stays."""
        from legged_train.checkpoint import CheckpointError, list_checkpoints, read_checkpoint_dict

        for path in reversed(list_checkpoints(self.training_policy_logdir)):
            try:
                stat = os.stat(path)
            except FileNotFoundError:
                continue  # removed meanwhile
            signature = (path, stat.st_mtime_ns, stat.st_size)
            if signature == self.training_policy_signature:
                break  # the newest readable one is loaded already
            if self.training_policy is not None and checkpoint_iteration(path) < self.training_policy_iteration:
                break  # never go back to an older student (the same iteration rewritten is reloaded)
            if signature in self._bad_checkpoints:
                continue
            try:
                checkpoint = read_checkpoint_dict(path, map_location=self.device)
                self._check_student_identity(checkpoint, path)
                student_group = self.student_obs_group or actor_obs_group(checkpoint)
                if student_group not in self.obs_groups:
                    raise CheckpointError(f"checkpoint {path!r}: its actor reads group {student_group!r}; the env has {sorted(self.obs_groups)}")
                width = int(self.obs_groups[student_group].shape[-1])
                actor = load_actor(checkpoint, path, width, int(self.env.num_actions), self.device, self.training_policy,
                                   image_layout(self.env, student_group), student_group)
            except (CheckpointError, KeyError, TypeError, ValueError) as err:
                self._bad_checkpoints.add(signature)
                self._last_load_error = str(err)
                self._say(f"skipping student checkpoint {path}: {err}", always=True)
                continue
            self.student_obs_group = student_group
            self.training_policy = actor
            self.training_policy_signature = signature
            self.training_policy_path = path
            self.training_policy_iteration = int(checkpoint.get("iteration", checkpoint_iteration(path)))
            self.training_policy_loads.append(self.training_policy_iteration)
            self._say(
                f"student: {path} (iteration {self.training_policy_iteration}); the teacher drives an env with "
                f"probability {self.current_teacher_act_prob():.3f}"
            )
            break
        if self.training_policy is None:
            return False
        self.use_teacher_act_mask = (
            torch.rand(self.num_envs, device=self.device, generator=self.generator) < self.current_teacher_act_prob()
        )
        return True

    def _check_student_identity(self, checkpoint: dict, path: str) -> None:
        """The student must act for this env's robot (same joints in the same order)."""
        from legged_train.runners.base import check_identity

        robot = getattr(getattr(self.env, "cfg", None), "robot", None)
        if robot is not None:
            check_identity(checkpoint, {"robot": {"mjcf": os.path.basename(robot.mjcf_path), "joint_names": list(robot.joint_names)}}, path)

    def current_teacher_act_prob(self) -> float:
        return float(self.teacher_act_prob_func(self.training_policy_iteration))

    # --------------------------------------------------------------------------- stepping
    def get_policy_actions(self) -> torch.Tensor:
        """The teacher's actions on its own group: the labels."""
        obs = self.obs_groups[self.teacher_obs_group]
        critic_obs = self.obs_groups.get("critic", obs)
        if self.demo_by_sample:
            return self.policy.act(obs, critic_obs).to(self.device)
        return self.policy.act_inference(obs, critic_obs).to(self.device)

    def get_training_policy_actions(self) -> torch.Tensor:
        """The student's mean action on its group, plus ``action_sample_std`` Gaussian noise."""
        actions = self.training_policy(self.obs_groups[self.student_obs_group].to(self.device)).to(self.device)
        if self.action_sample_std > 0:
            noise = torch.randn(actions.shape, device=self.device, generator=self.generator)
            actions = actions + self.action_sample_std * noise
        return actions

    def get_transition(self):
        """Label with the teacher, execute the student's action (the teacher's in the masked envs)."""
        teacher_actions = self.get_policy_actions()
        if not bool(torch.isfinite(teacher_actions).all()):
            raise FloatingPointError("the teacher returned NaN/Inf actions; nothing of this step is saved")
        student_actions = self.get_training_policy_actions()
        if not bool(torch.isfinite(student_actions).all()):
            raise FloatingPointError(f"the student {self.training_policy_path} returned NaN/Inf actions; nothing of this step is saved")
        mask = self.use_teacher_act_mask
        actions = torch.where(mask[:, None], teacher_actions, student_actions)
        self._teacher_steps += mask.sum()
        self._rollout_steps += self.num_envs
        obs, rewards, dones, extras = self.env.step(actions)
        return teacher_actions, obs, rewards, dones.to(self.device).bool(), extras

    def add_transition(self, step_i: int, actions, rewards, dones, extras) -> None:
        """Record the step, and the rollout's episode statistics (the env's per-episode log included)."""
        super().add_transition(step_i, actions, rewards, dones, extras)
        self._episode_return += rewards.to(self.device)
        self._episode_length += 1
        finished = dones.float()
        count = finished.sum()
        if bool(count > 0):
            infos = self.rollout_episode_infos
            infos["return"] += (self._episode_return * finished).sum()
            infos["length"] += (self._episode_length * finished).sum()
            infos["fall"] += (self.buffers["terminated"][step_i].float() * finished).sum()
            # The env's log is a mean over the envs that finished this step: weight it by their number.
            for key, value in (extras.get("log") or {}).items():
                infos[f"env/{key}"] += torch.as_tensor(value, dtype=torch.float32, device=self.device).mean() * count
            self._rollout_episodes += count
            self._episode_return *= 1.0 - finished
            self._episode_length *= 1.0 - finished

    def policy_reset(self, dones: torch.Tensor) -> None:
        """Forget the finished envs' memory in both policies (recurrent ones)."""
        super().policy_reset(dones)
        if self.training_policy is not None and bool(dones.any()) and hasattr(self.training_policy, "reset"):
            self.training_policy.reset(dones)

    # ----------------------------------------------------------------------------- control
    def check_stop(self) -> bool:
        """Reload the newest student (and redraw the mask) before each buffer; stop as the base does."""
        self.load_latest_training_policy()
        return super().check_stop()

    def rollout_statistics(self) -> dict[str, float]:
        """Means over the episodes that ended since the last call (NaN without any), and who drove."""
        episodes = float(self._rollout_episodes)
        stats = {
            "DAgger/student_iteration": float(self.training_policy_iteration),
            "DAgger/teacher_act_prob": self.current_teacher_act_prob(),
            "DAgger/teacher_act_fraction": float(self._teacher_steps) / self._rollout_steps if self._rollout_steps else float("nan"),
            "Episode/count": episodes,
        }
        names = {"return": "Episode/mean_return", "length": "Episode/mean_length", "fall": "Episode/fall_rate"}
        for key, total in self.rollout_episode_infos.items():
            stats[names.get(key, f"Episode/{key[4:]}")] = float(total) / episodes if episodes else float("nan")
        self._reset_rollout_stats()
        return stats

    def print_log(self) -> None:
        """One line per buffer: dataset progress, the student and who drove, the rollout's episodes;
        the same figures as TensorBoard scalars (step: the dataset's env steps) when asked."""
        stats = self.rollout_statistics()
        p = self.progress()
        if self.tb_logger is not None:
            scalars = {**stats, "Dataset/timesteps": p["timesteps"], "Dataset/trajectories": p["trajectories"],
                       "Perf/steps_per_second": p["steps_per_second"]}
            self.tb_logger.log_scalars(scalars, step=self.env_steps)
            self.tb_logger.flush()
        if not self.verbose:
            return
        done = min(1.0, p["timesteps"] / self.min_timesteps) if self.min_timesteps else 1.0
        line = (
            f"timesteps {p['timesteps']}/{self.min_timesteps} ({100 * done:.0f}%) | trajectories {p['trajectories']}"
            f" | {p['steps_per_second']:.0f} steps/s | student iteration {self.training_policy_iteration}, teacher drove "
            f"{100 * stats['DAgger/teacher_act_fraction']:.0f}% (p={stats['DAgger/teacher_act_prob']:.2f})"
            f" | rollout episodes {stats['Episode/count']:.0f}: return {stats.get('Episode/mean_return', float('nan')):.2f}"
            f" length {stats.get('Episode/mean_length', float('nan')):.0f} falls {100 * stats.get('Episode/fall_rate', float('nan')):.0f}%"
        )
        self._say(line)

    def _say(self, line: str, always: bool = False) -> None:
        """A line on the log stream; progress only when verbose, waits and skipped files always."""
        if not (self.verbose or always):
            return
        stream = self.log_stream or (sys.stdout if self.verbose else sys.stderr)
        stream.write(line + "\n")
        stream.flush()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.tb_logger is not None:
                self.tb_logger.close()
                self.tb_logger = None
