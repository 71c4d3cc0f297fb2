"""``radassist batch``: a folder archive, in parallel, resumable, JSONL + CSV; and on a Dask LocalCluster."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pydicom
import pytest

from pacs_fixtures import write_case
from radassist.pacs.batch import run_batch
from radassist.pacs.queue import JobQueue
from radassist.pacs.workers import HookSettings

pytestmark = pytest.mark.filterwarnings("ignore")
PATIENT = "DOE^JANE"


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """Two studies of two images, one single-image study, a chest radiograph, an SR and a text file."""
    folder = tmp_path_factory.mktemp("archive")
    uids = {}
    for i, pattern in enumerate(("phlebolith", "popcorn", "none", "stippled", "arterial")):
        study = f"1.2.826.0.1.3680043.8.498.77{i // 2}"  # images 0+1 and 2+3 share a study
        ds = write_case(folder / f"study{i // 2}" / f"img{i}.dcm", 600 + i, pattern,
                        ("explicit", "rle")[i % 2], StudyInstanceUID=study, PatientName=PATIENT)
        uids[ds.SOPInstanceUID] = study
    chest = write_case(folder / "chest.dcm", 610, "none", BodyPartExamined="CHEST", PatientName=PATIENT)
    uids[chest.SOPInstanceUID] = chest.StudyInstanceUID
    (folder / "NOTES").write_text("not a DICOM file\n")
    return folder, uids


def _settings(tmp_path) -> HookSettings:
    return HookSettings(db_path=tmp_path / "spool" / "queue.sqlite3", results_dir=tmp_path / "spool" / "results")


def _jsonl(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_batch_over_a_folder_writes_jsonl_and_a_csv_per_study_and_resumes(archive, tmp_path):
    folder, uids = archive
    settings = _settings(tmp_path)
    summary = run_batch(settings, folder=folder, output_dir=tmp_path / "out", workers=2, progress=False)
    assert (summary.total, summary.done, summary.skipped, summary.failed) == (7, 5, 1, 1)
    assert summary.analysed_now == 7 and summary.already_done == 0

    lines = {line["sop_instance_uid"]: line for line in _jsonl(summary.jsonl_path)}
    assert set(uids) < set(lines)
    for uid in uids:
        assert lines[uid]["result"]["study"]["sop_instance_uid"] == uid
    chest = next(line for line in lines.values() if line["state"] == "skipped")
    assert "CHEST" in chest["error"]
    junk = next(line for line in lines.values() if line["state"] == "failed")
    assert junk["sop_instance_uid"].startswith("file:") and junk["result"] is None

    rows = list(csv.DictReader(summary.csv_path.open()))
    by_study = {row["study_instance_uid"]: row for row in rows}
    assert len(rows) == 5  # 3 leg studies, the chest study, the junk file
    two_images = by_study["1.2.826.0.1.3680043.8.498.770"]
    assert two_images["images"] == "2" and two_images["states"] == "done;done"
    found = [lines[u]["result"] for u, s in uids.items() if s == "1.2.826.0.1.3680043.8.498.770"]
    expected_actions = [r["primary_action"] for r in found]
    assert two_images["primary_action"] in expected_actions
    from radassist.model import ACTION_ORDER, PATTERN_SIGNIFICANCE

    assert two_images["primary_action"] == min(expected_actions, key=ACTION_ORDER.index)
    patterns = {p for r in found for p in r["image"]["patterns"]}
    assert two_images["primary_pattern"] == next((p for p in PATTERN_SIGNIFICANCE if p in patterns), "none")
    for text in (summary.csv_path.read_text(), summary.jsonl_path.read_text()):
        assert "DOE" not in text and "JANE" not in text  # no patient names


    # Run again: nothing that is done is analysed again (the failed file is retried).
    again = run_batch(settings, folder=folder, output_dir=tmp_path / "out", workers=2, progress=False)
    assert again.analysed_now == 1 and again.already_done == 6
    assert _jsonl(again.jsonl_path) and len(_jsonl(again.jsonl_path)) == 7


def test_batch_resumes_a_job_interrupted_mid_run(archive, tmp_path):
    folder, uids = archive
    settings = _settings(tmp_path)
    # a previous run died while analysing the first image
    from radassist.rules import load_algorithm

    queue = JobQueue(settings.db_path, load_algorithm().version)
    first = next(iter(uids))
    path = next(p for p in folder.rglob("*.dcm") if pydicom.dcmread(p).SOPInstanceUID == first)
    queue.add(first, uids[first], path)
    assert queue.claim(worker_pid=999999).state == "running"
    queue.close()
    summary = run_batch(settings, folder=folder, output_dir=tmp_path / "out", workers=2, progress=False)
    job = JobQueue(settings.db_path, load_algorithm().version).job(first)
    assert job.state == "done" and job.attempts == 2
    assert summary.total == 7


def test_batch_on_a_dask_local_cluster_matches_the_local_run(archive, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    folder, uids = archive
    local = run_batch(_settings(tmp_path / "local"), folder=folder, output_dir=tmp_path / "local" / "out",
                      workers=2, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = run_batch(_settings(tmp_path / "dask"), folder=folder, output_dir=tmp_path / "dask" / "out",
                           dask_scheduler=cluster.scheduler_address, progress=False)
    assert (remote.done, remote.skipped, remote.failed) == (local.done, local.skipped, local.failed)

    def digest(path):
        return {line["sop_instance_uid"]: (line["state"], line["result"] and line["result"]["image"]["patterns"],
                                           line["result"] and line["result"]["primary_action"])
                for line in _jsonl(path)}

    assert digest(remote.jsonl_path) == digest(local.jsonl_path)


def test_batch_command_line(archive, tmp_path):
    folder, _ = archive
    run = subprocess.run([sys.executable, "-m", "radassist", "batch", str(folder), "--spool", str(tmp_path / "s"),
                          "-o", str(tmp_path / "out"), "--no-progress", "--sr", "-j", "2"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 6, run.stderr  # one file failed (not DICOM): exit 6, like analyze
    assert "5 done, 1 skipped, 1 failed" in run.stdout
    assert len(list((tmp_path / "s" / "results" / "sr").glob("*.dcm"))) == 5
    assert len(list(folder.rglob("*.dcm"))) == 6  # the archive is read, never cleaned up
    usage = subprocess.run([sys.executable, "-m", "radassist", "batch", str(folder), "--orthanc", "http://x"],
                           capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and "one of them" in usage.stderr
