"""Settings shared by the faces that run analyses in several processes."""

from __future__ import annotations

import os

#: Thread-pool sizes of the numerical libraries (OpenMP, OpenBLAS, MKL).
NUMERIC_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def one_numeric_thread_per_process() -> None:
    """Let analysis processes started from now on use one numerical thread each.

    A pool already runs one analysis per core; each process also starting a
    thread per core in its linear-algebra library oversubscribes the cores
    (on two cores, two workers ran 1.6-1.75x one worker's throughput, and 2x
    with one thread each). Spawned processes read these variables when they
    import NumPy. Values an administrator has set are kept.
    """
    for name in NUMERIC_THREAD_VARIABLES:
        os.environ.setdefault(name, "1")
