"""The web service through FastAPI's TestClient: every status code, escaping, storage, feedback, settings."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from dicom_fixtures import make_dx_dataset, to_bytes
from pacs_fixtures import DCIODVFY, dciodvfy_errors
from radassist.cli import main as cli_main
from radassist.model import AnalysisResult
from radassist.pipeline import recommend
from radassist.web import worker
from radassist.web.app import create_app
from radassist.web.settings import Settings
from radassist.web.worker import AnalysisPool
from web_fixtures import sample_with_evidence

WEB = Path(__file__).resolve().parents[1] / "radassist" / "web"
TOKEN = "s3cret-token-for-tests"
PATIENT_NAME = "DOE^JANE^WEBTEST"
PATIENT_ID = "PID-778899"


def make_client(tmp_path: Path, pool: AnalysisPool | None = None, **settings) -> TestClient:
    base = dict(data_dir=tmp_path, executor="thread", analysis_processes=1)
    return TestClient(create_app(Settings(**{**base, **settings}), pool=pool))


@pytest.fixture
def client(tmp_path):
    with make_client(tmp_path) as c:
        yield c


@pytest.fixture(scope="module")
def sample():
    path, report = sample_with_evidence()
    return path.read_bytes(), report


@pytest.fixture(scope="module")
def small_study() -> bytes:
    from radassist.synth import make_case
    import io

    case = make_case(5, rows=600, columns=400)
    case.dataset.PatientName = PATIENT_NAME
    case.dataset.PatientID = PATIENT_ID
    buf = io.BytesIO()
    case.dataset.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def upload(client, data: bytes, report: str | None = None, url="/api/v1/analyses", **kw):
    form = {"report": report} if report is not None else {}
    return client.post(url, files={"file": ("study.dcm", data, "application/dicom")}, data=form, **kw)


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert body["error"]["message"] and "Traceback" not in response.text


# --- 200: analyses, stored results, downloads ----------------------------------------


def test_healthz_reports_queue(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok" and r.json()["queue_size"] == 16 and r.json()["analyses_in_flight"] == 0


def test_analysis_returns_the_result_contract_and_keeps_no_upload(client, sample, tmp_path):
    data, report = sample
    r = upload(client, data, report)
    assert r.status_code == 200, r.text
    result = AnalysisResult.model_validate(r.json())
    assert result.report_source == "api"
    for concept in result.text.concepts:  # evidence offsets point into the text we sent
        for ev in concept.evidence:
            assert report[ev.start:ev.end] == ev.text
    assert result.text.concepts, "the sample's report names concepts"
    assert list((tmp_path / "uploads").iterdir()) == []
    again = client.get(f"/api/v1/analyses/{result.result_id}")
    assert again.status_code == 200 and again.json() == r.json()


def test_downloads_json_display_and_overlay(client, small_study, tmp_path):
    result = upload(client, small_study).json()
    rid = result["result_id"]
    j = client.get(f"/analyses/{rid}.json")
    assert j.status_code == 200 and j.json() == result and "attachment" in j.headers["content-disposition"]
    from PIL import Image
    import io

    for name in ("display.png", "overlay.png"):
        png = client.get(f"/analyses/{rid}/{name}")
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        img = Image.open(io.BytesIO(png.content))
        rows, cols = result["study"]["rows"], result["study"]["columns"]
        assert abs(img.size[0] / img.size[1] - cols / rows) < 0.01
    with sqlite3.connect(tmp_path / "radassist.sqlite3") as db:  # the PNG, once made, replaces the raw pixels
        assert db.execute("SELECT count(*) FROM displays WHERE result_id = ?", (rid,)).fetchone()[0] == 1
        assert db.execute("SELECT count(*) FROM display_pixels").fetchone()[0] == 0
    overlay = np.asarray(Image.open(io.BytesIO(client.get(f"/analyses/{rid}/overlay.png").content)))
    if result["image"]["clusters"]:  # outlines are drawn in colour on a grey picture
        assert overlay.ndim == 3 and np.any(overlay[..., 0] != overlay[..., 2])


def test_schema_and_docs_are_served_locally(client):
    assert client.get("/api/v1/schema").json() == AnalysisResult.model_json_schema()
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/api/v1/analyses" in docs.text
    assert not re.search(r'(src|href)="https?://', docs.text)
    assert "/api/v1/analyses" in client.get("/openapi.json").json()["paths"]


# --- 400 / 413 / 422: bad input ---------------------------------------------------------


def test_non_dicom_is_400_with_a_json_error(client, tmp_path):
    assert_error(upload(client, b"\x89PNG\r\n\x1a\n" + bytes(200)), 400, "unreadable_input")
    assert_error(upload(client, b""), 400, "unreadable_input")
    assert list((tmp_path / "uploads").iterdir()) == []


def test_multiframe_dicom_is_422_unsupported(client):
    data = to_bytes(make_dx_dataset(np.zeros((2, 64, 48), np.uint16), number_of_frames=2))
    assert_error(upload(client, data), 422, "unsupported_input")


def test_missing_file_is_422_invalid_request(client, small_study, tmp_path):
    assert_error(client.post("/api/v1/analyses", data={"report": "x"}), 422, "invalid_request")
    assert_error(client.post("/api/v1/analyses", json={"file": "x"}), 422, "invalid_request")
    garbage = client.post("/api/v1/analyses", content=bytes(5000),
                          headers={"content-type": "multipart/form-data; boundary=xyz"})
    assert_error(garbage, 422, "invalid_request")
    two = client.post("/api/v1/analyses", files=[("file", ("a.dcm", small_study)), ("file", ("b.dcm", small_study))])
    assert_error(two, 422, "invalid_request")
    assert list((tmp_path / "uploads").iterdir()) == []


def test_upload_over_the_limit_is_413(tmp_path):
    with make_client(tmp_path, max_upload_mb=0.02) as c:  # 20 kB
        assert_error(upload(c, bytes(60_000)), 413, "input_too_large")
        # A body that does not declare its length is cut off as it streams in.
        head = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="s.dcm"\r\n\r\n'
        chunks = (head if i == 0 else bytes(8192) for i in range(9))
        r = c.post("/api/v1/analyses", content=chunks,
                   headers={"content-type": "multipart/form-data; boundary=xyz"})
        assert_error(r, 413, "input_too_large")
        long_report = {"report": "x" * 1_000_001}  # text fields have their own limit
        with make_client(tmp_path / "big", max_upload_mb=5) as big:
            assert_error(upload(big, bytes(100), long_report["report"]), 413, "input_too_large")
        assert upload(c, bytes(1000)).status_code == 400  # under the limit: read, then refused as not DICOM
        page = upload(c, bytes(60_000), url="/analyses")
        assert page.status_code == 413 and 'id="upload-error"' in page.text
    assert list((tmp_path / "uploads").iterdir()) == []


def test_form_error_is_a_readable_page(client):
    r = upload(client, b"just some text, not an image", url="/analyses")
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/html")
    assert 'id="upload-error"' in r.text and "DICOM" in r.text and "Traceback" not in r.text


# --- 401: the optional token --------------------------------------------------------------


def test_token_protects_api_and_page(tmp_path, small_study):
    with make_client(tmp_path, api_token=TOKEN) as c:
        assert c.get("/healthz").status_code == 200
        r = upload(c, small_study)
        assert_error(r, 401, "unauthorised")
        assert r.headers["www-authenticate"] == "Bearer"
        assert_error(upload(c, small_study, headers={"Authorization": "Bearer wrong"}), 401, "unauthorised")
        ok = upload(c, small_study, headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200
        rid = ok.json()["result_id"]
        assert_error(c.get(f"/api/v1/analyses/{rid}/sr"), 401, "unauthorised")
        assert c.get(f"/analyses/{rid}/sr.dcm", follow_redirects=False).status_code == 303
        sr = c.get(f"/api/v1/analyses/{rid}/sr", headers={"Authorization": f"Bearer {TOKEN}"})
        assert sr.status_code == 200 and sr.headers["content-type"] == "application/dicom"
        page = c.get(f"/analyses/{rid}", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login"
        assert c.post("/login", data={"token": "nope"}).status_code == 401
        login = c.post("/login", data={"token": TOKEN}, follow_redirects=False)
        assert login.status_code == 303 and TOKEN not in login.headers["set-cookie"]
        assert "httponly" in login.headers["set-cookie"].lower()
        assert c.get(f"/analyses/{rid}").status_code == 200  # the session cookie now opens the page
        assert c.get(f"/analyses/{rid}/sr.dcm").content == sr.content


# --- 503: the bounded queue ----------------------------------------------------------------


def test_full_queue_is_503_with_retry_after(tmp_path, small_study):
    release = threading.Event()
    started = threading.Event()

    def slow_analyse(path, report, source, database=None, build_sr=False):
        started.set()
        assert release.wait(30)
        return worker.analyse_file(path, report, source, database, build_sr)

    pool = AnalysisPool(processes=1, queue_size=1, kind="thread", analyse=slow_analyse)
    with make_client(tmp_path, pool=pool) as c:
        first: dict = {}
        t = threading.Thread(target=lambda: first.setdefault("r", upload(c, small_study)))
        t.start()
        assert started.wait(30)
        busy = upload(c, small_study)
        assert_error(busy, 503, "busy")
        assert int(busy.headers["retry-after"]) >= 1
        assert c.get("/healthz").json()["analyses_in_flight"] == 1
        release.set()
        t.join(60)
        assert first["r"].status_code == 200
        assert upload(c, small_study).status_code == 200  # the slot is free again


def test_a_bug_is_a_500_json_without_details(tmp_path, small_study):
    def broken(path, report, source, database=None, build_sr=False):
        raise RuntimeError(f"decoder choked on {PATIENT_NAME}")

    with make_client(tmp_path, pool=AnalysisPool(1, 4, "thread", analyse=broken)) as c:
        r = upload(c, small_study)
        assert_error(r, 500, "internal_error")
        assert PATIENT_NAME not in r.text


# --- 404 --------------------------------------------------------------------------------


def test_unknown_ids_are_404(client):
    rid = "00000000-0000-4000-8000-000000000000"
    for url in (f"/api/v1/analyses/{rid}", f"/analyses/{rid}.json", f"/analyses/{rid}/overlay.png",
                f"/api/v1/analyses/{rid}/sr"):
        assert_error(client.get(url), 404, "not_found")
    assert client.get(f"/analyses/{rid}/sr.dcm").status_code == 404
    assert_error(client.post(f"/api/v1/analyses/{rid}/feedback", json={"verdict": "agree"}), 404, "not_found")
    page = client.get(f"/analyses/{rid}")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")


# --- the page -------------------------------------------------------------------------------


def test_result_page_escapes_report_and_has_no_inline_code(client, sample):
    data, report = sample
    hostile = report + ' <script>alert("x")</script> <img src=x onerror=alert(1)>'
    r = upload(client, data, hostile, url="/analyses", follow_redirects=False)
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert page.status_code == 200
    html = page.text
    assert '<script>alert("x")' not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(" in html
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "'unsafe-inline'" not in csp
    for tag in re.findall(r"<script\b[^>]*>", html):  # only files, or data that is never executed
        assert 'src="/static/' in tag or 'type="application/json"' in tag
    attributes = _attribute_names(html)
    assert "style" not in attributes and not any(a.startswith("on") for a in attributes)
    assert not re.search(r'(src|href)="(https?:)?//', html)


def _attribute_names(html: str) -> set[str]:
    from html.parser import HTMLParser

    names: set[str] = set()

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            names.update(name for name, _ in attrs)

    Collect().feed(html)
    return names


def test_result_page_shows_actions_evidence_and_outlines(client, sample):
    data, report = sample
    result = upload(client, data, report).json()
    html = client.get(f"/analyses/{result['result_id']}").text
    if result["primary_action"]:
        primary = result["recommendations"][0]
        assert f'class="action urgency-{primary["urgency"]} action-primary" data-action="{primary["action"]}"' in html
    marks = re.findall(r'<mark class="evidence status-(\w+)"[^>]*data-start="(\d+)"[^>]*>([^<]*)<', html)
    spans = {(ev["start"], ev["text"]) for c in result["text"]["concepts"] for ev in c["evidence"]}
    assert marks and {(int(s), t) for _, s, t in marks} <= spans | {
        (m["evidence"]["start"], m["evidence"]["text"]) for m in result["text"]["pattern_mentions"]}
    outlines = re.findall(r'class="cluster-outline [^"]*" data-cluster-id="(\d+)"', html)
    assert sorted(map(int, outlines)) == sorted(c["id"] for c in result["image"]["clusters"])
    assert result["impression"] in html.replace("&#39;", "'")


def test_pages_have_the_security_headers(client):
    for url in ("/", "/healthz", "/static/app.js"):
        r = client.get(url)
        assert r.status_code == 200
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_static_files_load_nothing_from_outside():
    for path in [*(WEB / "static").iterdir(), *(WEB / "templates").iterdir()]:
        text = path.read_text()
        assert not re.search(r'(src|href)\s*=\s*"(https?:)?//|url\(\s*["\']?(https?:)?//|@import', text), path.name


# --- corrections and feedback -----------------------------------------------------------------


def test_recommend_plain_facts_equals_the_rules(client):
    body = {"patterns": ["phlebolith"], "mass_detected": False, "concepts": {"dvt_suspected": "possible"}}
    r = client.post("/api/v1/recommend", json=body)
    assert r.status_code == 200
    expected = recommend(["phlebolith"], False, {"dvt_suspected": "possible"})
    assert [x["action"] for x in r.json()["recommendations"]] == [x.action for x in expected]
    assert r.json()["primary_action"] == expected[0].action
    assert_error(client.post("/api/v1/recommend", json={"patterns": ["bogus"]}), 422, "invalid_request")
    assert_error(client.post("/api/v1/recommend", json={"concepts": {"pain": "maybe"}}), 422, "invalid_request")


def test_corrections_are_decided_by_the_same_rules(client, sample):
    data, report = sample
    result = upload(client, data, report).json()
    concepts = {c["concept"]: c["status"] for c in result["text"]["concepts"]}
    flipped = {name: ("absent" if status != "absent" else "present") for name, status in concepts.items()}
    clusters = {c["id"]: "phlebolith" for c in result["image"]["clusters"]}
    corrections = {"clusters": {str(k): v for k, v in clusters.items()}, "concepts": flipped}
    r = client.post("/api/v1/recommend", json={"result_id": result["result_id"], "corrections": corrections})
    assert r.status_code == 200, r.text
    expected = recommend(["phlebolith"] if clusters else [], result["image"]["mass_detected"], flipped)
    assert [x["action"] for x in r.json()["recommendations"]] == [x.action for x in expected]
    assert r.json()["impression"]
    bad = {"result_id": result["result_id"], "corrections": {"clusters": {"999": "arterial"}}}
    assert_error(client.post("/api/v1/recommend", json=bad), 422, "invalid_request")


def test_feedback_is_stored_and_exported_as_csv(tmp_path, sample, capsys):
    data, report = sample
    with make_client(tmp_path) as c:
        result = upload(c, data, report).json()
        rid = result["result_id"]
        concept = result["text"]["concepts"][0]["concept"]
        r1 = c.post(f"/api/v1/analyses/{rid}/feedback", json={"verdict": "agree"})
        r2 = c.post(f"/api/v1/analyses/{rid}/feedback",
                    json={"verdict": "disagree", "comment": "  missed history, ok?  ",
                          "corrections": {"concepts": {concept: "historical"}}})
        assert r1.status_code == 200 and r2.status_code == 200
        corrected = {**{x["concept"]: x["status"] for x in result["text"]["concepts"]}, concept: "historical"}
        expected = recommend(result["image"]["patterns"], result["image"]["mass_detected"], corrected)
        assert r2.json()["corrected_primary_action"] == expected[0].action
        assert_error(c.post(f"/api/v1/analyses/{rid}/feedback", json={"verdict": "maybe"}), 422, "invalid_request")
    out = tmp_path / "feedback.csv"
    assert cli_main(["feedback", "export", "--data-dir", str(tmp_path), "--output", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [row["verdict"] for row in rows] == ["agree", "disagree"]
    assert all(row["result_id"] == rid and row["algorithm_version"] == result["algorithm"]["version"]
               and row["primary_action"] == (result["primary_action"] or "") for row in rows)
    assert rows[1]["comment"] == "missed history, ok?"
    assert json.loads(rows[1]["corrections_json"])["concepts"] == {concept: "historical"}
    assert rows[0]["corrections_json"] == ""


# --- privacy -----------------------------------------------------------------------------------


def test_no_patient_name_or_id_in_logs_or_database(tmp_path, small_study, caplog):
    caplog.set_level("DEBUG")
    with make_client(tmp_path, sr_retention_hours=0) as c:  # the DICOM SR (which names the patient): below
        rid = upload(c, small_study, "Calf pain.").json()["result_id"]
        c.get(f"/analyses/{rid}")
        upload(c, small_study[:2000])  # a truncated copy: refused, and the refusal is logged
    assert rid in caplog.text
    for secret in (PATIENT_NAME, PATIENT_ID, "DOE"):
        assert secret not in caplog.text
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("radassist.sqlite3*"))
    assert PATIENT_NAME.encode() not in raw and PATIENT_ID.encode() not in raw
    with sqlite3.connect(tmp_path / "radassist.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM results").fetchone()[0] == 1


# --- settings and the process pool -----------------------------------------------------------


def test_settings_from_env_and_flags(tmp_path):
    env = {"RADASSIST_PORT": "9123", "RADASSIST_MAX_UPLOAD_MB": "5", "RADASSIST_API_TOKEN": "abc",
           "RADASSIST_DATA_DIR": str(tmp_path)}
    s = Settings.from_env(env, port=None, workers=3)
    assert (s.host, s.port, s.workers, s.max_upload_bytes) == ("127.0.0.1", 9123, 3, 5_000_000)
    assert s.api_token.get_secret_value() == "abc" and "abc" not in repr(s)
    assert s.database_path == tmp_path / "radassist.sqlite3"
    assert Settings.from_env(s.to_env()) == s
    assert Settings.from_env({}, port=8001).port == 8001 and Settings.from_env({}).api_token is None
    assert Settings.from_env({}).sr_retention_hours == 24
    assert Settings.from_env({"RADASSIST_SR_RETENTION_HOURS": "0.5"}).sr_retention_s == 1800
    assert Settings.from_env({"RADASSIST_SR_RETENTION_HOURS": "9"}, sr_retention_hours=0).sr_retention_hours == 0


def test_process_pool_analyses_off_the_event_loop(tmp_path, small_study):
    with make_client(tmp_path, executor="process") as c:
        t0 = time.perf_counter()
        r = upload(c, small_study, "Calf swelling, r/o DVT.")
        assert r.status_code == 200, r.text
        assert AnalysisResult.model_validate(r.json()).report_source == "api"
        assert_error(upload(c, b"not dicom"), 400, "unreadable_input")  # errors cross the process boundary
        sr = c.get(f"/api/v1/analyses/{r.json()['result_id']}/sr")  # built and stored by the pool process
        assert sr.status_code == 200 and sr.content[128:132] == b"DICM"
        assert time.perf_counter() - t0 < 60


# --- the DICOM SR download -------------------------------------------------------------------

COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"


def database_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in data_dir.glob("radassist.sqlite3*"))


def test_dicom_sr_download_is_a_valid_sr_of_the_source_study(client, small_study, tmp_path):
    import io

    import pydicom

    source = pydicom.dcmread(io.BytesIO(small_study))
    result = upload(client, small_study, "Calf swelling, r/o DVT.").json()
    rid = result["result_id"]
    page = client.get(f"/analyses/{rid}").text
    assert f'id="download-sr" href="/analyses/{rid}/sr.dcm"' in page
    api = client.get(f"/api/v1/analyses/{rid}/sr")
    download = client.get(f"/analyses/{rid}/sr.dcm")
    for r in (api, download):
        assert r.status_code == 200 and r.headers["content-type"] == "application/dicom"
        assert r.headers["content-disposition"] == f'attachment; filename="radassist-{rid}.dcm"'
    assert api.content == download.content
    sr = pydicom.dcmread(io.BytesIO(api.content))
    assert sr.SOPClassUID == COMPREHENSIVE_SR and sr.Modality == "SR"
    assert sr.StudyInstanceUID == source.StudyInstanceUID and sr.SeriesInstanceUID != source.SeriesInstanceUID
    assert sr.VerificationFlag == "UNVERIFIED"
    assert (str(sr.PatientName), sr.PatientID) == (PATIENT_NAME, PATIENT_ID)  # for the PACS to file it
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    # Neither the upload nor the SR was written anywhere but the database.
    assert {p.name for p in tmp_path.rglob("*") if p.is_file()} <= {
        "radassist.sqlite3", "radassist.sqlite3-wal", "radassist.sqlite3-shm"}
    if not Path(DCIODVFY).exists():
        pytest.skip(f"{DCIODVFY} is missing (Debian package dicom3tools)")
    checked = tmp_path / "checked" / "sr.dcm"
    checked.parent.mkdir()
    checked.write_bytes(api.content)
    assert dciodvfy_errors(checked) == []


def test_expired_sr_is_410_and_leaves_no_patient_name_in_the_database(tmp_path, small_study, caplog):
    caplog.set_level("DEBUG")
    with make_client(tmp_path) as c:
        rid = upload(c, small_study).json()["result_id"]
        assert c.get(f"/api/v1/analyses/{rid}/sr").status_code == 200
    assert PATIENT_NAME.encode() in database_bytes(tmp_path)  # kept while the retention lasts
    # The same database under a retention that is over at once: purged on startup.
    with make_client(tmp_path, sr_retention_hours=1e-9) as c:
        expired = c.get(f"/api/v1/analyses/{rid}/sr")
        assert_error(expired, 410, "sr_expired")
        assert "kept for 1e-09 hours after the analysis" in expired.json()["error"]["message"]
        assert "analyse the study again" in expired.json()["error"]["message"]
        page_download = c.get(f"/analyses/{rid}/sr.dcm")
        assert page_download.status_code == 410 and "analyse the study again" in page_download.text
        page = c.get(f"/analyses/{rid}").text
        assert 'id="download-sr"' not in page and 'id="sr-note"' in page
        assert c.get(f"/api/v1/analyses/{rid}").status_code == 200  # the result itself stays
        # An SR that expires while the service runs is purged when asked for.
        fresh = upload(c, small_study).json()["result_id"]
        time.sleep(0.01)
        assert_error(c.get(f"/api/v1/analyses/{fresh}/sr"), 410, "sr_expired")
    raw = database_bytes(tmp_path)
    assert PATIENT_NAME.encode() not in raw and PATIENT_ID.encode() not in raw
    for secret in (PATIENT_NAME, PATIENT_ID, "DOE"):
        assert secret not in caplog.text


def test_sr_retention_zero_builds_no_sr(tmp_path, small_study):
    with make_client(tmp_path, sr_retention_hours=0) as c:
        rid = upload(c, small_study).json()["result_id"]
        assert 'id="download-sr"' not in c.get(f"/analyses/{rid}").text
        r = c.get(f"/api/v1/analyses/{rid}/sr")
        assert_error(r, 404, "not_found")
        assert "sr_retention_hours is 0" in r.json()["error"]["message"]
        assert c.get(f"/analyses/{rid}/sr.dcm").status_code == 404
    with sqlite3.connect(tmp_path / "radassist.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM dicom_srs").fetchone()[0] == 0


def test_no_sr_of_an_image_radassist_could_not_analyse_is_409(client):
    from radassist.synth import make_case

    case = make_case(3, rows=300, columns=200)
    case.dataset.BodyPartExamined = "CHEST"
    result = upload(client, to_bytes(case.dataset)).json()
    assert result["status"] == "insufficient_information"
    rid = result["result_id"]
    r = client.get(f"/api/v1/analyses/{rid}/sr")
    assert_error(r, 409, "sr_unavailable")
    assert "could not be analysed" in r.json()["error"]["message"]
    assert 'id="download-sr"' not in client.get(f"/analyses/{rid}").text
