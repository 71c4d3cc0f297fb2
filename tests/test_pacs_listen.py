"""``radassist listen`` against real dcmtk peers: storescu/dcmsend in, storescp out, dciodvfy on the SR."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate

from pacs_fixtures import (DCMSEND, ECHOSCU, STORESCP, STORESCU, dciodvfy_errors, free_port, jobs,
                           received_srs, require, sends, sr_source_uid, start_listener, start_storescp, stop,
                           wait_for, write_case)

pytestmark = pytest.mark.filterwarnings("ignore")

SYNTAXES = ("explicit", "jpegls", "j2k", "rle", "deflate")


def _send(files, port, tool=DCMSEND, calling="DCMSEND", check=True):
    if tool == DCMSEND:
        args = [DCMSEND, "-aet", calling, "-aec", "RADASSIST", "-dn", "127.0.0.1", str(port), *map(str, files)]
    else:
        args = [STORESCU, "-aet", calling, "-aec", "RADASSIST", "127.0.0.1", str(port), *map(str, files)]
    run = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if check:
        assert run.returncode == 0, run.stdout + run.stderr
    return run


def _echo(port, calling="ECHOSCU") -> bool:
    run = subprocess.run([ECHOSCU, "-aet", calling, "-aec", "RADASSIST", "127.0.0.1", str(port)],
                         capture_output=True, text=True, timeout=30)
    return run.returncode == 0


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """A listener (2 workers, accepting only dcmtk's AE titles) and a storescp destination."""
    require(STORESCU, STORESCP, DCMSEND, ECHOSCU)
    tmp = tmp_path_factory.mktemp("listen")
    dest_port, port = free_port(), free_port()
    dest = start_storescp(tmp / "dest", dest_port, tmp / "storescp.log")
    reports = tmp / "reports"
    reports.mkdir()
    listener = start_listener(tmp, port, destination=f"DEST@127.0.0.1:{dest_port}",
                              extra=["--allow", "DCMSEND,STORESCU", "--allow", "ECHOSCU", "--reports", reports,
                                     "--gsps"])
    yield {"tmp": tmp, "port": port, "db": tmp / "spool" / "queue.sqlite3", "dest": tmp / "dest",
           "reports": reports, "listener": listener}
    stop(listener)
    stop(dest)


def test_studies_in_every_syntax_come_back_as_valid_srs(service):
    tmp, port = service["tmp"], service["port"]
    assert _echo(port)
    sources = {}
    patterns = ("phlebolith", "popcorn", "stippled", "none", "arterial")
    for i, syntax in enumerate(SYNTAXES):
        ds = write_case(tmp / "in" / f"{syntax}.dcm", 200 + i, patterns[i], syntax, AccessionNumber=f"ACC{i}")
        sources[ds.SOPInstanceUID] = ds
    (service["reports"] / "ACC1.txt").write_text("Clinical indication: r/o DVT, painful swollen calf.")
    _send([tmp / "in" / "explicit.dcm"], port, tool=STORESCU, calling="STORESCU")
    _send([tmp / "in" / f"{s}.dcm" for s in SYNTAXES[1:]], port)

    wait_for(lambda: sum(s["state"] == "sent" for s in sends(service["db"])) >= 2 * len(sources), 120,
             "an SR and a presentation state per study sent to storescp")
    rows = {j["sop_instance_uid"]: j for j in jobs(service["db"])}
    assert {uid: rows[uid]["state"] for uid in sources} == {uid: "done" for uid in sources}
    assert not any(os.path.exists(rows[uid]["path"]) for uid in sources)  # the spool does not grow
    wait_for(lambda: len(received_srs(service["dest"])) >= 2 * len(sources), 30, "the files at storescp")
    files = sorted(p for p in service["dest"].iterdir() if p.is_file())
    objects = [(path, pydicom.dcmread(path)) for path in files]
    srs = [(path, ds) for path, ds in objects if ds.Modality == "SR"]
    states = [(path, ds) for path, ds in objects if ds.Modality == "PR"]
    assert sorted(sr_source_uid(sr) for _, sr in srs) == sorted(sources)
    assert sorted(ds.ReferencedSeriesSequence[0].ReferencedImageSequence[0].ReferencedSOPInstanceUID
                  for _, ds in states) == sorted(sources)
    for path, ds in states:
        assert dciodvfy_errors(path) == [], path
    for path, sr in srs:
        source = sources[sr_source_uid(sr)]
        assert sr.StudyInstanceUID == source.StudyInstanceUID
        assert sr.SeriesInstanceUID != source.SeriesInstanceUID
        assert sr.VerificationFlag == "UNVERIFIED"
        assert rows[source.SOPInstanceUID]["sr_uid"] == sr.SOPInstanceUID
        assert dciodvfy_errors(path) == [], path
    # the report text: the sidecar for ACC1, none for the others
    result = json.loads(open(rows[sources_by_acc(sources, "ACC1")]["result_path"]).read())
    assert result["report_source"] == "file:ACC1.txt"
    assert "dvt_suspected" in [c["concept"] for c in result["text"]["concepts"]]
    other = json.loads(open(rows[sources_by_acc(sources, "ACC0")]["result_path"]).read())
    assert other["report_source"] == "none"


def sources_by_acc(sources, accession):
    return next(uid for uid, ds in sources.items() if ds.AccessionNumber == accession)


def test_the_same_instance_twice_is_analysed_once(service):
    tmp, port = service["tmp"], service["port"]
    path = tmp / "dup" / "dup.dcm"
    ds = write_case(path, 300, "arterial")
    _send([path], port)
    wait_for(lambda: any(j["sop_instance_uid"] == ds.SOPInstanceUID and j["state"] == "done"
                         for j in jobs(service["db"])), 60, "the first analysis")
    _send([path], port)
    _send([path], port)
    assert _echo(port)  # the service is up and has taken both associations
    rows = [j for j in jobs(service["db"]) if j["sop_instance_uid"] == ds.SOPInstanceUID]
    assert len(rows) == 1 and rows[0]["attempts"] == 1 and rows[0]["state"] == "done"
    assert sum(s["sr_uid"] == rows[0]["sr_uid"] for s in sends(service["db"])) == 1


def test_junk_is_recorded_and_never_stops_the_service(service):
    tmp, port, db = service["tmp"], service["port"], service["db"]
    # 1. bytes that are no DICOM association at all
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(range(256)) * 8)
        sock.settimeout(5)
        try:
            sock.recv(1024)
        except (socket.timeout, ConnectionError):
            pass
    assert _echo(port)
    # 2. a calling AE title that is not allowed is rejected
    assert not _echo(port, calling="INTRUDER")
    # 3. an image whose compressed pixel data cannot be decoded
    broken = write_case(tmp / "junk" / "broken.dcm", 301, "popcorn", "jpegls")
    rng = np.random.default_rng(0)
    broken.PixelData = encapsulate([b"\xff\xd8\xff\xf7" + rng.bytes(5000)])
    broken.save_as(tmp / "junk" / "broken.dcm", enforce_file_format=True)
    # 4. a chest radiograph
    chest = write_case(tmp / "junk" / "chest.dcm", 302, "none", BodyPartExamined="CHEST",
                       StudyDescription="XR CHEST PA")
    _send([tmp / "junk" / "broken.dcm", tmp / "junk" / "chest.dcm"], port)

    def final(uid):
        return next((j for j in jobs(db) if j["sop_instance_uid"] == uid and j["state"] not in ("received", "running")),
                    None)

    failed = wait_for(lambda: final(broken.SOPInstanceUID), 60, "the broken image's job")
    skipped = wait_for(lambda: final(chest.SOPInstanceUID), 60, "the chest radiograph's job")
    assert failed["state"] == "failed" and "cannot be decoded" in failed["error"]
    assert skipped["state"] == "skipped" and "CHEST" in skipped["error"]
    assert failed["sr_uid"] is None and skipped["sr_uid"] is None
    # the spool keeps the failed copy for inspection and drops the one that was dealt with
    assert os.path.exists(failed["path"]) and not os.path.exists(skipped["path"])
    assert service["listener"].poll() is None and _echo(port)


