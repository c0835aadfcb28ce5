"""The `vigil` command, one module per command group.

Set here, before any command imports NumPy: Vigil does no linear algebra, and OpenBLAS would otherwise start a
thread per core at NumPy's import (about 0.1 s of CPU for every command that reads a file or serves a page, on a
chair computer as on the central one). A value the user set is kept.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
