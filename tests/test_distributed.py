"""Data-parallel PPO: two gloo ranks on the CPU (the same code runs NCCL ranks on GPUs)."""

from __future__ import annotations

import os
import subprocess
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from legged_train.networks import EmpiricalNormalization

sys.path.insert(0, os.path.dirname(__file__))
from toy_envs import PointMassEnv, small_cfg  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ITERATIONS = 4


def train_rank(rank: int, world_size: int, store_path: str, out_dir: str) -> None:
    """One rank: its own env seed and policy seed, PPO over gloo; writes what the test compares."""
    from legged_train.runners.on_policy_runner import OnPolicyRunner

    dist.init_process_group("gloo", init_method=f"file://{store_path}", rank=rank, world_size=world_size)
    torch.set_num_threads(1)
    torch.manual_seed(100 + rank)  # different initial networks: the broadcast must make them equal
    env = PointMassEnv(num_envs=8, seed=rank)
    cfg = small_cfg(num_learning_epochs=2, num_mini_batches=2, schedule="adaptive", eval_interval=0)
    runner = OnPolicyRunner(env, cfg=cfg, log_dir=os.path.join(out_dir, "run"))
    rollouts = []  # what the normalizers learned from, per iteration

    def record(runner_, *_):
        rollouts.append((runner_.alg.storage.obs.flatten(0, 1).clone(), runner_.alg.storage.critic_obs.flatten(0, 1).clone()))

    runner.add_callback("pre_update", record)
    runner.learn(ITERATIONS)
    torch.save(
        {
            "actor": runner.alg.actor.state_dict(),
            "critic": runner.alg.critic.state_dict(),
            "learning_rate": runner.alg.learning_rate,
            "rollouts": rollouts,
            "total_timesteps": runner.total_timesteps,
            "log_dir": runner.log_dir,
        },
        os.path.join(out_dir, f"rank{rank}.pt"),
    )
    dist.destroy_process_group()


def test_two_gloo_ranks_stay_one_model(tmp_path):
    mp.spawn(train_rank, args=(2, str(tmp_path / "store"), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    for name in ("actor", "critic"):
        for key, value in ranks[0][name].items():
            assert torch.equal(value, ranks[1][name][key]), f"{name}.{key} differs between the ranks"
    assert ranks[0]["learning_rate"] == ranks[1]["learning_rate"]
    # The ranks saw different data: different seeds.
    assert not torch.equal(ranks[0]["rollouts"][0][0], ranks[1]["rollouts"][0][0])
    # Normalizer statistics: those of one process that saw both ranks' rollouts.
    for group, index in (("actor", 0), ("critic", 1)):
        reference = EmpiricalNormalization(ranks[0]["rollouts"][0][index].shape[1])
        for it in range(ITERATIONS):
            reference.update(torch.cat([ranks[0]["rollouts"][it][index], ranks[1]["rollouts"][it][index]]))
        saved = {k.removeprefix("obs_normalizer."): v for k, v in ranks[0][group].items() if k.startswith("obs_normalizer.")}
        assert int(saved["count"]) == int(reference.count) == ITERATIONS * 2 * 8 * 8
        assert torch.allclose(saved["mean"], reference.mean, atol=1e-5)
        assert torch.allclose(saved["var"], reference.var, rtol=1e-4, atol=1e-6)
    # Both ranks' env steps are counted; rank 0 alone writes the run.
    assert ranks[0]["total_timesteps"] == ranks[1]["total_timesteps"] == ITERATIONS * 8 * 8 * 2
    assert ranks[0]["log_dir"] is not None and ranks[1]["log_dir"] is None
    assert sorted(os.listdir(tmp_path / "run")).count(f"model_{ITERATIONS}.pt") == 1


def torchrun(*args: str, cwd) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               os.path.join(ROOT, "train.py"), *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_torchrun_trains_go1_flat_on_two_cpu_ranks_and_resumes(tmp_path):
    common = ["--task", "go1_flat", "--distributed", "--num-envs", "8", "--log-root", str(tmp_path),
              "--set", "train.num_steps_per_env=4", "train.eval_interval=0", "env.sim.num_threads=1"]
    first = torchrun(*common, "--max-iterations", "2", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    runs = os.listdir(tmp_path / "go1_flat")
    assert len(runs) == 1, runs  # one run folder: rank 0's
    run_dir = tmp_path / "go1_flat" / runs[0]
    assert (run_dir / "model_2.pt").is_file()
    assert first.stdout.count("run directory:") == 1  # one console
    checkpoint = torch.load(run_dir / "model_2.pt", weights_only=True)
    assert checkpoint["total_timesteps"] == 2 * 4 * 8 * 2  # both ranks' steps

    again = torchrun(*common, "--resume", "--extra-iterations", "1", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert (run_dir / "model_3.pt").is_file()
    assert os.listdir(tmp_path / "go1_flat") == runs


def test_distributed_outside_torchrun_is_one_clear_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "train.py"), "--task", "go1_flat", "--distributed", "--log-root", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("train.py: error: --distributed: RANK, WORLD_SIZE")
    assert "torchrun --nproc_per_node N train.py" in result.stderr
    assert not (tmp_path / "go1_flat").exists()
