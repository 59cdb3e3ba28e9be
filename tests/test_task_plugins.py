"""Own tasks without editing the package: `get_task("module:attribute")` on a real module written to
a temporary directory, and `legged_train.tasks` entry points read by importlib.metadata from a real
*.dist-info directory on sys.path (what pip writes when it installs a plugin)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from legged_train.envs.legged.env import make_legged_env
from legged_train.tasks import registry
from legged_train.tasks.registry import ENTRY_POINT_GROUP, UnknownTaskError, get_task, list_tasks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A user's task module: the Go1 configs, small, under other names, in every form an attribute may take.
USER_TASKS = '''
"""My own tasks, outside the legged-train package."""
from legged_train.envs.legged.env import make_legged_env
from legged_train.tasks import Task, register_task
from legged_train.tasks.go1.flat import go1_flat_env, go1_flat_train


def small_env():
    cfg = go1_flat_env()
    cfg.num_envs, cfg.sim.num_threads = 2, 1
    return cfg


register_task("{registered}", small_env, go1_flat_train, make_legged_env)


def small_go1():
    return Task(name="mine", env_cfg=small_env(), train_cfg=go1_flat_train(), make_env=make_legged_env)


SMALL_GO1 = (small_env, go1_flat_train, make_legged_env)
STATIC_GO1 = Task(name="static", env_cfg=small_env(), train_cfg=go1_flat_train(), make_env=make_legged_env)
REGISTERED = "{registered}"
NOT_A_TASK = 42


def returns_a_config():
    return small_env()
'''


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A private copy of the registry, plugins not yet loaded, tmp_path on sys.path; the test's
    modules are forgotten afterwards."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("lt_test_")]:
        del sys.modules[name]


def write_module(directory, name: str, source: str) -> None:
    (directory / f"{name}.py").write_text(textwrap.dedent(source))


@pytest.mark.parametrize("attribute", ["small_go1", "SMALL_GO1", "STATIC_GO1", "REGISTERED"])
def test_a_module_attribute_is_a_task(sandbox, attribute):
    write_module(sandbox, "lt_test_user_tasks", USER_TASKS.format(registered="go1_small"))
    reference = f"lt_test_user_tasks:{attribute}"
    task = get_task(reference)
    # Named by the reference, so that play.py --task <reference> finds it again.
    assert task.name == reference
    assert task.env_cfg.num_envs == 2 and type(task.train_cfg).__name__ == "PPOConfig" and task.make_env is make_legged_env
    # Every get_task hands out fresh configs the caller may edit.
    task.env_cfg.num_envs = 99
    assert get_task(reference).env_cfg.num_envs == 2
    # Importing the module registered its own task under its name.
    assert "go1_small" in list_tasks() and get_task("go1_small").env_cfg.num_envs == 2


def test_a_users_task_builds_and_steps_its_env(sandbox):
    write_module(sandbox, "lt_test_user_tasks", USER_TASKS.format(registered="go1_small"))
    task = get_task("lt_test_user_tasks:small_go1")
    env = task.make_env(task.env_cfg, "cpu")
    obs, reward, dones, _ = env.step(torch.zeros(2, env.num_actions))
    assert obs.shape == (2, env.num_obs) and torch.isfinite(obs).all() and reward.shape == (2,)


def test_bad_references_raise_one_line_unknown_task_errors(sandbox):
    write_module(sandbox, "lt_test_user_tasks", USER_TASKS.format(registered="go1_small"))
    cases = {
        "lt_test_missing.tasks:go": r"task 'lt_test_missing.tasks:go': no module named 'lt_test_missing.tasks' \(it must be installed or on sys.path",
        "lt_test_user_tasks:walk": r"module 'lt_test_user_tasks' has no attribute 'walk'; expected a zero-argument function returning a Task",
        "lt_test_user_tasks:NOT_A_TASK": r"task 'lt_test_user_tasks:NOT_A_TASK' is a int; expected a zero-argument function",
        "lt_test_user_tasks:returns_a_config": r"returned a LeggedEnvConfig; expected a Task",
        "lt_test_user_tasks:": r"must look like 'package.module:attribute'",
    }
    for reference, message in cases.items():
        with pytest.raises(UnknownTaskError, match=message) as error:
            get_task(reference)
        assert isinstance(error.value, KeyError) and "\n" not in str(error.value)  # train.py reports KeyErrors in one line


def test_a_module_that_fails_on_its_own_import_shows_that_error(sandbox):
    # Not "unknown task": the module exists, its dependency does not. The real error must surface.
    write_module(sandbox, "lt_test_broken_tasks", "import lt_test_not_installed_dependency\n")
    with pytest.raises(ModuleNotFoundError, match="lt_test_not_installed_dependency"):
        get_task("lt_test_broken_tasks:task")


def write_plugin(directory, distribution: str, entry_points: str) -> None:
    """What pip leaves in site-packages for an installed distribution with entry points."""
    info = directory / f"{distribution}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{textwrap.dedent(entry_points)}")


def test_entry_point_plugins_register_their_tasks_lazily(sandbox):
    write_module(sandbox, "lt_test_plugin_tasks", USER_TASKS.format(registered="plugin_dog"))
    write_plugin(sandbox, "lt_test_plugin", """\
        dogs = lt_test_plugin_tasks
        small_dog = lt_test_plugin_tasks:small_go1
        broken = lt_test_no_such_plugin_module
    """)
    assert "plugin_dog" not in registry._REGISTRY and "lt_test_plugin_tasks" not in sys.modules
    get_task("go1_flat")  # a known name does not load plugins
    assert "lt_test_plugin_tasks" not in sys.modules
    # The first unknown name loads every plugin; the broken one is skipped with a warning naming it.
    with pytest.warns(UserWarning, match=r"skipping the task plugin entry point 'broken' = 'lt_test_no_such_plugin_module'"):
        task = get_task("plugin_dog")
    assert task.name == "plugin_dog" and task.env_cfg.num_envs == 2
    # An entry point naming an attribute is a task under the entry point's name.
    assert get_task("small_dog").name == "small_dog" and get_task("small_dog").env_cfg.num_envs == 2
    assert {"plugin_dog", "small_dog", "go1_flat"} <= set(list_tasks())
    with pytest.raises(UnknownTaskError, match=r"unknown task 'cat'; registered tasks: .*plugin_dog.*small_dog"):
        get_task("cat")


def test_list_tasks_loads_plugins(sandbox):
    write_module(sandbox, "lt_test_plugin_tasks", USER_TASKS.format(registered="plugin_dog"))
    write_plugin(sandbox, "lt_test_plugin", "dogs = lt_test_plugin_tasks\n")
    assert "plugin_dog" in list_tasks()


def test_train_lists_plugin_tasks_and_reports_bad_references(sandbox):
    # The command line, end to end: a plugin installed on PYTHONPATH shows in train.py --list.
    write_module(sandbox, "lt_test_plugin_tasks", USER_TASKS.format(registered="plugin_dog"))
    write_plugin(sandbox, "lt_test_plugin", "dogs = lt_test_plugin_tasks\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(sandbox), ROOT, os.environ.get("PYTHONPATH", "")])}
    listed = subprocess.run([sys.executable, "train.py", "--list"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert "plugin_dog" in listed.stdout.split() and "go1_flat" in listed.stdout.split()
    bad = subprocess.run([sys.executable, "train.py", "--task", "lt_test_plugin_tasks:walk"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "module 'lt_test_plugin_tasks' has no attribute 'walk'" in bad.stdout + bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_task_reusing_go1_flat_configs_logs_under_its_own_name(sandbox):
    # Item 10 of the reliability issue: same training config, another task -> another folder, and
    # go1_flat's replay refuses the run.
    write_module(sandbox, "lt_test_own_tasks", USER_TASKS.format(registered="own_dog"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(sandbox), ROOT, os.environ.get("PYTHONPATH", "")])}
    log_root = sandbox / "logs"
    tiny = ["--max-iterations", "1", "--set", "train.num_steps_per_env=4", "train.actor_cfg.hidden_dims=[16]",
            "train.critic_cfg.hidden_dims=[16]", "train.torch_threads=1"]
    trained = subprocess.run([sys.executable, "train.py", "--task", "lt_test_own_tasks:small_go1", "--log-root", str(log_root),
                              *tiny], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert trained.returncode == 0, trained.stderr
    assert os.listdir(log_root) == ["lt_test_own_tasks.small_go1"]
    (run_dir,) = os.listdir(log_root / "lt_test_own_tasks.small_go1")
    replay = subprocess.run([sys.executable, "play.py", "--task", "go1_flat", "--log-root", str(log_root), "--load-run",
                             str(log_root / "lt_test_own_tasks.small_go1" / run_dir), "--no-export"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert replay.returncode == 2 and "Traceback" not in replay.stderr
    assert "belongs to a run of task 'lt_test_own_tasks:small_go1', not 'go1_flat'" in replay.stderr
