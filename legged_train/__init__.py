"""legged-train: legged-robot locomotion RL on PyTorch and MuJoCo.

Submodules are imported where used (``legged_train.algorithms.ppo``,
``legged_train.runners.on_policy_runner``...) so importing the package stays cheap.
"""

__version__ = "0.1.0"