def _children(pid: int) -> list[int]:
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as handle:
            out += [int(p) for p in handle.read().split()]
    return out


def test_sigkill_of_the_receiver_or_a_worker_loses_nothing_and_duplicates_nothing(tmp_path):
    """A burst of studies; kill -9 a worker mid-job, then the receiver itself; restart; every study done once."""
    require(DCMSEND, STORESCP)
    dest_port, port = free_port(), free_port()
    dest = start_storescp(tmp_path / "dest", dest_port, tmp_path / "storescp.log")
    db = tmp_path / "spool" / "queue.sqlite3"
    files = []
    uids = set()
    for i in range(10):
        ds = write_case(tmp_path / "burst" / f"s{i:02d}.dcm", 400 + i, ("phlebolith", "popcorn", "none")[i % 3])
        files.append(tmp_path / "burst" / f"s{i:02d}.dcm")
        uids.add(ds.SOPInstanceUID)
    listener = start_listener(tmp_path, port, destination=f"DEST@127.0.0.1:{dest_port}")
    try:
        _send(files[:6], port)
        # kill -9 the worker that is analysing a study
        running = wait_for(lambda: next((j for j in jobs(db) if j["state"] == "running"), None), 60, "a running job")
        assert running["worker_pid"] in _children(listener.pid)
        os.kill(running["worker_pid"], signal.SIGKILL)
        # then, with studies still arriving and queued, kill -9 the whole receiver
        sender = subprocess.Popen([DCMSEND, "-aec", "RADASSIST", "-dn", "127.0.0.1", str(port), *map(str, files[6:])],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: len(jobs(db)) >= 8, 60, "most of the burst received")
        os.killpg(listener.pid, signal.SIGKILL)
        listener.wait(10)
        sender.wait(60)
        states_at_kill = {j["sop_instance_uid"]: j["state"] for j in jobs(db)}
        assert set(states_at_kill.values()) - {"done"}, "the kill came too late to test recovery"

        listener = start_listener(tmp_path, port, destination=f"DEST@127.0.0.1:{dest_port}")
        _send(files, port)  # the sending PACS retries what it is not sure about: duplicates arrive
        wait_for(lambda: len(jobs(db)) == 10 and all(j["state"] == "done" for j in jobs(db))
                 and all(s["state"] == "sent" for s in sends(db)), 120, "every study done and its SR sent")
    finally:
        stop(listener)
        stop(dest)
    rows = jobs(db)
    assert sorted(j["sop_instance_uid"] for j in rows) == sorted(uids)  # each once
    killed = next(j for j in rows if j["id"] == running["id"])
    assert killed["attempts"] >= 2  # it ran again after its worker died
    srs = received_srs(tmp_path / "dest")
    assert sorted(sr_source_uid(sr) for sr in srs) == sorted(uids)  # exactly one SR per study
    assert len({sr.SOPInstanceUID for sr in srs}) == 10
    assert len(sends(db)) == 10


