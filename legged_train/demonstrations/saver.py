"""Collect demonstrations: run a policy in a vectorized env and save every env's trajectories.

The loop (``collect_and_save``): ``rollout_storage_length`` vectorized steps into buffers on the
env's device (``collect_step``), then one transfer to the CPU and the buffers cut at each env's
episode ends into slice files (``save_steps``), the metadata, a progress line; until
``check_stop``. One folder per trajectory, numbered across the whole dataset; see ``files.py``
for the format.

Subclasses (DAgger: roll out a student, label with a teacher, ``dagger.DaggerSaver``) override the
hooks ``get_policy_actions`` (the labels stored as ``actions``), ``get_rollout_actions`` (what the
env executes), ``get_transition`` (act and step the env), ``add_transition`` (record the step),
``collect_step``, ``policy_reset``, ``check_stop`` and ``print_log``.

What is counted (``timesteps``, ``trajectories``): finished trajectories that were kept. With
``success_traj_only`` only trajectories that ended by time-out are kept (the robot survived); a
fall removes the trajectory's folder, slices written earlier included, and is counted in
``dropped_trajectories``. Trajectories still running when collection stops are dropped (their
folders removed by ``close()``, or by the next run in the same folder after a kill): a cut
trajectory is neither a success nor a fall, and every trajectory in a dataset has its end.
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from collections.abc import Mapping

import numpy as np
import torch

from legged_train.demonstrations import files

try:
    import fcntl
except ImportError:  # not on Windows: no lock against two collectors in one folder
    fcntl = None


class DemonstrationSaver:
    def __init__(
        self,
        env,
        policy,
        save_dir: str,
        rollout_storage_length: int = 256,
        min_timesteps: int = 1_000_000,
        min_episodes: int = 0,
        success_traj_only: bool = False,
        use_critic_obs: bool = False,
        obs_disassemble_mapping: dict | None = None,
        demo_by_sample: bool = False,
        *,
        verbose: bool = True,
        log_stream=None,
    ):
        for name, value, low in (("rollout_storage_length", rollout_storage_length, 1), ("min_timesteps", min_timesteps, 0),
                                 ("min_episodes", min_episodes, 0)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"DemonstrationSaver {name}={value!r}: must be an int >= {low}")
        self.env = env
        self.policy = policy
        self.save_dir = os.path.abspath(os.fspath(save_dir))
        self.rollout_storage_length = int(rollout_storage_length)
        self.min_timesteps = int(min_timesteps)
        self.min_episodes = int(min_episodes)
        self.success_traj_only = bool(success_traj_only)
        self.use_critic_obs = bool(use_critic_obs)
        self.obs_disassemble_mapping = obs_disassemble_mapping or {}
        self.demo_by_sample = bool(demo_by_sample)
        self.verbose = verbose
        self.log_stream = log_stream
        self.num_envs = env.num_envs
        self.device = torch.device(getattr(env, "device", "cpu"))
        self.stop_requested = False
        self.closed = False
        self._lock_file = None

        # Groups and their layouts, from what the env returns now.
        _, extras = env.get_observations()
        self.obs_groups = self._observation_groups(extras, None)
        self.layouts, self.history = observation_layouts(env, self.obs_groups)
        self.compression = files.resolve_compression(self.obs_disassemble_mapping, self.layouts, self.history)
        if self.use_critic_obs and "critic" not in self.obs_groups:
            raise ValueError(f"use_critic_obs=True but the env has no 'critic' observation group; it has {sorted(self.obs_groups)}")
        try:
            self.init_traj_handlers()
        except BaseException:
            self._release_lock()  # a refused folder is free for the next try at once
            self.closed = True
            raise
        self.init_storage_buffer()

    # ------------------------------------------------------------------------- trajectories
    def init_traj_handlers(self) -> None:
        """Open ``save_dir`` (made if needed): continue a dataset already there (numbering, counts),
        drop what a killed run left unfinished, and give every env its first trajectory number."""
        os.makedirs(self.save_dir, exist_ok=True)
        previous = files.read_metadata(self.save_dir)
        if previous is None and [name for name in os.listdir(self.save_dir) if not name.startswith(".")]:
            raise ValueError(
                f"{self.save_dir} holds files but no {files.METADATA_FILE}: not a demonstrations folder; give a new or empty folder"
            )
        self._acquire_lock()
        files.remove_temp_entries(self.save_dir)
        if previous is not None:
            self._check_same_dataset(previous)

        # Counts come from the files (the metadata may predate a kill); only finished trajectories count.
        self.timesteps = self.trajectories = 0
        last_index = -1
        for index, folder in sorted(files.list_trajectory_dirs(self.save_dir).items()):
            last_index = max(last_index, index)
            slices = files.list_slices(folder)
            self._check_whole(slices)
            if slices and files.read_header(slices[-1][2])["finished"]:
                self.trajectories += 1
                self.timesteps += slices[-1][1]
            else:
                files.remove_dir_atomic(folder)  # cut by a kill or a stop: cannot be continued
        previous = previous or {}
        self.dropped_trajectories = int(previous.get("dropped_trajectories", 0))
        self.env_steps = int(previous.get("env_steps", 0))
        self.next_trajectory = max(last_index + 1, int(previous.get("next_trajectory", 0)))
        self.sessions = list(previous.get("sessions", []))
        self.sessions.append({"started": time.strftime("%Y-%m-%d %H:%M:%S"), "num_envs": self.num_envs, **self._collection_config()})
        self.policy_info = dict(getattr(self.policy, "info", None) or {})
        self.extra_config: dict = {}

        # Per env: the trajectory it is writing, how many of its steps are on disk, its return so far.
        self.traj_index = np.arange(self.next_trajectory, self.next_trajectory + self.num_envs, dtype=np.int64)
        self.next_trajectory += self.num_envs
        self.traj_steps_written = np.zeros(self.num_envs, dtype=np.int64)
        self.traj_has_dir = np.zeros(self.num_envs, dtype=bool)
        self.traj_return = np.zeros(self.num_envs, dtype=np.float64)
        self.recent_returns: deque[float] = deque(maxlen=100)
        self.recent_lengths: deque[int] = deque(maxlen=100)
        self.dump_metadata()

    def _check_whole(self, slices: list) -> None:
        """Refuse to continue a dataset with a damaged file: counting it would be wrong, and removing
        the user's data without asking is worse. The user moves it away (or restores it)."""
        for _, _, path in slices:
            try:
                files.check_slice(path)
            except files.DamagedFileError as err:
                self._release_lock()
                raise files.DamagedFileError(
                    f"{err}; refused to continue the dataset {self.save_dir} (its counts would include it): "
                    f"restore the file or remove its folder {os.path.dirname(path)}, then run again"
                ) from None

    def update_traj_handler(self, env_i: int, step_slice: slice) -> None:
        """Book-keeping at the end of env ``env_i``'s trajectory (its last step in ``step_slice``):
        count it, or remove it if it is not kept; then give the env a new trajectory number."""
        if self._kept(env_i, step_slice.stop - 1):
            length = int(self.traj_steps_written[env_i])  # the last slice is on disk already
            self.trajectories += 1
            self.timesteps += length
            self.recent_returns.append(float(self.traj_return[env_i]))
            self.recent_lengths.append(length)
        else:
            if self.traj_has_dir[env_i]:
                files.remove_dir_atomic(self._traj_dir(env_i))  # slices written before the fall too
            self.dropped_trajectories += 1
        self.traj_index[env_i] = self.next_trajectory
        self.next_trajectory += 1
        self.traj_steps_written[env_i] = 0
        self.traj_has_dir[env_i] = False
        self.traj_return[env_i] = 0.0

    def _kept(self, env_i: int, last_step: int) -> bool:
        return not (self.success_traj_only and bool(self._saved["terminated"][env_i, last_step]))

    def dump_to_file(self, env_i: int, step_slice: slice) -> None:
        """Write steps ``step_slice`` of the buffer for env ``env_i`` as the next slice of its trajectory."""
        finished = bool(self._saved["dones"][env_i, step_slice.stop - 1])
        if finished and not self._kept(env_i, step_slice.stop - 1):
            return  # never written: a reader must not see a fall that is about to be removed
        arrays, header = self.wrap_up_trajectory(env_i, step_slice)
        start = int(self.traj_steps_written[env_i])
        name = files.slice_file_name(start, start + header["num_steps"])
        if self.traj_has_dir[env_i]:
            files.write_npz_atomic(os.path.join(self._traj_dir(env_i), name), arrays, header)
        else:
            files.write_new_dir_atomic(self.save_dir, files.trajectory_dir_name(int(self.traj_index[env_i])), name, arrays, header)
            self.traj_has_dir[env_i] = True
        self.traj_steps_written[env_i] = start + header["num_steps"]

    def wrap_up_trajectory(self, env_i: int, step_slice: slice) -> tuple[dict, dict]:
        """The arrays and header of one slice file (observation segments compressed as configured)."""
        saved, s = self._saved, step_slice
        start = int(self.traj_steps_written[env_i])
        finished = bool(saved["dones"][env_i, s.stop - 1])
        header = {
            "format_version": files.FORMAT_VERSION,
            "trajectory": int(self.traj_index[env_i]),
            "env": int(env_i),  # the env slot that produced it (debugging)
            "start": start,
            "end": start + (s.stop - s.start),
            "num_steps": s.stop - s.start,
            "finished": finished,
            "groups": {},
            "num_hidden_states": len(saved["hidden_states"]),
        }
        arrays: dict[str, np.ndarray] = {}
        for group, values in saved["obs"].items():
            group_arrays, segments = files.encode_group(group, values[env_i, s], self.compression.get(group))
            arrays.update(group_arrays)
            header["groups"][group] = {"dim": int(values.shape[-1]), "segments": segments}
        for key in ("actions", "action_mean", "rewards", "dones", "time_outs", "terminated"):
            if key in saved:
                arrays[key] = saved[key][env_i, s]
        for i, states in enumerate(saved["hidden_states"]):
            arrays[f"hidden_states.{i}"] = states[env_i, s]
        if finished:
            for group, values in saved["final_obs"].items():
                arrays[f"final_obs.{group}"] = values[env_i, s.stop - 1][None]
        return arrays, header

    def _traj_dir(self, env_i: int) -> str:
        return os.path.join(self.save_dir, files.trajectory_dir_name(int(self.traj_index[env_i])))

    def dump_metadata(self) -> None:
        metadata = {
            "format": files.FORMAT_NAME,
            "format_version": files.FORMAT_VERSION,
            "timesteps": self.timesteps,
            "trajectories": self.trajectories,
            "dropped_trajectories": self.dropped_trajectories,
            "env_steps": self.env_steps,
            "next_trajectory": int(self.next_trajectory),
            "observation_layouts": self.layouts,  # the blocks of one step of each group
            "observation_history": self.history,  # steps each group stacks, oldest first (1: none)
            "num_actions": int(self.env.num_actions),
            "step_dt": _step_dt(self.env),
            "collection": {**self._collection_config(), "num_envs": self.num_envs, **self.extra_config},
            "policy": self.policy_info,
            "sessions": self.sessions,
        }
        files.write_json_atomic(os.path.join(self.save_dir, files.METADATA_FILE), metadata)

    def _collection_config(self) -> dict:
        return {
            "rollout_storage_length": self.rollout_storage_length,
            "min_timesteps": self.min_timesteps,
            "min_episodes": self.min_episodes,
            "success_traj_only": self.success_traj_only,
            "use_critic_obs": self.use_critic_obs,
            "obs_disassemble_mapping": self.obs_disassemble_mapping,
            "demo_by_sample": self.demo_by_sample,
        }

    def _check_same_dataset(self, previous: dict) -> None:
        """A dataset is continued only with the same observations and actions."""
        path = os.path.join(self.save_dir, files.METADATA_FILE)
        stored = previous.get("observation_layouts", {})
        if sorted(stored) != sorted(self.layouts):
            raise ValueError(f"{path}: the dataset has observation groups {sorted(stored)}, the env {sorted(self.layouts)}")
        for group, layout in self.layouts.items():
            problem = files.layout_mismatch(stored[group], layout)
            if problem:
                raise ValueError(f"{path}: observation layout of group {group!r} does not match the env: {problem}")
        stored_history = previous.get("observation_history", {})
        for group, steps in self.history.items():
            if int(stored_history.get(group, 1)) != steps:
                raise ValueError(
                    f"{path}: group {group!r} stacks {stored_history.get(group, 1)} steps of history in the dataset, {steps} in the env"
                )
        if int(previous.get("num_actions", self.env.num_actions)) != int(self.env.num_actions):
            raise ValueError(f"{path}: the dataset has {previous['num_actions']} actions, the env {self.env.num_actions}")

    def _acquire_lock(self) -> None:
        if fcntl is None:
            return
        self._lock_file = open(os.path.join(self.save_dir, ".lock"), "a+")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            self._lock_file = None
            raise ValueError(f"{self.save_dir} is being written by another collector; one collector per folder") from None
        self._lock_file.seek(0)
        self._lock_file.truncate()
        self._lock_file.write(f"{os.getpid()}\n")  # who holds it, for a curious reader
        self._lock_file.flush()

    # ------------------------------------------------------------------------------ storage
    def init_storage_buffer(self) -> None:
        """(steps, envs, ...) buffers on the env's device, filled one vectorized step at a time."""
        length, n, dev = self.rollout_storage_length, self.num_envs, self.device

        def zeros(*shape, dtype=torch.float32):
            return torch.zeros(length, n, *shape, dtype=dtype, device=dev)

        self.buffers = {
            "obs": {group: zeros(obs.shape[-1]) for group, obs in self.obs_groups.items()},
            # Filled only at steps where an env finished: what it observed before the reset.
            "final_obs": {group: zeros(obs.shape[-1]) for group, obs in self.obs_groups.items()},
            "actions": zeros(self.env.num_actions),
            "rewards": zeros(),
            "dones": zeros(dtype=torch.bool),
            "time_outs": zeros(dtype=torch.bool),
            "terminated": zeros(dtype=torch.bool),
            "hidden_states": None,  # allocated at the first step, if the policy exposes its memory
        }
        if self.demo_by_sample:
            self.buffers["action_mean"] = zeros(self.env.num_actions)
        self.step_i = 0
        self.final_groups = set(self.obs_groups)  # groups whose final observation the env gives

    def reset_env(self) -> None:
        """Start every env on a fresh episode, so that each trajectory starts at its first step."""
        obs, extras = self.env.reset()
        self.obs_groups = self._observation_groups(extras, obs)
        self.policy_reset(torch.ones(self.num_envs, dtype=torch.bool, device=self.device))

    def collect_step(self, step_i: int) -> None:
        """One vectorized env step: record the observations (and the policy's memory), act and step
        the env (``get_transition``), record its answer (``add_transition``)."""
        buffers = self.buffers
        for group, obs in self.obs_groups.items():
            buffers["obs"][group][step_i] = obs
        hidden = _hidden_state_tensors(self.policy)
        if hidden and buffers["hidden_states"] is None:
            buffers["hidden_states"] = [torch.zeros(self.rollout_storage_length, *h.shape, device=self.device) for h in hidden]
        for i, buffer in enumerate(buffers["hidden_states"] or []):
            # No state (None) means zeros: a recurrent policy that has not stepped since a full reset.
            buffer[step_i] = hidden[i] if hidden else 0.0
        actions, obs, rewards, dones, extras = self.get_transition()
        self.add_transition(step_i, actions, rewards, dones, extras)
        self.obs_groups = self._observation_groups(extras, obs)
        self.policy_reset(dones)

    def get_transition(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict]:
        """Act and step the env once: (actions to store, next obs, rewards, dones as bool, extras)."""
        actions = self.get_policy_actions()
        if not bool(torch.isfinite(actions).all()):
            raise FloatingPointError("the policy returned NaN/Inf actions; nothing of this step is saved")
        obs, rewards, dones, extras = self.env.step(self.get_rollout_actions(actions).to(self.device))
        return actions, obs, rewards, dones.to(self.device).bool(), extras

    def add_transition(self, step_i: int, actions: torch.Tensor, rewards: torch.Tensor, dones: torch.Tensor, extras: dict) -> None:
        """Record step ``step_i``'s actions and the env's answer (final observations of the envs that finished)."""
        buffers = self.buffers
        buffers["actions"][step_i] = actions
        if "action_mean" in buffers and getattr(self.policy, "action_mean", None) is not None:
            buffers["action_mean"][step_i] = self.policy.action_mean
        buffers["rewards"][step_i] = rewards
        buffers["dones"][step_i] = dones
        time_outs = extras.get("time_outs", extras.get("truncated"))
        time_outs = torch.zeros_like(dones) if time_outs is None else time_outs.to(self.device).bool()
        terminated = extras.get("terminated")
        buffers["time_outs"][step_i] = time_outs
        buffers["terminated"][step_i] = dones & ~time_outs if terminated is None else terminated.to(self.device).bool()
        done_ids = dones.nonzero(as_tuple=False).flatten()
        if len(done_ids) > 0:
            for group, final in self._final_observations(extras).items():
                buffers["final_obs"][group][step_i, done_ids] = final[done_ids].to(self.device, torch.float32)

    def get_policy_actions(self) -> torch.Tensor:
        """The actions stored as the demonstration: sampled (``demo_by_sample``) or deterministic."""
        critic_obs = self.obs_groups.get("critic", self.obs_groups["policy"])
        obs = critic_obs if self.use_critic_obs else self.obs_groups["policy"]
        if self.demo_by_sample:
            return self.policy.act(obs, critic_obs).to(self.device)
        return self.policy.act_inference(obs, critic_obs).to(self.device)

    def get_rollout_actions(self, actions: torch.Tensor) -> torch.Tensor:
        """What the env executes; the stored actions themselves here (DAgger executes a student's)."""
        return actions

    def policy_reset(self, dones: torch.Tensor) -> None:
        """Reset the memory of the envs that finished (recurrent policies)."""
        if bool(dones.any()) and hasattr(self.policy, "reset"):
            self.policy.reset(dones)

    def save_steps(self, write_unfinished: bool = True) -> None:
        """Write the buffered steps: each env's buffer is cut after each of its episode ends; a piece
        that ends a trajectory closes it (``update_traj_handler``), the last piece continues it."""
        n = self.step_i
        if n == 0:
            return
        self._saved = self._buffers_to_numpy(n)
        self.step_i = 0  # an interrupt while writing must not make close() write these steps twice
        dones = self._saved["dones"]
        self.env_steps += n * self.num_envs
        for env_i in range(self.num_envs):
            start = 0
            for end in (np.flatnonzero(dones[env_i]) + 1).tolist():
                self.traj_return[env_i] += float(self._saved["rewards"][env_i, start:end].sum())
                self.dump_to_file(env_i, slice(start, end))
                self.update_traj_handler(env_i, slice(start, end))
                start = end
            if start < n:
                self.traj_return[env_i] += float(self._saved["rewards"][env_i, start:n].sum())
                if write_unfinished:
                    self.dump_to_file(env_i, slice(start, n))
        self._saved = None
        self.dump_metadata()

    def _buffers_to_numpy(self, n: int) -> dict:
        """The first ``n`` steps as numpy arrays (envs, steps, ...): one device-to-host copy per array,
        each env's steps contiguous for the file writes."""

        def host(x: torch.Tensor) -> np.ndarray:
            return x[:n].transpose(0, 1).contiguous().cpu().numpy()

        b = self.buffers
        saved = {key: host(b[key]) for key in ("actions", "rewards", "dones", "time_outs", "terminated", "action_mean") if key in b}
        saved["obs"] = {group: host(x) for group, x in b["obs"].items()}
        saved["final_obs"] = {group: host(x) for group, x in b["final_obs"].items() if group in self.final_groups}
        saved["hidden_states"] = [host(x) for x in b["hidden_states"] or []]
        return saved

    # -------------------------------------------------------------------------------- control
    def check_stop(self) -> bool:
        """True once enough was kept (both ``min_timesteps`` and ``min_episodes``) or a stop was asked."""
        return self.stop_requested or (self.timesteps >= self.min_timesteps and self.trajectories >= self.min_episodes)

    def request_stop(self) -> None:
        """Stop after the current buffer is written (a signal handler may call this)."""
        self.stop_requested = True

    def collect_and_save(self, config: dict | None = None) -> None:
        """Collect until ``check_stop()``; ``config`` (plain types) is recorded in the metadata."""
        if self.closed:
            raise RuntimeError("this DemonstrationSaver is closed")
        if config:
            self.extra_config = dict(config)
            self.sessions[-1].update(config)
        self._started = time.time()
        self._session_start = (self.env_steps, self.timesteps, self.trajectories)
        # Inference mode: no autograd graph, and the env's tensors stay writable for it (see the runner).
        with torch.inference_mode():
            self.reset_env()
            while not self.check_stop():
                for step_i in range(self.rollout_storage_length):
                    self.collect_step(step_i)
                    self.step_i = step_i + 1
                self.save_steps()
                self.print_log()
        self.dump_metadata()

    def progress(self) -> dict:
        """Figures of the progress line."""
        elapsed = max(time.time() - getattr(self, "_started", time.time()), 1e-9)
        env_steps0, timesteps0, trajectories0 = getattr(self, "_session_start", (self.env_steps, self.timesteps, self.trajectories))
        kept_rate = (self.timesteps - timesteps0) / elapsed
        episode_rate = (self.trajectories - trajectories0) / elapsed
        eta = 0.0
        if self.timesteps < self.min_timesteps:
            eta = (self.min_timesteps - self.timesteps) / kept_rate if kept_rate > 0 else float("inf")
        if self.trajectories < self.min_episodes:
            eta = max(eta, (self.min_episodes - self.trajectories) / episode_rate if episode_rate > 0 else float("inf"))
        return {
            "timesteps": self.timesteps,
            "trajectories": self.trajectories,
            "dropped_trajectories": self.dropped_trajectories,
            "steps_per_second": (self.env_steps - env_steps0) / elapsed,
            "mean_return": float(np.mean(self.recent_returns)) if self.recent_returns else float("nan"),
            "mean_length": float(np.mean(self.recent_lengths)) if self.recent_lengths else float("nan"),
            "eta_s": eta,
        }

    def print_log(self) -> None:
        """One progress line, rewritten in place on a terminal (a new line per update in a log file)."""
        if not self.verbose:
            return
        p = self.progress()
        done = min(1.0, p["timesteps"] / self.min_timesteps) if self.min_timesteps else 1.0
        line = (
            f"timesteps {p['timesteps']}/{self.min_timesteps} ({100 * done:.0f}%) | trajectories {p['trajectories']}"
            + (f" ({p['dropped_trajectories']} falls dropped)" if self.success_traj_only else "")
            + f" | {p['steps_per_second']:.0f} steps/s | return {p['mean_return']:.2f} length {p['mean_length']:.0f}"
            + f" | ETA {_hms(p['eta_s'])}"
        )
        stream = self.log_stream or sys.stdout
        if getattr(stream, "isatty", lambda: False)():
            stream.write("\r" + line.ljust(getattr(self, "_last_line_length", 0)))
            self._last_line_length = len(line)
        else:
            stream.write(line + "\n")
        stream.flush()

    def close(self) -> None:
        """Write the finished trajectories still in the buffer, remove the unfinished ones, write the
        metadata and release the folder. Safe to call twice."""
        if self.closed:
            return
        self.closed = True
        try:
            if getattr(self, "step_i", 0) > 0:
                with torch.inference_mode():
                    self.save_steps(write_unfinished=False)
            for env_i in np.flatnonzero(getattr(self, "traj_has_dir", np.zeros(0, bool))):
                files.remove_dir_atomic(self._traj_dir(int(env_i)))
                self.traj_has_dir[env_i] = False
            if hasattr(self, "timesteps"):
                files.remove_temp_entries(self.save_dir)
                self.dump_metadata()
            if self.verbose and getattr(self, "_last_line_length", 0):
                (self.log_stream or sys.stdout).write("\n")
        finally:
            self._release_lock()

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # releases the flock
            self._lock_file = None

    def __enter__(self) -> "DemonstrationSaver":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if not getattr(self, "closed", True):
                self.close()
        except Exception:
            pass

    # ------------------------------------------------------------------------------ helpers
    def _observation_groups(self, extras: dict, obs: torch.Tensor | None) -> dict[str, torch.Tensor]:
        groups = dict(extras.get("observations", {}).items()) if isinstance(extras.get("observations"), Mapping) else {}
        if "policy" not in groups:
            if obs is None:
                obs, _ = self.env.get_observations()
            groups["policy"] = obs
        for group, value in groups.items():
            if value.dim() != 2:
                raise ValueError(f"observation group {group!r} has shape {tuple(value.shape)}; only (num_envs, dim) groups are stored")
        return groups

    def _final_observations(self, extras: dict) -> dict[str, torch.Tensor]:
        """Each group's observations before the same-step reset (rows of the envs that finished)."""
        finals = extras.get("final_observations")
        if isinstance(finals, Mapping):
            found = {g: finals[g] for g in self.obs_groups if g in finals}
        else:
            found = {}
            if extras.get("final_observation") is not None:
                found["policy"] = extras["final_observation"]
            if extras.get("final_critic_observation") is not None and "critic" in self.obs_groups:
                found["critic"] = extras["final_critic_observation"]
        missing = self.final_groups - set(found)
        if missing:
            self.final_groups -= missing
            print(f"warning: the env gives no final observation of groups {sorted(missing)}: their last next_obs is unknown",
                  file=sys.stderr)
        return found


