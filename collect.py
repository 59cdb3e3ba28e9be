"""Collect demonstrations from a trained run: ``python collect.py --task go1_flat --save-dir data/go1_demos``.

The command itself is legged_train/cli/collect.py (`python collect.py --help` for its options).
"""

import sys

from legged_train.cli.common import one_line_warnings
from legged_train.cli.collect import main

if __name__ == "__main__":
    one_line_warnings()
    sys.exit(main())
