"""Replay a trained policy: ``python play.py --task go1_flat [--load-run R] [--checkpoint N] [--video]``.

The command itself is legged_train/cli/play.py (`python play.py --help` for its options).
"""

import sys

from legged_train.cli.common import one_line_warnings
from legged_train.cli.play import main

if __name__ == "__main__":
    one_line_warnings()
    sys.exit(main())
