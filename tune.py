"""Hyperparameter search with Optuna: ``python tune.py --task go1_amp --trials 20 --iterations 300``.

The command itself is legged_train/cli/tune.py (`python tune.py --help` for its options).
"""

import sys

from legged_train.cli.common import one_line_warnings
from legged_train.cli.tune import main

if __name__ == "__main__":
    one_line_warnings()
    sys.exit(main())
