"""What every runner shares: callbacks, the run directory, logging, checkpoints and evaluation.

Subclasses (``OnPolicyRunner``, ``OffPolicyRunner``) own their training loop and implement these
hooks; everything else lives here once:

- ``_state_dict() -> dict`` and ``_load_state_dict(state, load_optimizer)``: the algorithm's part
  of a checkpoint (networks, optimizers, normalizers, counters the base does not know about);
- ``policy_module() -> nn.Module``: the deterministic policy, obs -> actions, as one module (what
  ``eval()`` and ``get_inference_policy()`` run and play.py exports); ``_act_deterministic(obs)``
  runs it and may be overridden; a recurrent module (``is_recurrent``, see legged_train.networks)
  is run through its ``step`` with a hidden state the inference policy keeps;
- ``train_mode()`` / ``eval_mode()``: switch the algorithm's networks.

The base keeps ``iteration`` (learning iterations done) and ``total_timesteps`` (env steps done)
in every checkpoint, with the resolved config, the RNG states, the schema version, the task and
robot the run trained (``identity``) and, for envs that have one, the env's own state
(``env.state_dict()``): a resumed run continues bit-exactly on the CPU.

``request_stop()`` (train.py calls it on Ctrl-C / SIGTERM) ends ``learn`` after the current
iteration, which then saves its final checkpoint as usual.
"""

from __future__ import annotations

import copy
import importlib.util
import math
import os
import statistics
import sys
import warnings
from collections import deque
from typing import Any, Callable

import torch
import yaml
from torch import nn

from legged_train import distributed
from legged_train.checkpoint import (
    SCHEMA_VERSION,
    CheckpointError,
    atomic_torch_save,
    capture_rng_state,
    check_schema,
    first_line,
    iter_tensors,
    read_checkpoint_dict,
    remove_stale_temp_files,
    restore_rng_state,
)
from legged_train.config import RunnerConfig, config_to_dict, resolve_device
from legged_train.finite import NonFiniteError, check_finite  # noqa: F401 (re-exported: runners import them from here)
from legged_train.git_state import store_code_state
from legged_train.logger import Logger
from legged_train.networks import reset_hidden_states
from legged_train.observation_groups import observation_group

# The repository this package lives in: archived with every run.
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def check_identity(checkpoint: dict, identity: dict, path: str) -> None:
    """Refuse a checkpoint of another task or another robot (joint order), naming both."""
    saved = checkpoint.get("identity", {})
    if saved.get("task") and identity.get("task") and saved["task"] != identity["task"]:
        raise CheckpointError(
            f"checkpoint {path!r} belongs to a run of task {saved['task']!r}, not {identity['task']!r}: "
            f"use --task {saved['task']} or pick a run of {identity['task']!r}"
        )
    saved_robot, robot = saved.get("robot"), identity.get("robot")
    if saved_robot and robot and saved_robot["joint_names"] != robot["joint_names"]:
        raise CheckpointError(
            f"checkpoint {path!r} was trained on robot {saved_robot['mjcf']} with joints {saved_robot['joint_names']}; "
            f"this env's robot {robot['mjcf']} has joints {robot['joint_names']}"
        )


