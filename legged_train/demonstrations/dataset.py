"""Serve saved trajectories as batched transitions, one env slot per row (pretraining from demonstrations).

Each of the ``num_envs`` slots walks through whole trajectories one after another, so a batch looks
like one step of a vectorized env: ``get_transition_batch()`` returns (obs, critic_obs, actions,
rewards, dones, next_obs, next_critic_obs) of every slot and advances them all by one step.

Loaded trajectories live in flat tensors on ``device``: trajectory j takes rows
``[start_j, start_j + T_j]``, its T_j steps followed by its final observation, so ``next_obs`` of
row r is row r + 1 for every step, the last included. Serving a batch is then a gather at each
slot's row pointer; Python only runs per slot when a slot moves to its next trajectory.

The folder may still be growing (a collector writing next to a trainer): new finished
trajectories are picked up when a slot needs one and none is left, and every ``rescan_interval``
batches. Files appear atomically and unfinished trajectories are skipped, so nothing is read
half written. ``keep_latest_n_trajs`` keeps only the newest trajectories loaded (plus the ones
slots are serving).
"""

from __future__ import annotations

import os
import random
import warnings
from collections import OrderedDict, deque
from dataclasses import dataclass

import numpy as np
import torch

from legged_train.demonstrations import files


@dataclass
class Transition:
    """One step of every slot: tensors with ``num_envs`` rows on the dataset's device."""

    obs: torch.Tensor  # (N, D) the obs group (policy)
    critic_obs: torch.Tensor  # (N, Dc) the critic group (the obs group when the data has none)
    actions: torch.Tensor  # (N, A)
    rewards: torch.Tensor  # (N,) float32
    dones: torch.Tensor  # (N,) bool: the trajectory ended at this step (fall or time-out)
    next_obs: torch.Tensor  # (N, D): the final observation at a trajectory's last step
    next_critic_obs: torch.Tensor  # (N, Dc)


