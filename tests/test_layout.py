"""The package's layout: import names owned by this project, whatever folders the user has."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_trains_from_a_folder_with_its_own_envs_and_tasks_packages(tmp_path):
    # Most RL repositories have envs/ and tasks/ packages; run from such a folder, its own code comes
    # first on sys.path. Ours must never import them in place of legged_train's.
    for name in ("envs", "tasks"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise ImportError('the user\\'s own {name} package was imported')\n")
    argv = ["train.py", "--task", "go1_flat", "--num-envs", "8", "--max-iterations", "1", "--log-root", str(tmp_path / "logs"),
            "--set", "train.num_steps_per_env=4", "train.torch_threads=1", "env.sim.num_threads=1"]
    code = f"import runpy, sys; sys.argv = {argv!r}; runpy.run_path({os.path.join(ROOT, 'train.py')!r}, run_name='__main__')"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = os.listdir(tmp_path / "logs" / "go1_flat")
    assert "model_1.pt" in os.listdir(tmp_path / "logs" / "go1_flat" / run_dir)
