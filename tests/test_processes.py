"""Analysis pools start their processes with one numerical thread each, unless told otherwise."""

from __future__ import annotations

from radassist.processes import NUMERIC_THREAD_VARIABLES, one_numeric_thread_per_process


def test_unset_thread_counts_become_one_and_an_administrators_value_is_kept(monkeypatch):
    for name in NUMERIC_THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    one_numeric_thread_per_process()
    import os

    assert os.environ["OMP_NUM_THREADS"] == "1"
    assert os.environ["MKL_NUM_THREADS"] == "1"
    assert os.environ["OPENBLAS_NUM_THREADS"] == "4"