class RolloutDataset:
    def __init__(
        self,
        data_dir: str | list[str],
        num_envs: int,
        device: str | torch.device = "cpu",
        *,
        obs_group: str = "policy",
        critic_obs_group: str = "critic",
        dataset_loops: bool = False,
        keep_latest_n_trajs: int = 0,
        rescan_interval: int = 100,
        expected_layout: dict | None = None,
        expected_history: dict | None = None,
        shuffle: bool = False,
        seed: int = 0,
        allow_empty: bool = False,
    ):
        """
        data_dir: a demonstrations folder (written by DemonstrationSaver) or a list of them.
        num_envs: slots, rows of every batch.
        dataset_loops: when every trajectory was served, serve them again (else batches are None).
        keep_latest_n_trajs: 0 keeps every trajectory loaded; N keeps the newest N (memory bound).
        rescan_interval: look for new finished trajectories every this many batches (0: only when
            a slot needs one and none is left).
        expected_layout: ``env.observation_layout()``; the data's layout of the served groups must match.
        expected_history: ``env.observation_history()``; the served groups' history lengths must match.
        shuffle: serve trajectories in a random (seeded) order instead of by number.
        allow_empty: accept a folder without finished trajectories yet (batches are None until some appear).
        """
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"RolloutDataset num_envs={num_envs!r}: must be an int >= 1")
        for name, value in (("keep_latest_n_trajs", keep_latest_n_trajs), ("rescan_interval", rescan_interval)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"RolloutDataset {name}={value!r}: must be an int >= 0")
        dirs = [data_dir] if isinstance(data_dir, (str, os.PathLike)) else list(data_dir)
        self.data_dirs = [os.path.abspath(os.fspath(d)) for d in dirs]
        if not self.data_dirs:
            raise ValueError("RolloutDataset data_dir: give a folder or a non-empty list of folders")
        self.num_envs = int(num_envs)
        self.device = torch.device(device)
        self.obs_group = obs_group
        self.critic_obs_group = critic_obs_group
        self.dataset_loops = dataset_loops
        self.keep_latest_n_trajs = int(keep_latest_n_trajs)
        self.rescan_interval = int(rescan_interval)
        self.shuffle = shuffle
        self.rng = random.Random(seed)

        self.metadata = []
        for directory in self.data_dirs:
            self.metadata.append(self._open_dir(directory, expected_layout, expected_history))
        self.has_critic_group = all(critic_obs_group in m["observation_layouts"] for m in self.metadata)
        self.groups = [obs_group] + ([critic_obs_group] if self.has_critic_group and critic_obs_group != obs_group else [])

        # Trajectories by key (folder number, trajectory number): loaded ones in order of arrival.
        self._pool: OrderedDict[tuple[int, int], dict] = OrderedDict()
        self._seen: set[tuple[int, int]] = set()  # finished ones found (loaded, skipped or evicted)
        self._checked_last_file: dict[tuple[int, int], str] = {}  # unfinished ones: their last slice when checked
        self._queue: deque[tuple[int, int]] = deque()  # not yet served in this pass
        self._flat: dict[str, torch.Tensor] = {}
        self._row_start: dict[tuple[int, int], int] = {}
        self._pool_transitions = 0
        # Per slot: the trajectory it serves, its row now and its trajectory's last step row.
        self._slot_key: list[tuple[int, int] | None] = [None] * self.num_envs
        self._ptr = torch.zeros(self.num_envs, dtype=torch.long, device=self.device)
        self._end = torch.zeros(self.num_envs, dtype=torch.long, device=self.device)
        self._needs_trajectory = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
        self.num_batches = 0
        self.passes = 0
        self.served_trajectories = 0
        self.served_transitions = 0
        self._served_return_sum = 0.0
        self._served_length_sum = 0

        self._refresh()
        if not self._pool and not allow_empty:
            where = self.data_dirs[0] if len(self.data_dirs) == 1 else self.data_dirs
            raise ValueError(f"RolloutDataset: {where} holds no finished trajectory (trajectory_<k>/traj_<start>_<end>.npz)")

    # ------------------------------------------------------------------------------- serving
    def get_transition_batch(self) -> tuple[Transition | None, dict]:
        """The next step of every slot, and ``infos`` (``time_outs`` and dataset figures).

        ``(None, infos)`` when a slot needs a trajectory and none is left (not looping, nothing new
        in the folder); the other slots keep their place, so a later call continues once new
        trajectories arrive."""
        self.num_batches += 1
        if self.rescan_interval and self.num_batches % self.rescan_interval == 0:
            self._refresh()
        if bool(self._needs_trajectory.any()) and not self._assign(self._needs_trajectory.nonzero().flatten().tolist()):
            return None, self._figures()
        rows = self._ptr
        flat = self._flat
        transition = Transition(
            obs=flat[self.obs_group][rows],
            critic_obs=flat[self._critic_key][rows],
            actions=flat["actions"][rows],
            rewards=flat["rewards"][rows],
            dones=flat["dones"][rows],
            next_obs=flat[self.obs_group][rows + 1],
            next_critic_obs=flat[self._critic_key][rows + 1],
        )
        self.served_transitions += self.num_envs
        infos = self._figures()
        infos["time_outs"] = flat["time_outs"][rows]
        self._needs_trajectory = rows == self._end
        self._ptr = rows + 1
        return transition, infos

    @property
    def num_trajectories(self) -> int:
        """Trajectories loaded now (finished ones found, less those evicted by keep_latest_n_trajs)."""
        return len(self._pool)

    @property
    def _critic_key(self) -> str:
        return self.critic_obs_group if self.has_critic_group else self.obs_group

    def _assign(self, slots: list[int]) -> bool:
        """Give each slot its next trajectory; False when one is left without."""
        for slot in slots:
            key = self._next_trajectory()
            if key is None:
                return False
            self._slot_key[slot] = key
            start, length = self._row_start[key], self._pool[key]["length"]
            self._ptr[slot] = start
            self._end[slot] = start + length - 1
            self._needs_trajectory[slot] = False
            self.served_trajectories += 1
            self._served_return_sum += self._pool[key]["return"]
            self._served_length_sum += length
        return True

    def _next_trajectory(self) -> tuple[int, int] | None:
        if not self._queue:
            self._refresh()
        if not self._queue and self.dataset_loops and self._pool:
            self._queue.extend(self._ordered(list(self._pool)))
            self.passes += 1
        return self._queue.popleft() if self._queue else None

    def _ordered(self, keys: list) -> list:
        if self.shuffle:
            self.rng.shuffle(keys)
        return keys

    def _figures(self) -> dict:
        served = max(self.served_trajectories, 1)
        return {
            "mean_episode_return": self._served_return_sum / served if self.served_trajectories else float("nan"),
            "mean_episode_length": self._served_length_sum / served if self.served_trajectories else float("nan"),
            "num_trajectories": len(self._pool),
            "num_transitions": self._pool_transitions,
            "served_trajectories": self.served_trajectories,
            "served_transitions": self.served_transitions,
            "passes": self.passes,
        }

    # ------------------------------------------------------------------------------- loading
    def _open_dir(self, directory: str, expected_layout: dict | None, expected_history: dict | None) -> dict:
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"RolloutDataset: data_dir {directory} does not exist")
        metadata = files.read_metadata(directory)
        if metadata is None:
            raise ValueError(f"RolloutDataset: {directory} holds no {files.METADATA_FILE}: not a demonstrations folder (empty?)")
        layouts = metadata.get("observation_layouts", {})
        if self.obs_group not in layouts:
            raise ValueError(f"RolloutDataset: {directory} has no observation group {self.obs_group!r}; it has {sorted(layouts)}")
        reference = self.metadata[0] if self.metadata else None
        history = metadata.get("observation_history", {})
        for group in (self.obs_group, self.critic_obs_group):
            if group not in layouts:
                continue
            steps = int(history.get(group, 1))
            if expected_history is not None and group in expected_history and int(expected_history[group]) != steps:
                raise ValueError(
                    f"RolloutDataset: {directory}: group {group!r} stacks {steps} steps of history in the data, "
                    f"{expected_history[group]} in the env"
                )
            if reference is not None and int(reference.get("observation_history", {}).get(group, 1)) != steps:
                raise ValueError(
                    f"RolloutDataset: {directory}: group {group!r} stacks {steps} steps of history, {self.data_dirs[0]} another number"
                )
            if expected_layout is not None and group in expected_layout:
                problem = files.layout_mismatch(layouts[group], expected_layout[group])
                if problem:
                    raise ValueError(
                        f"RolloutDataset: {directory}: observation layout of group {group!r} does not match the env: {problem}"
                    )
            if reference is not None and group in reference["observation_layouts"]:
                problem = files.layout_mismatch(layouts[group], reference["observation_layouts"][group])
                if problem:
                    raise ValueError(
                        f"RolloutDataset: {directory}: observation layout of group {group!r} differs from "
                        f"{self.data_dirs[0]}'s: {problem.replace('in the env', 'there')}"
                    )
        return metadata

    def _refresh(self) -> None:
        """Load the finished trajectories that appeared since the last look; evict old ones."""
        new = self._scan()
        if not new:
            return
        if self.keep_latest_n_trajs:
            new = new[-self.keep_latest_n_trajs :]  # never read what would be evicted at once
        loaded = []
        for key in new:
            trajectory = self._load(key)
            if trajectory is not None:
                self._pool[key] = trajectory
                loaded.append(key)
        self._queue.extend(self._ordered(loaded))
        self._evict()
        self._rebuild()

    def _scan(self) -> list[tuple[int, int]]:
        """Keys of the trajectories that finished since the last scan, oldest first."""
        found = []
        for dir_i, directory in enumerate(self.data_dirs):
            folders = files.list_trajectory_dirs(directory)
            for number in sorted(folders):
                key = (dir_i, number)
                if key in self._seen:
                    continue
                try:
                    slices = files.list_slices(folders[number])
                    if not slices or self._checked_last_file.get(key) == slices[-1][2]:
                        continue  # nothing new since it was seen unfinished
                    finished = files.read_header(slices[-1][2])["finished"]
                except FileNotFoundError:
                    continue  # removed meanwhile (a fall with success_traj_only, or a cut trajectory)
                except files.DamagedFileError as err:
                    self._skip_damaged(key, err)
                    continue
                if finished:
                    self._seen.add(key)
                    self._checked_last_file.pop(key, None)
                    found.append(key)
                else:
                    self._checked_last_file[key] = slices[-1][2]
        return found

    def _skip_damaged(self, key: tuple[int, int], err: Exception) -> None:
        """A damaged file (files are written atomically, so it was damaged later) costs its trajectory,
        not the run: training goes on with the others, and the file is named once."""
        self._seen.add(key)
        self._checked_last_file.pop(key, None)
        warnings.warn(f"RolloutDataset: skipped a trajectory: {err}; training goes on with the other trajectories",
                      stacklevel=3)

    def _load(self, key: tuple[int, int]) -> dict | None:
        """One trajectory as (T + 1)-row tensors: its steps, then its final observation."""
        folder = os.path.join(self.data_dirs[key[0]], files.trajectory_dir_name(key[1]))
        try:
            data = files.read_trajectory(folder, self.groups)
        except FileNotFoundError:
            warnings.warn(f"RolloutDataset: {folder} disappeared while loading it; skipped", stacklevel=3)
            return None
        except files.DamagedFileError as err:
            self._skip_damaged(key, err)
            return None
        if data is None:  # cannot happen for a finished trajectory unless its files were replaced
            return None
        length = data["length"]

        def rows(x: np.ndarray) -> torch.Tensor:
            pad = np.zeros((1, *x.shape[1:]), dtype=x.dtype)  # the final-observation row has no step
            return torch.from_numpy(np.concatenate([x, pad])).to(self.device)

        trajectory = {"length": length, "return": float(data["rewards"].sum(dtype=np.float64))}
        for group in self.groups:
            if group not in data["final_obs"]:
                raise ValueError(
                    f"RolloutDataset: {folder} has no final observation of group {group!r}: next_obs of its last step is unknown"
                )
            obs = np.concatenate([data["obs"][group], data["final_obs"][group][None]])
            trajectory[group] = torch.from_numpy(obs).to(self.device)
        trajectory["actions"] = rows(data["actions"].astype(np.float32))
        trajectory["rewards"] = rows(data["rewards"].astype(np.float32))
        trajectory["dones"] = rows(data["dones"].astype(bool))
        trajectory["time_outs"] = rows(data["time_outs"].astype(bool))
        return trajectory

    def _evict(self) -> None:
        """Keep the newest ``keep_latest_n_trajs`` trajectories, and those slots are serving."""
        if not self.keep_latest_n_trajs or len(self._pool) <= self.keep_latest_n_trajs:
            return
        keep = set(list(self._pool)[-self.keep_latest_n_trajs :]) | set(self._slot_key)
        for key in [k for k in self._pool if k not in keep]:
            del self._pool[key]
        self._queue = deque(k for k in self._queue if k in self._pool)

    def _rebuild(self) -> None:
        """Concatenate the pool into the flat tensors and move the slots' pointers along."""
        old_start = self._row_start
        self._row_start, row = {}, 0
        for key, trajectory in self._pool.items():
            self._row_start[key] = row
            row += trajectory["length"] + 1
        self._pool_transitions = row - len(self._pool)
        fields = self.groups + ["actions", "rewards", "dones", "time_outs"]
        self._flat = {name: torch.cat([t[name] for t in self._pool.values()]) for name in fields} if self._pool else {}
        shift = [self._row_start[k] - old_start[k] if k is not None else 0 for k in self._slot_key]
        shift = torch.tensor(shift, dtype=torch.long, device=self.device)
        self._ptr += shift
        self._end += shift
