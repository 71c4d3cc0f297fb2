"""The PACS hook's parts on their own: queue, spool, report text, SR, sender back-off."""

from __future__ import annotations

import copy
import threading

import pydicom
import pytest
from pydicom.dataset import Dataset

from radassist.pacs import codes
from radassist.pacs.queue import MAX_ATTEMPTS, JobQueue
from radassist.pacs.report_text import find_report_text
from radassist.pacs.sender import MAX_BACKOFF_S, Destination, backoff_s
from radassist.pacs.spool import spool_path, write_atomically

from pacs_fixtures import DCIODVFY, dciodvfy_errors, require


# --- queue -------------------------------------------------------------------------


def test_queue_states_and_duplicates(tmp_path):
    q = JobQueue(tmp_path / "q.sqlite3", "1.0")
    assert q.add("1.2.3", "9.9", tmp_path / "a.dcm") == "new"
    assert q.add("1.2.3", "9.9", tmp_path / "a2.dcm") == "duplicate"  # still waiting: one job, newest file
    job = q.claim(worker_pid=111)
    assert (job.sop_instance_uid, job.state, job.attempts, job.path) == ("1.2.3", "running", 1, str(tmp_path / "a2.dcm"))
    assert q.claim(worker_pid=222) is None  # nothing else waiting
    q.finish(job.id, "done", result_path=tmp_path / "r.json", sr_uid="5.5", sends=[("5.5", "sr.dcm", "D@h:1")])
    assert q.add("1.2.3", "9.9", tmp_path / "a.dcm") == "duplicate"  # done stays done
    assert q.claim(worker_pid=111) is None
    assert q.counts()["done"] == 1 and len(q.jobs()) == 1
    # a new algorithm version analyses the same image again
    q2 = JobQueue(tmp_path / "q.sqlite3", "2.0")
    assert q2.add("1.2.3", "9.9", tmp_path / "a.dcm") == "new"
    assert q2.counts()["received"] == 1 and q.counts()["received"] == 0


def test_queue_failed_job_is_requeued_when_sent_again(tmp_path):
    q = JobQueue(tmp_path / "q.sqlite3", "1.0")
    q.add("1.2.3", None, "x")
    job = q.claim(1)
    q.finish(job.id, "failed", error="cannot decode")
    assert q.job("1.2.3").error == "cannot decode"
    assert q.add("1.2.3", None, "y") == "requeued"
    again = q.job("1.2.3")
    assert (again.state, again.attempts, again.error, again.path) == ("received", 0, None, "y")


def test_queue_recovers_interrupted_jobs_and_fails_repeated_crashers(tmp_path):
    q = JobQueue(tmp_path / "q.sqlite3", "1.0")
    for uid in ("1", "2"):
        q.add(uid, None, uid)
    first, second = q.claim(10), q.claim(20)
    # the worker 10 died: only its job goes back
    assert q.release_worker(10) == 1
    assert q.job(first.sop_instance_uid).state == "received"
    assert q.job(second.sop_instance_uid).state == "running"
    # a restart puts every running job back
    assert JobQueue(tmp_path / "q.sqlite3", "1.0").recover_interrupted() == 1
    # a job that kills its worker MAX_ATTEMPTS times is failed, not retried forever
    for _ in range(2 * MAX_ATTEMPTS):
        if q.claim(30) is None:
            break
        q.release_worker(30)
    final = q.jobs()
    assert [j.state for j in final] == ["failed", "failed"]
    assert all(j.attempts == MAX_ATTEMPTS and f"stopped the worker process {MAX_ATTEMPTS} times" in j.error for j in final)