def observation_layouts(env, groups: dict[str, torch.Tensor]) -> tuple[dict[str, list[list]], dict[str, int]]:
    """Every stored group's named blocks of one step (``env.observation_layout()``; one block named
    after the group for groups the env does not describe) and the steps of history it stacks
    (``env.observation_history()``, else its width over the one-step width)."""
    described = files.normalize_layouts(env.observation_layout()) if hasattr(env, "observation_layout") else {}
    declared = env.observation_history() if hasattr(env, "observation_history") else {}
    layouts, history = {}, {}
    for group, obs in groups.items():
        width = int(obs.shape[-1])
        layout = described.get(group) or [[group, width]]
        step_width = sum(w for _, w in layout)
        steps = int(declared.get(group, width // step_width if step_width else 0))
        if steps < 1 or steps * step_width != width:
            raise ValueError(
                f"env.observation_layout()[{group!r}] has {step_width} columns per step"
                + (f" and {steps} steps of history" if group in declared else "")
                + f"; the group has {width} columns"
            )
        layouts[group], history[group] = layout, steps
    return layouts, history


def _hidden_state_tensors(policy) -> list[torch.Tensor]:
    """The policy's memory per env, env dimension first: rsl_rl's (layers, envs, hidden) -> (envs, layers, hidden)."""
    getter = getattr(policy, "get_hidden_states", None)
    states = getter() if getter is not None else None
    if states is None:
        return []
    states = [states] if isinstance(states, torch.Tensor) else [s for s in states if s is not None]
    return [s.detach().movedim(-2, 0).float() for s in states if s.dim() >= 2]


def _step_dt(env) -> float | None:
    dt = getattr(env, "step_dt", getattr(env, "dt", None))
    return float(dt) if dt is not None else None


def _hms(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "--:--:--"
    seconds = int(seconds)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