def test_an_sr_the_destination_cannot_take_yet_is_retried_until_it_arrives(tmp_path):
    require(DCMSEND, STORESCP)
    dest_port, port = free_port(), free_port()
    db = tmp_path / "spool" / "queue.sqlite3"
    listener = start_listener(tmp_path, port, destination=f"DEST@127.0.0.1:{dest_port}", workers=1)
    dest = None
    try:
        ds = write_case(tmp_path / "in" / "a.dcm", 700, "phlebolith")
        _send([tmp_path / "in" / "a.dcm"], port)
        # the destination is down: the send fails, is kept, and waits longer each time
        wait_for(lambda: any(s["attempts"] >= 2 for s in sends(db)), 60, "two failed send attempts")
        row = sends(db)[0]
        assert row["state"] == "pending" and "no association" in row["error"]
        assert jobs(db)[0]["state"] == "done"  # the analysis is not redone for a send
        dest = start_storescp(tmp_path / "dest", dest_port, tmp_path / "storescp.log")
        wait_for(lambda: sends(db)[0]["state"] == "sent", 60, "the retried send")
    finally:
        stop(listener)
        if dest:
            stop(dest)
    srs = received_srs(tmp_path / "dest")
    assert [sr_source_uid(sr) for sr in srs] == [ds.SOPInstanceUID]
