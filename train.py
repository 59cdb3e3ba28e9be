"""Train a registered task: ``python train.py --task go1_flat``.

The command itself is legged_train/cli/train.py (`python train.py --help` for its options).
"""

import sys

from legged_train.cli.common import one_line_warnings
from legged_train.cli.train import main

if __name__ == "__main__":
    one_line_warnings()
    sys.exit(main())
