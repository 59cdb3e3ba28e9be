"""The collector of two-process DAgger: drive the env with the student a trainer trains, label with a teacher.

The command itself is legged_train/cli/dagger_collect.py (`python dagger_collect.py --help` for its options).
"""

import sys

from legged_train.cli.common import one_line_warnings
from legged_train.cli.dagger_collect import main

if __name__ == "__main__":
    one_line_warnings()
    sys.exit(main())
