"""The real page in headless Chromium (Debian's /usr/bin/chromium driven by Playwright).

A real ``radassist serve`` (process pool, SQLite) runs on a free loopback
port. The result page's screenshot is saved to tests/artifacts/web_result.png.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pydicom
import pytest

from radassist.pipeline import recommend
from web_fixtures import running_server, sample_with_evidence

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (.ci/run installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("web")
    with running_server(data_dir) as url:
        yield url, data_dir


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    pg = context.new_page()
    pg.console_messages = []  # CSP violations and script errors land here
    pg.on("console", lambda m: pg.console_messages.append(f"{m.type}: {m.text}"))
    pg.on("pageerror", lambda e: pg.console_messages.append(f"pageerror: {e}"))
    yield pg
    context.close()


@pytest.fixture(scope="module")
def sample():
    return sample_with_evidence()


def analyse_in_page(page, url: str, study: Path, report: str) -> dict:
    page.goto(url + "/")
    page.set_input_files("#file-input", str(study))
    page.fill("#report-input", report)
    with page.expect_navigation():
        page.click("#analyse-button")
    page.wait_for_selector(".action-primary")
    result_url = page.url
    assert "/analyses/" in result_url
    return page.request.get(result_url + ".json").json()


def test_upload_shows_action_evidence_outlines_and_takes_feedback(page, server, sample):
    url, data_dir = server
    study, report = sample
    result = analyse_in_page(page, url, study, report)

    primary = page.locator(".action-primary")
    assert primary.count() == 1
    if result["primary_action"]:
        assert primary.get_attribute("data-action") == result["primary_action"]
        assert f"urgency-{result['recommendations'][0]['urgency']}" in primary.get_attribute("class")
        assert primary.is_visible()

    marks = page.locator("#report-text mark.evidence")
    assert marks.count() >= 1
    for i in range(marks.count()):
        mark = marks.nth(i)
        start = int(mark.get_attribute("data-start"))
        text = mark.evaluate("m => m.firstChild.textContent")
        assert report[start:start + len(text)] == text
        assert any(f"status-{s}" in mark.get_attribute("class") for s in ("present", "absent", "possible",
                                                                          "historical", "other_person",
                                                                          "hypothetical"))

    outlines = page.locator("svg#stage .cluster-outline")
    assert outlines.count() == len(result["image"]["clusters"])
    page.wait_for_function("() => document.querySelector('svg#stage image') !== null")
    img_ok = page.evaluate("""async () => {
        const r = await fetch(document.querySelector('svg#stage image').getAttribute('href'));
        return r.ok && r.headers.get('content-type') === 'image/png';
    }""")
    assert img_ok

    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(300)  # the display image paints
    page.screenshot(path=str(ARTIFACTS / "web_result.png"))

    # The DICOM SR download, next to the JSON and overlay ones: the SR of the source study.
    with page.expect_download() as info:
        page.click("#download-sr")
    download = info.value
    assert download.suggested_filename == f"radassist-{result['result_id']}.dcm"
    sr = pydicom.dcmread(download.path())
    source = pydicom.dcmread(study, stop_before_pixels=True)
    assert sr.SOPClassUID == COMPREHENSIVE_SR and sr.VerificationFlag == "UNVERIFIED"
    assert sr.StudyInstanceUID == source.StudyInstanceUID

    page.fill("#feedback-comment", "looks right")
    page.click("#agree")
    page.wait_for_selector("#feedback-status[data-feedback-id]")
    assert "agree" in page.inner_text("#feedback-status")
    with sqlite3.connect(data_dir / "radassist.sqlite3") as db:
        rows = db.execute("SELECT verdict, comment, primary_action, algorithm_version FROM feedback "
                          "WHERE result_id = ?", (result["result_id"],)).fetchall()
    assert rows == [("agree", "looks right", result["primary_action"], result["algorithm"]["version"])]
    assert not [m for m in page.console_messages if "error" in m.lower() or "security policy" in m.lower()]


def test_correcting_a_status_recomputes_the_actions(page, server, sample):
    url, data_dir = server
    study, report = sample
    result = analyse_in_page(page, url, study, report)
    concepts = {c["concept"]: c["status"] for c in result["text"]["concepts"]}
    name = next(iter(concepts))
    new_status = "absent" if concepts[name] != "absent" else "present"
    page.select_option(f'select.concept-status[data-concept="{name}"]', new_status)
    page.wait_for_selector("#corrected-note:not(.hidden)")
    expected = recommend(result["image"]["patterns"], result["image"]["mass_detected"], {**concepts, name: new_status})
    page.wait_for_function(
        "a => { const p = document.querySelector('#actions .action-primary'); return p && p.dataset.action === a; }",
        arg=expected[0].action if expected else None)
    shown = page.locator("#actions .action").evaluate_all("els => els.map(e => e.dataset.action)")
    assert shown == [r.action for r in expected]
    assert f"status-{new_status}" in page.locator(f'mark.evidence[data-concept="{name}"]').first.get_attribute("class")

    page.click("#disagree")
    page.wait_for_selector("#feedback-status[data-feedback-id]")
    with sqlite3.connect(data_dir / "radassist.sqlite3") as db:
        verdict, corrections = db.execute("SELECT verdict, corrections_json FROM feedback WHERE result_id = ?",
                                          (result["result_id"],)).fetchone()
    assert verdict == "disagree" and json.loads(corrections)["concepts"] == {name: new_status}

    page.click("#undo-corrections")
    page.wait_for_selector("#corrected-note.hidden", state="attached")
    assert page.locator("#actions .action-primary").get_attribute("data-action") == result["primary_action"]


def test_zoom_and_copy_impression(page, server, sample):
    url, _ = server
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    analyse_in_page(page, url, *sample)
    page.click("#zoom-in")
    assert "scale(1.5)" in page.eval_on_selector("#stage", "s => s.style.transform")
    page.click("#zoom-fit")
    assert "scale(1)" in page.eval_on_selector("#stage", "s => s.style.transform")
    page.click("#copy-impression")
    page.wait_for_function("() => document.querySelector('#copy-status').textContent !== ''")
    assert page.evaluate("navigator.clipboard.readText()") == page.input_value("#impression")


def test_non_dicom_upload_shows_a_readable_error(page, server, tmp_path):
    url, _ = server
    bogus = tmp_path / "photo.png"
    bogus.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(500))
    page.goto(url + "/")
    page.set_input_files("#file-input", str(bogus))
    page.fill("#report-input", "Calf pain.")
    with page.expect_navigation() as nav:
        page.click("#analyse-button")
    assert nav.value.status == 400
    error = page.locator("#upload-error")
    assert error.is_visible() and "PNG" in error.inner_text() and "DICOM" in error.inner_text()
    assert page.input_value("#report-input") == "Calf pain."  # the typed text survives the refusal