def test_queue_claims_are_exclusive_across_threads(tmp_path):
    path = tmp_path / "q.sqlite3"
    q = JobQueue(path, "1.0")
    for i in range(40):
        q.add(f"1.{i}", None, str(i))
    claimed: list[str] = []
    lock = threading.Lock()

    def take(pid):
        own = JobQueue(path, "1.0")
        while (job := own.claim(pid)) is not None:
            with lock:
                claimed.append(job.sop_instance_uid)

    threads = [threading.Thread(target=take, args=(p,)) for p in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(f"1.{i}" for i in range(40))


def test_send_rows_are_not_duplicated_and_back_off(tmp_path):
    q = JobQueue(tmp_path / "q.sqlite3", "1.0")
    q.add("1", None, "x")
    job = q.claim(1)
    q.finish(job.id, "done", sr_uid="7", sends=[("7", "a.dcm", "D@h:1")])
    q.finish(job.id, "done", sr_uid="7", sends=[("7", "a.dcm", "D@h:1")])  # a re-run after a crash
    assert [s.sr_uid for s in q.due_sends()] == ["7"]
    send = q.due_sends()[0]
    q.mark_send_failed(send.id, "refused", retry_in_s=3600)
    assert q.due_sends() == []  # waits, but is still owed
    assert q.send_counts() == {"pending": 1, "sent": 0}
    assert backoff_s(1, 5) == 5 and backoff_s(3, 5) == 20 and backoff_s(30, 5) == MAX_BACKOFF_S


def test_destination_parsing():
    assert str(Destination.parse("PACS@10.0.0.1:104")) == "PACS@10.0.0.1:104"
    for bad in ("PACS", "PACS@host", "@h:1", "TOOLONGAETITLE12345@h:1"):
        with pytest.raises(ValueError):
            Destination.parse(bad)


# --- spool -------------------------------------------------------------------------


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = spool_path(tmp_path, "1.2.3", "1.2.3.4")
    assert target.name == "1.2.3.4.dcm" and "1.2.3" not in target.parent.name
    write_atomically(target, b"first")
    write_atomically(target, b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temp files left

    with pytest.raises(TypeError):
        write_atomically(target, object())  # a failed write keeps the old file, no debris
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == [target.name]
    assert spool_path(tmp_path, None, "../../etc/passwd").parent.parent == tmp_path


# --- report text -------------------------------------------------------------------


def _header(**attrs) -> Dataset:
    ds = Dataset()
    for k, v in attrs.items():
        setattr(ds, k, v)
    return ds


def test_report_text_sidecar_by_accession_then_study_uid(tmp_path):
    header = _header(AccessionNumber="ACC1", StudyInstanceUID="1.2.3", ReasonForTheRequestedProcedure="r/o DVT")
    (tmp_path / "1.2.3.txt").write_text("by study uid")
    assert find_report_text(header, tmp_path) == ("by study uid", "file:1.2.3.txt")
    (tmp_path / "ACC1.txt").write_text("by accession")
    assert find_report_text(header, tmp_path) == ("by accession", "file:ACC1.txt")
    # no folder configured: the header's indication
    assert find_report_text(header, None) == ("r/o DVT", "dicom:ReasonForTheRequestedProcedure")


def test_report_text_from_dicom_attributes_in_order(tmp_path):
    request = Dataset()
    request.RequestedProcedureDescription = "XR tibia fibula"
    header = _header(AdditionalPatientHistory="calf swelling", ImageComments="marker on skin",
                     RequestAttributesSequence=[request], AccessionNumber="../secret")
    text, source = find_report_text(header, tmp_path)
    assert text == "XR tibia fibula\ncalf swelling\nmarker on skin"
    assert source == "dicom:RequestedProcedureDescription,AdditionalPatientHistory,ImageComments"
    assert find_report_text(_header(StudyComments="  "), tmp_path) == (None, None)


# --- SR ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def analysed():
    from radassist.pipeline import analyze_study
    from radassist.synth import make_case

    case = make_case(101, "popcorn", rows=600, columns=400, transfer_syntax="jpegls")
    report = "Indication: r/o DVT, calf swelling. No chest pain."
    study = analyze_study(case.dataset, report, report_source="file:ACC.txt")
    return case.dataset, study


def _items(ds):
    for item in ds.get("ContentSequence", []):
        yield item
        yield from _items(item)


def _code_values(sr):
    return {(i.ConceptNameCodeSequence[0].CodingSchemeDesignator, i.ConceptNameCodeSequence[0].CodeValue): i
            for i in _items(sr)}


def test_sr_is_in_the_source_study_and_unverified(analysed):
    from radassist.pacs.sr import SR_SERIES_NUMBER, build_sr

    source, study = analysed
    result = study.result
    sr = build_sr(study.image.header, result)
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.33"  # Comprehensive SR
    assert sr.StudyInstanceUID == source.StudyInstanceUID
    assert sr.SeriesInstanceUID != source.SeriesInstanceUID and sr.SeriesNumber == SR_SERIES_NUMBER
    assert sr.VerificationFlag == "UNVERIFIED" and sr.Manufacturer == "radassist"
    assert any(result.algorithm.version in v for v in sr.SoftwareVersions)
    assert sr.PatientID == source.PatientID
    # deterministic: the same image and algorithm give the same SR instance
    again = build_sr(study.image.header, result)
    assert (again.SOPInstanceUID, again.SeriesInstanceUID) == (sr.SOPInstanceUID, sr.SeriesInstanceUID)


def test_sr_content_names_findings_recommendations_and_warnings(analysed):
    from radassist.pacs.sr import build_sr

    source, study = analysed
    result = study.result
    sr = build_sr(study.image.header, result)
    items = list(_items(sr))
    # one image region per cluster, each referencing the source image
    regions = [i for i in items if i.ValueType == "SCOORD"]
    assert len(regions) == len(result.image.clusters) + len(result.image.masses)
    for region in regions:
        ref = region.ContentSequence[0].ReferencedSOPSequence[0]
        assert ref.ReferencedSOPInstanceUID == source.SOPInstanceUID
    pattern_values = [i.ConceptCodeSequence[0] for i in items if i.ValueType == "CODE"
                      and i.ConceptNameCodeSequence[0].CodeValue == codes.concept("calcification_pattern").value]
    expected = [codes.pattern(result.image.primary_pattern)] + [codes.pattern(c.pattern) for c in result.image.clusters]
    assert [(c.CodingSchemeDesignator, c.CodeValue) for c in pattern_values] == \
        [(c.scheme_designator, c.value) for c in expected]
    # each recommendation with its action, urgency, rule ids and rationale
    recs = [i for i in items if i.ValueType == "CODE" and i.ConceptNameCodeSequence[0].CodeValue == "121075"]
    assert [r.ConceptCodeSequence[0].CodeValue for r in recs] == [codes.action(r.action).value
                                                                   for r in result.recommendations]
    for item, rec in zip(recs, result.recommendations):
        texts = [c.TextValue for c in item.ContentSequence if c.ValueType == "TEXT"]
        assert ", ".join(rec.rules) in texts and rec.rationale in texts
    # the text concepts with their status, the report source and the warnings
    concept_items = {i.ConceptNameCodeSequence[0].CodeValue: i.ConceptCodeSequence[0].CodeMeaning
                     for i in items if i.ValueType == "CODE" and i.ConceptNameCodeSequence[0].CodeValue.startswith("C-")}
    assert concept_items == {codes.text_concept(c.concept).value: codes.status(c.status).meaning
                             for c in result.text.concepts}
    assert "dvt_suspected" in [c.concept for c in result.text.concepts]
    texts = [i.TextValue for i in items if i.ValueType == "TEXT"]
    assert "file:ACC.txt" in texts
    assert all(any(w.message in t for t in texts) for w in result.warnings)


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom warns about the invalid values we set on purpose
def test_sr_sanitises_headers_highdicom_would_reject(analysed):
    from radassist.pacs.sr import build_sr

    source, study = analysed
    header = copy.deepcopy(study.image.header)
    header.AccessionNumber = "A" * 40  # SH allows 16
    header.StudyID = "ID\x01with control"
    header.StudyDate = "2020-13-45"  # not a DA
    header.ReferringPhysicianName = "X" * 100
    sr = build_sr(header, study.result)
    assert len(sr.AccessionNumber) <= 16
    assert sr.StudyInstanceUID == source.StudyInstanceUID
    assert not sr.get("StudyDate")
    del header.SOPInstanceUID
    with pytest.raises(ValueError, match="SOPInstanceUID"):
        build_sr(header, study.result)


def test_sr_validates_with_dciodvfy(analysed, tmp_path):
    require(DCIODVFY)
    from radassist.pacs.sr import build_sr

    _, study = analysed
    path = tmp_path / "sr.dcm"
    build_sr(study.image.header, study.result).save_as(path, enforce_file_format=True)
    assert dciodvfy_errors(path) == []
    # the check can fail: a broken SR has errors
    broken = pydicom.dcmread(path)
    del broken.ContentSequence
    del broken.ValueType
    broken.save_as(tmp_path / "broken.dcm")
    assert dciodvfy_errors(tmp_path / "broken.dcm")


def test_local_code_table_is_unique():
    rows = codes.local_code_table()
    local = [(s, v) for s, v, _ in rows if s == codes.LOCAL_SCHEME]
    assert len(local) == len(set(local))
    assert all(meaning for _, _, meaning in rows)


# --- one job -------------------------------------------------------------------------


def test_process_file_outcomes(analysed, tmp_path):
    from radassist.pacs.sr import build_sr
    from radassist.pacs.workers import HookSettings, load_settings_algorithm, process_file

    source, study = analysed
    settings = HookSettings(db_path=tmp_path / "q.sqlite3", results_dir=tmp_path / "results",
                            reports_dir=tmp_path / "reports", outbox_dir=tmp_path / "outbox")
    algorithm = load_settings_algorithm(settings)
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / f"{source.AccessionNumber}.txt").write_text("r/o DVT")
    image = tmp_path / "image.dcm"
    source.save_as(image, enforce_file_format=True)

    done = process_file(image, settings, algorithm)
    assert done.state == "done" and done.error is None
    assert done.result["report_source"] == f"file:{source.AccessionNumber}.txt"
    assert (tmp_path / "outbox" / f"{done.sr_uid}.dcm").read_bytes() == done.sr_path.read_bytes()
    assert pydicom.dcmread(done.sr_path).SOPInstanceUID == done.sr_uid

    # an SR sent back to radassist (or found in an archive) is not an image
    sr_file = tmp_path / "sr.dcm"
    build_sr(study.image.header, study.result).save_as(sr_file, enforce_file_format=True)
    skipped = process_file(sr_file, settings, algorithm)
    assert skipped.state == "skipped" and "not an image" in skipped.error and skipped.sr_path is None

    text_file = tmp_path / "notes.dcm"
    text_file.write_text("hello, not DICOM")
    failed = process_file(text_file, settings, algorithm)
    assert failed.state == "failed" and "DICOM" in failed.error


def test_gsps_outlines_every_cluster_on_the_source_image(analysed, tmp_path):
    require(DCIODVFY)
    from radassist.pacs.pr import LAYER, build_gsps

    source, study = analysed
    result = study.result
    assert result.image.clusters, "the fixture study should have a cluster to outline"
    gsps = build_gsps(study.image.header, result)
    assert gsps.Modality == "PR" and gsps.StudyInstanceUID == source.StudyInstanceUID
    assert gsps.SeriesInstanceUID != source.SeriesInstanceUID
    annotation = gsps.GraphicAnnotationSequence[0]
    assert annotation.GraphicLayer == LAYER
    assert annotation.ReferencedImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    graphics = annotation.GraphicObjectSequence
    assert len(graphics) == len(result.image.clusters) + len(result.image.masses)
    for graphic, cluster in zip(graphics, result.image.clusters):
        points = list(zip(graphic.GraphicData[0::2], graphic.GraphicData[1::2]))
        assert points[0] == points[-1]  # closed
        r0, c0, r1, c1 = cluster.bbox_px
        assert all(c0 <= x <= c1 + 1 and r0 <= y <= r1 + 1 for x, y in points)
    labels = [t.UnformattedTextValue for t in annotation.TextObjectSequence]
    assert labels[: len(result.image.clusters)] == [f"{c.id} {c.pattern.replace('_', ' ')}" for c in result.image.clusters]
    # a MONOCHROME1 image is shown as its modality intended
    expected = "INVERSE" if source.PhotometricInterpretation == "MONOCHROME1" else "IDENTITY"
    assert gsps.PresentationLUTShape == expected
    path = tmp_path / "pr.dcm"
    gsps.save_as(path, enforce_file_format=True)
    assert dciodvfy_errors(path) == []
