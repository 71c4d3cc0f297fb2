"""What the faces that run analyses in pools of processes share: thread settings and warm-up."""

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


def warm_up_analysis(algorithm=None):
    """Analyse a small synthetic study in memory, as a pool process's first job.

    Importing is not enough: lazily loaded codecs, submodules and first-use
    caches made the first 3000 × 2000 study after a start cost ~0.77 s of CPU
    instead of ~0.33 s. The study goes through the same bytes-reading path as
    an upload or a received file.

    Returns
    -------
    radassist.pipeline.Study
        For the face's own warm-up steps (display image, SR).
    """
    from io import BytesIO

    from .pipeline import analyze_study
    from .synth import make_case

    case = make_case(0, "phlebolith", rows=600, columns=400)
    buffer = BytesIO()
    case.dataset.save_as(buffer, enforce_file_format=True)
    return analyze_study(buffer.getvalue(), case.report, algorithm=algorithm)
