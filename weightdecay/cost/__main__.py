"""``python -m weightdecay.cost``: the measuring process (`weightdecay.cost.runner`)."""

import sys

from weightdecay.cost.runner import worker_main

if __name__ == "__main__":
    sys.exit(worker_main())