class BaseRunner:
    CALLBACK_EVENTS = ("pre_iteration", "post_iteration", "pre_rollout", "post_rollout", "pre_update", "post_update")

    def __init__(
        self,
        env,
        cfg: RunnerConfig,
        log_dir: str | None = None,
        device: str | torch.device | None = None,
        save_dir: str | None = None,
        eval_env=None,
    ):
        self.env = env
        self.cfg = cfg
        self.device = resolve_device(device if device is not None else cfg.device)
        self.log_dir = os.fspath(log_dir) if log_dir is not None else None
        # Checkpoints go next to the event files unless asked otherwise (the spec's save_dir).
        self.save_dir = os.fspath(save_dir) if save_dir is not None else self.log_dir
        # Data-parallel training: rank 0 alone logs, evaluates and saves.
        self.rank = distributed.rank()
        if self.rank != 0:
            self.log_dir = self.save_dir = None
        self.eval_env = eval_env
        self.iteration = 0
        self.total_timesteps = 0
        self.logger: Logger | None = None
        self.git_repo_paths: list[str] = [PROJECT_ROOT]
        # Written to <log_dir>/config.yaml at learn start; train.py adds the task and env config.
        self.run_config: dict[str, Any] = {"runner": type(self).__name__, "train": config_to_dict(cfg)}
        self._callbacks: dict[str, list[Callable]] = {event: [] for event in self.CALLBACK_EVENTS}
        self.stop_requested = False

    def request_stop(self) -> None:
        """End ``learn`` after the current iteration (with its final checkpoint)."""
        self.stop_requested = True

    # ----------------------------------------------------------------------------------- callbacks
    def add_callback(self, event: str, fn: Callable) -> None:
        """Call ``fn(runner, *args)`` on ``event``; post_iteration/post_rollout/post_update pass stats."""
        if event not in self._callbacks:
            raise ValueError(f"unknown callback event {event!r}; allowed: {list(self.CALLBACK_EVENTS)}")
        if not callable(fn):
            raise TypeError(f"callback for {event!r} must be callable, got {type(fn).__name__}")
        self._callbacks[event].append(fn)

    def _fire(self, event: str, *args: Any) -> None:
        # Exceptions propagate on purpose: a broken callback must stop training, not vanish.
        for fn in self._callbacks[event]:
            fn(self, *args)

    # ----------------------------------------------------------------------- run dir and logging
    def add_git_repo_to_log(self, repo_file_path: str) -> None:
        """Also archive the git state of the repo containing ``repo_file_path``."""
        self.git_repo_paths.append(os.fspath(repo_file_path))

    def start_learning(self) -> None:
        """What every learn() does first: set torch's threads, open logging (once)."""
        if self.cfg.torch_threads > 0:
            torch.set_num_threads(self.cfg.torch_threads)
        self.init_logging()

    def init_logging(self) -> None:
        """Open the logger and write the resolved config and git state; once per runner, at learn start.

        Without a ``log_dir`` nothing is written (useful for quick experiments and tests).
        """
        if self.logger is not None or self.log_dir is None:
            return
        os.makedirs(self.log_dir, exist_ok=True)
        remove_stale_temp_files(self.log_dir)
        config_path = os.path.join(self.log_dir, "config.yaml")
        if self.iteration > 0 and os.path.isfile(config_path):
            # Resumed in its own run folder: keep the run's config and code state, record the resume.
            with open(config_path, encoding="utf-8") as file:
                run_config = yaml.safe_load(file) or {}
            resume = {"iteration": self.iteration, **{k: self.run_config.get(k) for k in ("command", "resumed_from")}}
            run_config.setdefault("resumes", []).append(resume)
            store_code_state(os.path.join(self.log_dir, "git", f"resumed_at_{self.iteration}"), self.git_repo_paths)
        else:
            self.run_config["train"] = config_to_dict(self.cfg)
            run_config = self.run_config
            store_code_state(self.log_dir, self.git_repo_paths)
        with open(config_path, "w", encoding="utf-8") as file:
            yaml.safe_dump(run_config, file, sort_keys=False)
        self.logger = Logger(
            self.log_dir,
            backend=self.cfg.logger_backend,
            backend_kwargs=self.cfg.logger_kwargs,
            config=self.run_config,
            # TensorBoard drops events an interrupted run logged after its last checkpoint: one curve.
            purge_step=self.iteration if self.iteration > 0 else None,
        )

    def log_scalars(self, scalars: dict[str, float | torch.Tensor], step: int) -> None:
        if self.logger is not None:
            self.logger.log_scalars(scalars, step)

    def close(self) -> None:
        """Close the logger backends (flushes event files); the runner can still be used after."""
        if self.logger is not None:
            self.logger.close()
            self.logger = None

    # ------------------------------------------------------------------- the end of an iteration
    def save_on_schedule(self) -> None:
        """A checkpoint every ``save_interval`` iterations (when there is a save_dir)."""
        if self.save_dir is not None and self.iteration % self.cfg.save_interval == 0:
            self.save_checkpoint(f"model_{self.iteration}.pt")

    def finish_learn(self) -> None:
        """End of every learn() call: the final checkpoint and the logs flushed to disk."""
        if self.save_dir is not None:
            self.save_checkpoint(f"model_{self.iteration}.pt")
        if self.logger is not None:
            self.logger.flush()

    # ------------------------------------------------------------------------------ checkpoints
    def _state_dict(self) -> dict:
        raise NotImplementedError

    def _load_state_dict(self, state: dict, load_optimizer: bool) -> None:
        raise NotImplementedError

    def save_checkpoint(self, path: str, infos: dict | None = None) -> str:
        """Write a full checkpoint atomically; a file name without a folder goes under ``save_dir``.

        ``infos`` (tensors and plain types only) is stored as ``checkpoint["infos"]``. A checkpoint
        with NaN/Inf anywhere is refused (NonFiniteCheckpointError), never written.
        """
        if not os.path.isabs(path) and self.save_dir is not None and os.path.dirname(path) == "":
            path = os.path.join(self.save_dir, path)
        checkpoint = {
            "schema_version": SCHEMA_VERSION,
            "runner": type(self).__name__,
            "identity": self.identity(),
            "iteration": self.iteration,
            "total_timesteps": self.total_timesteps,
            "config": config_to_dict(self.cfg),
            "rng_state": capture_rng_state(),
            **self._state_dict(),
        }
        if hasattr(self.env, "observation_layout"):
            # What the networks read, so that a run used elsewhere (a distillation's teacher) is checked.
            checkpoint["observations"] = {
                "layout": {group: [[term, width] for term, width in blocks] for group, blocks in self.env.observation_layout().items()},
                "history": dict(self.env.observation_history()),
                "policy_group": self.policy_obs_group,
            }
        if hasattr(self.env, "state_dict"):
            checkpoint["env_state"] = self.env.state_dict()
        if infos is not None:
            checkpoint["infos"] = infos
        atomic_torch_save(checkpoint, path)
        return path

    def identity(self) -> dict:
        """What a checkpoint must match to be loaded here: the task (when known) and the robot's joints."""
        identity: dict[str, Any] = {"task": self.run_config.get("task")}
        robot = getattr(getattr(self.env, "cfg", None), "robot", None)
        if robot is not None:
            identity["robot"] = {"mjcf": os.path.basename(robot.mjcf_path), "joint_names": list(robot.joint_names)}
        return identity

    def _check_shapes(self, checkpoint: dict, path: str) -> None:
        """Network tensors must have this runner's shapes; say which differ, in one line."""
        # Buffers that grow with data (replay, episode windows) and optimizer moments are not networks.
        skipped = ("replay_buffer", "episode_statistics", "episode_tracking")
        state = {key: value for key, value in self._state_dict().items() if key not in skipped}
        here = dict(iter_tensors(state))
        saved = dict(iter_tensors({key: checkpoint[key] for key in state if key in checkpoint}))
        differ = [
            f"{name} is {tuple(saved[name].shape)} in the file, {tuple(tensor.shape)} here"
            for name, tensor in here.items()
            if name in saved and "optimizer" not in name and tuple(saved[name].shape) != tuple(tensor.shape)
        ]
        if differ:
            raise CheckpointError(
                f"checkpoint {path!r} does not fit this runner's networks (were they built with other sizes?): "
                + "; ".join(differ[:3])
            )

    def load_checkpoint(
        self,
        path: str,
        load_optimizer: bool = True,
        map_location: Any = None,
        ckpt_manipulator: Callable[[dict], dict] | None = None,
    ) -> dict:
        """Restore a checkpoint written by ``save_checkpoint``; returns the loaded dict.

        Files load with ``weights_only=True``: one holding anything but tensors and plain types is
        refused. ``ckpt_manipulator(checkpoint) -> checkpoint`` may rewrite the dict first (rename
        keys, drop a head, convert an old schema). A checkpoint of another task or robot, or with
        other network shapes, raises CheckpointError naming the file and the difference.

        ``load_optimizer=True`` resumes training: optimizer, RNG states and, when the checkpoint
        holds one for the same number of envs, the env's state are restored too.
        ``load_optimizer=False`` loads the networks and counters only (replay, fine-tuning).
        """
        path = os.fspath(path)
        checkpoint = read_checkpoint_dict(path, map_location=map_location)
        if ckpt_manipulator is not None:
            # A manipulator may be what converts an older schema, so check the schema after it runs.
            checkpoint = ckpt_manipulator(checkpoint)
            if not isinstance(checkpoint, dict):
                raise CheckpointError(f"ckpt_manipulator must return a checkpoint dict, got {type(checkpoint).__name__}")
        check_schema(checkpoint, path)
        check_identity(checkpoint, self.identity(), path)
        self._check_shapes(checkpoint, path)
        try:
            self._load_state_dict(checkpoint, load_optimizer)
        except (RuntimeError, KeyError, ValueError) as err:
            raise CheckpointError(f"checkpoint {path!r} does not fit this runner's networks: {first_line(err)}") from None
        self.iteration = int(checkpoint.get("iteration", 0))
        self.total_timesteps = int(checkpoint.get("total_timesteps", 0))
        if not load_optimizer:
            return checkpoint
        if self.rank != 0:
            # The checkpoint holds rank 0's envs and random streams; this rank keeps its own seed
            # and starts fresh episodes (a data-parallel resume is exact on rank 0 only).
            return checkpoint
        if "rng_state" in checkpoint:
            restore_rng_state(checkpoint["rng_state"])
        env_state = checkpoint.get("env_state")
        if env_state is not None and hasattr(self.env, "load_state_dict"):
            if env_state.get("num_envs") == self.env.num_envs:
                self.env.load_state_dict(env_state)
            else:
                warnings.warn(
                    f"checkpoint {path!r} holds the state of {env_state.get('num_envs')} envs; this env has "
                    f"{self.env.num_envs}: training continues from fresh episodes (not bit-exact)",
                    stacklevel=2,
                )
        return checkpoint

    # rsl_rl names for the same two operations.
    def save(self, path: str, infos: dict | None = None) -> str:
        return self.save_checkpoint(path, infos=infos)

    def load(self, path: str, load_optimizer: bool = True, map_location: Any = None, ckpt_manipulator=None) -> dict:
        return self.load_checkpoint(path, load_optimizer, map_location, ckpt_manipulator)

    # -------------------------------------------------------------------------- policy and modes
    def policy_module(self) -> nn.Module:
        raise NotImplementedError

    @property
    def policy_obs_group(self) -> str:
        """The observation group ``policy_module()`` reads (fed by eval, the standard evaluation, play.py)."""
        return "policy"

    def train_mode(self) -> None:
        raise NotImplementedError

    def eval_mode(self) -> None:
        raise NotImplementedError

    def _act_deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        return self.policy_module()(obs)

    def get_inference_policy(self, device: str | torch.device | None = None) -> InferencePolicy:
        """Deterministic policy in eval mode: observations -> actions on ``device`` (default: the runner's).

        Call ``policy.reset(dones)`` after each env step with its dones (a no-op for feed-forward
        policies): a recurrent policy keeps its hidden state from call to call, from zeros on each
        new ``get_inference_policy()``, apart from the training rollout's.
        """
        self.eval_mode()
        return self._inference_callable(device)

    def _inference_callable(self, device: str | torch.device | None = None) -> InferencePolicy:
        device = self.device if device is None else torch.device(device)
        module = self.policy_module()
        if device != self.device:
            module = copy.deepcopy(module).to(device)  # leave the training model where it is
        # Feed-forward: the runner's own way to act (a subclass may override it) on the runner's device.
        act = self._act_deterministic if device == self.device else module
        return InferencePolicy(module, act, device, obs_group=self.policy_obs_group)

    # ------------------------------------------------------------------------------- evaluation
    def get_eval_env(self):
        """The separate evaluation env: ``eval_env=`` if given, else ``env.make_eval_env()``, made once."""
        if self.eval_env is None:
            make_eval_env = getattr(self.env, "make_eval_env", None)
            if make_eval_env is None:
                raise ValueError(
                    f"{type(self.env).__name__} has no make_eval_env(); pass eval_env= to the runner so "
                    "evaluation never disturbs the training env"
                )
            # No more envs than episodes asked for: a 1024-env eval of 10 episodes would waste 99% of its work.
            self.eval_env = make_eval_env(num_envs=max(1, min(self.env.num_envs, self.cfg.eval_episodes)))
        return self.eval_env

    def should_eval(self, iteration: int) -> bool:
        return self.rank == 0 and self.cfg.eval_interval > 0 and (iteration + 1) % self.cfg.eval_interval == 0

    def eval(self, num_episodes: int | None = None) -> dict[str, float]:
        """Mean/std/min/max return of ``num_episodes`` deterministic episodes on the eval env.

        Legged envs also get the standard evaluation (velocity_rmsd, yaw_rate_rmsd,
        cost_of_transport, fall_rate) under ``eval/``.
        """
        num_episodes = self.cfg.eval_episodes if num_episodes is None else num_episodes
        if num_episodes < 1:
            raise ValueError(f"num_episodes={num_episodes!r} must be >= 1")
        env = self.get_eval_env()
        was_training = self.policy_module().training
        self.eval_mode()
        try:
            returns = self._run_eval_episodes(env, num_episodes)
            stats = {
                "eval/mean_reward": returns.mean().item(),
                "eval/std_reward": returns.std(unbiased=False).item(),
                "eval/min_reward": returns.min().item(),
                "eval/max_reward": returns.max().item(),
            }
            stats.update(self._legged_evaluation())
        finally:
            if was_training:
                self.train_mode()
        return stats

    def _run_eval_episodes(self, env, num_episodes: int) -> torch.Tensor:
        """Returns of ``num_episodes`` episodes, run side by side on the envs of ``env``.

        Each env counts its first episodes up to a quota fixed in advance (the quotas differ by at
        most one and add up to ``num_episodes``), so envs whose episodes end early cannot fill the
        count with short episodes: which episodes count never depends on how long they last.
        """
        quota = torch.full((env.num_envs,), num_episodes // env.num_envs, dtype=torch.long)
        quota[: num_episodes % env.num_envs] += 1
        # Bounded for safety: one round more than the ceil(num_episodes / num_envs) episodes an env needs.
        rounds = math.ceil(num_episodes / env.num_envs) + 1
        max_steps = rounds * int(env.max_episode_length) + 1
        finished: list[torch.Tensor] = []
        num_finished = 0
        # Reset inside inference mode too: env state written here must stay writable on the next eval.
        # The same episodes at every evaluation: figures comparable across iterations, and a resumed
        # run logs exactly what the uninterrupted one would have.
        generator, seed = getattr(env, "generator", None), getattr(getattr(env, "cfg", None), "seed", None)
        if isinstance(generator, torch.Generator) and seed is not None:
            generator.manual_seed(seed)
        policy = self._inference_callable()  # a fresh hidden state for recurrent policies
        with torch.inference_mode():
            obs, extras = env.reset()
            device = torch.as_tensor(obs).device
            quota = quota.to(device)
            counted = torch.zeros_like(quota)
            episode_return = torch.zeros(env.num_envs, device=device)
            for _ in range(max_steps):
                actions = policy(observation_group(obs, extras, policy.obs_group))
                obs, rewards, dones, extras = env.step(actions.to(device))
                policy.reset(dones)  # envs that finished start their next episode with a fresh memory
                episode_return += rewards.to(episode_return.dtype)
                done_ids = dones.nonzero().flatten()
                if len(done_ids) > 0:
                    done_ids_in_quota = done_ids[counted[done_ids] < quota[done_ids]]
                    finished.append(episode_return[done_ids_in_quota].clone())
                    counted[done_ids_in_quota] += 1
                    num_finished += len(done_ids_in_quota)
                    episode_return[done_ids] = 0.0
                    if num_finished == num_episodes:
                        break
        if num_finished == 0:
            raise RuntimeError(f"no evaluation episode finished within {max_steps} steps of {type(env).__name__}")
        return torch.cat(finished).float().cpu()

    def _legged_evaluation(self) -> dict[str, float]:
        if importlib.util.find_spec("legged_train.evaluation") is None:
            return {}  # only while the legged evaluation module does not exist
        from legged_train.evaluation import is_legged_env, standard_evaluation

        if not is_legged_env(self.env):
            return {}
        metrics = standard_evaluation(self.env, self._inference_callable(), device=self.device)
        return {f"eval/{name}": float(value) for name, value in metrics.items()}


class InferencePolicy:
    """The deterministic policy as a callable, ``policy(obs) -> actions``, under inference mode on ``device``.

    ``obs_group`` names the observation group it reads (``observation_group(obs, extras, policy.obs_group)``).

    For a recurrent module the hidden state lives here, not in the module (an evaluation must not
    touch the training rollout's state): zeros at first, carried from call to call, and
    ``reset(dones)`` zeros it for the envs whose episode ended (``reset()``: for all envs, whose
    number may then change). For a feed-forward module ``reset`` does nothing.
    """

    def __init__(
        self, module: nn.Module, act: Callable[[torch.Tensor], torch.Tensor], device: torch.device, obs_group: str = "policy"
    ):
        self.module = module
        self._act = act
        self.device = device
        self.obs_group = obs_group
        self.is_recurrent = bool(getattr(module, "is_recurrent", False))
        self.hidden_states: tuple[torch.Tensor, ...] | None = None

    def __call__(self, obs: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            obs = obs.to(self.device)
            if not self.is_recurrent:
                return self._act(obs)
            actions, self.hidden_states = self.module.step(obs, self.hidden_states)
            return actions

    def reset(self, dones: torch.Tensor | None = None) -> None:
        if not self.is_recurrent or self.hidden_states is None:
            return
        if dones is None:
            self.hidden_states = None  # zeros, sized by the next call
            return
        with torch.inference_mode():
            self.hidden_states = reset_hidden_states(self.hidden_states, dones.to(self.device))


class EpisodeStatistics:
    """Every env's running episode return and length, and a window of the latest finished episodes.

    Kept on the runner, so a later learn() call continues the same episodes.
    """

    def __init__(self, num_envs: int, device: torch.device, window: int = 100):
        self.returns = torch.zeros(num_envs, device=device)
        self.lengths = torch.zeros(num_envs, dtype=torch.long, device=device)
        self.recent_returns: deque[float] = deque(maxlen=window)
        self.recent_lengths: deque[int] = deque(maxlen=window)

    def add(self, rewards: torch.Tensor, dones: torch.Tensor) -> None:
        self.returns += rewards
        self.lengths += 1
        finished = dones.nonzero().flatten()
        if len(finished) > 0:
            self.recent_returns.extend(self.returns[finished].tolist())
            self.recent_lengths.extend(self.lengths[finished].tolist())
            self.returns[finished] = 0.0
            self.lengths[finished] = 0

    def means(self) -> dict[str, float]:
        """episode/mean_reward and episode/mean_length over the window (empty before any episode ended)."""
        if not self.recent_returns:
            return {}
        return {
            "episode/mean_reward": statistics.fmean(self.recent_returns),
            "episode/mean_length": statistics.fmean(self.recent_lengths),
        }

    def state_dict(self) -> dict:
        return {
            "returns": self.returns.cpu(),
            "lengths": self.lengths.cpu(),
            "recent_returns": list(self.recent_returns),
            "recent_lengths": list(self.recent_lengths),
        }

    def load_state_dict(self, state: dict) -> None:
        # Running episodes only carry over to the same number of envs.
        if state["returns"].shape == self.returns.shape:
            self.returns.copy_(state["returns"])
            self.lengths.copy_(state["lengths"])
        self.recent_returns = deque(state["recent_returns"], maxlen=self.recent_returns.maxlen)
        self.recent_lengths = deque(state["recent_lengths"], maxlen=self.recent_lengths.maxlen)


def print_block(lines: list[str]) -> None:
    """Console summary: one block, flushed so it shows up promptly under pipes and nohup."""
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
