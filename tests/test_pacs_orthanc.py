"""``radassist orthanc`` against a real Orthanc: the SR lands in the same study, no loop, resumable."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import httpx
import pydicom
import pytest

from pacs_fixtures import (DCIODVFY, ORTHANC, dciodvfy_errors, free_port, jobs, require, start, stop, wait_for,
                           write_case)

pytestmark = pytest.mark.filterwarnings("ignore")
SR_CLASSES = {"1.2.840.10008.5.1.4.1.1.88.33", "1.2.840.10008.5.1.4.1.1.88.22", "1.2.840.10008.5.1.4.1.1.88.11"}


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    require(ORTHANC)
    tmp = tmp_path_factory.mktemp("orthanc")
    http_port, dicom_port = free_port(), free_port()
    config = {
        "Name": "radassist-test", "HttpPort": http_port, "DicomPort": dicom_port, "DicomAet": "ORTHANC",
        "StorageDirectory": str(tmp / "storage"), "IndexDirectory": str(tmp / "index"),
        "RemoteAccessAllowed": False, "AuthenticationEnabled": False, "StableAge": 1, "Plugins": [],
        "HttpServerEnabled": True, "DicomServerEnabled": False,
    }
    (tmp / "orthanc.json").write_text(json.dumps(config))
    process = start([ORTHANC, tmp / "orthanc.json"], tmp / "orthanc.log")
    url = f"http://127.0.0.1:{http_port}"

    def up():
        try:
            return httpx.get(f"{url}/system", timeout=1).status_code == 200
        except httpx.HTTPError:
            return process.poll() is not None

    wait_for(up, 60, "Orthanc to answer /system")
    assert process.poll() is None, (tmp / "orthanc.log").read_text()
    yield {"url": url, "tmp": tmp}
    stop(process)


def _upload(url, path) -> dict:
    response = httpx.post(f"{url}/instances", content=path.read_bytes(), timeout=30)
    response.raise_for_status()
    return response.json()


def _study_instances(url, study_id) -> list[dict]:
    out = []
    for item in httpx.get(f"{url}/studies/{study_id}/instances", timeout=30).json():
        tags = httpx.get(f"{url}/instances/{item['ID']}/simplified-tags", timeout=30).json()
        out.append({"id": item["ID"], **tags})
    return out


def _stable(url, study_ids) -> bool:
    changes = httpx.get(f"{url}/changes", params={"since": 0, "limit": 1000}, timeout=10).json()["Changes"]
    stable = {c["ID"] for c in changes if c["ChangeType"] == "StableStudy"}
    return set(study_ids) <= stable


def _watch_once(orthanc, spool):
    run = subprocess.run([sys.executable, "-m", "radassist", "orthanc", "--url", orthanc["url"], "--once",
                          "--spool", str(spool), "--poll", "0.3", "--workers", "2"],
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr
    return run


def test_orthanc_watcher_puts_one_sr_into_each_study_and_resumes(orthanc, tmp_path):
    url = orthanc["url"]
    spool = tmp_path / "spool"
    db = spool / "queue.sqlite3"
    # two studies stored before the watcher starts (one compressed)
    uploaded = {}
    for i, (pattern, syntax) in enumerate((("phlebolith", "explicit"), ("popcorn", "jpegls"))):
        ds = write_case(tmp_path / f"s{i}.dcm", 500 + i, pattern, syntax)
        uploaded[ds.SOPInstanceUID] = (_upload(url, tmp_path / f"s{i}.dcm")["ParentStudy"], ds)
    wait_for(lambda: _stable(url, [s for s, _ in uploaded.values()]), 30, "StableStudy for both studies")

    _watch_once(orthanc, spool)
    for sop_uid, (study_id, source) in uploaded.items():
        instances = _study_instances(url, study_id)
        srs = [i for i in instances if i["SOPClassUID"] in SR_CLASSES]
        assert len(srs) == 1, instances
        assert srs[0]["StudyInstanceUID"] == source.StudyInstanceUID
        assert srs[0]["Manufacturer"] == "radassist"
        sr_file = tmp_path / "sr.dcm"
        sr_file.write_bytes(httpx.get(f"{url}/instances/{srs[0]['id']}/file", timeout=30).content)
        sr = pydicom.dcmread(sr_file)
        ref = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
        assert ref.ReferencedSOPInstanceUID == sop_uid
        if os.access(DCIODVFY, os.X_OK):
            assert dciodvfy_errors(sr_file) == []
    rows = jobs(db)
    assert sorted(j["sop_instance_uid"] for j in rows) == sorted(uploaded)  # its own SRs were never queued
    assert all(j["state"] == "done" for j in rows)

    # The SR uploads made each study change again, so StableStudy fires a second time: still one SR each.
    wait_for(lambda: _changes_after_cursor(url, db), 30, "the second StableStudy")
    _watch_once(orthanc, spool)
    for study_id, _ in uploaded.values():
        assert sum(i["SOPClassUID"] in SR_CLASSES for i in _study_instances(url, study_id)) == 1
    assert len(jobs(db)) == 2 and all(j["attempts"] == 1 for j in jobs(db))

    # Restart with a new study: only the new one is analysed, from the saved cursor.
    cursor_before = _cursor(db)
    ds = write_case(tmp_path / "s3.dcm", 503, "stippled", "rle")
    study_id = _upload(url, tmp_path / "s3.dcm")["ParentStudy"]
    wait_for(lambda: _stable(url, [study_id]), 30, "StableStudy for the new study")
    _watch_once(orthanc, spool)
    assert _cursor(db) > cursor_before
    rows = jobs(db)
    assert len(rows) == 3 and rows[-1]["sop_instance_uid"] == ds.SOPInstanceUID and rows[-1]["state"] == "done"
    assert all(j["attempts"] == 1 for j in rows)
    assert sum(i["SOPClassUID"] in SR_CLASSES for i in _study_instances(url, study_id)) == 1


def _cursor(db) -> int:
    con = sqlite3.connect(db)
    try:
        return int(con.execute("SELECT value FROM cursors").fetchone()[0])
    finally:
        con.close()


def _changes_after_cursor(url, db) -> bool:
    since = _cursor(db)
    changes = httpx.get(f"{url}/changes", params={"since": since, "limit": 1000}, timeout=10).json()["Changes"]
    return sum(c["ChangeType"] == "StableStudy" for c in changes) >= 2


def test_batch_over_orthanc_analyses_its_images_and_not_the_reports(orthanc, tmp_path):
    url = orthanc["url"]
    write_case(tmp_path / "b.dcm", 520, "arterial", "j2k")
    _upload(url, tmp_path / "b.dcm")
    images = set()
    for instance_id in httpx.get(f"{url}/instances", timeout=30).json():
        tags = httpx.get(f"{url}/instances/{instance_id}/simplified-tags", timeout=30).json()
        if tags["SOPClassUID"] not in SR_CLASSES:
            images.add(tags["SOPInstanceUID"])
    run = subprocess.run([sys.executable, "-m", "radassist", "batch", "--orthanc", url, "--spool", str(tmp_path / "s"),
                          "-o", str(tmp_path / "out"), "--no-progress", "-j", "2"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert {line["sop_instance_uid"] for line in lines} == images  # every image, none of the SRs
    assert all(line["state"] == "done" for line in lines)
    assert (tmp_path / "out" / "summary.csv").read_text().count("\n") == len({line["study_uid"] for line in lines}) + 1
