"""The benchmark's "tap": writes a pre-generated Singer file to stdout, whatever its arguments.

Usage: replay_tap.py FILE [tap arguments, ignored]
"""

import shutil
import sys

with open(sys.argv[1], "rb") as source:
    shutil.copyfileobj(source, sys.stdout.buffer, 1 << 20)
