"""``python -m narwhal ARGS``: runs the native binary with ARGS, embedding this interpreter."""

import os
import sys

from narwhal import binary


def main():
    exe = binary()
    # `python -m` names the interpreter, so it goes first as --python: a --python among ARGS
    # comes later and still wins, as the last value of a flag does.
    os.execv(exe, [exe, "--python", sys.executable, *sys.argv[1:]])


if __name__ == "__main__":
    main()
