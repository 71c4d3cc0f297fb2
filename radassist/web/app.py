"""The FastAPI application: the radiologist's page and the JSON API.

``create_app(settings)`` builds the app; ``radassist serve`` runs it with
uvicorn. Routes:

=======  ================================  ===========================================
GET      /                                 the upload form
POST     /analyses                         form upload → 303 to the result page
GET      /analyses/{id}                    the result page
GET      /analyses/{id}.json               the result JSON (download)
GET      /analyses/{id}/overlay.png        the radiograph with every cluster outlined
GET      /analyses/{id}/display.png        the windowed radiograph the page draws on
GET      /analyses/{id}/sr.dcm             the DICOM SR (download), kept ``sr_retention_hours``
POST     /api/v1/analyses                  multipart ``file`` (+ ``report``) → result JSON
GET      /api/v1/analyses/{id}             a stored result
GET      /api/v1/analyses/{id}/sr          the same DICOM SR
POST     /api/v1/analyses/{id}/feedback    agree / disagree, comment, corrections
POST     /api/v1/recommend                 the rules alone, or a stored result corrected
GET      /api/v1/schema                    JSON Schema of the result
GET      /healthz                          liveness and queue state
GET      /docs, /openapi.json              API documentation (served locally)
=======  ================================  ===========================================

Errors are JSON ``{"error": {"code", "message"}}`` on the API and a readable
page on the form; never a traceback.

The DICOM SR carries the source's patient and study identifiers (it is meant
for the PACS), so it is built by the analysis process while the upload
exists and kept only ``sr_retention_hours`` (then purged: on startup, every
few minutes and on access). Its download answers 404 for an unknown id or an
analysis made without SRs (``sr_retention_hours`` 0), 409 ``sr_unavailable``
when none can be made for that analysis (an image radassist could not
analyse, a header without the UIDs the report references) and 410
``sr_expired`` after the retention.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Literal, Optional

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import RadassistError, UnreadableInputError
from ..model import (
    CONCEPTS,
    PATTERNS,
    STATUSES,
    Action,
    AnalysisResult,
    Concept,
    Pattern,
    Status,
)
from ..render import ACTION_TITLES, PATTERN_GROUPS
from . import security
from .corrections import CorrectionError, Corrections, Redecision, redecide
from .images import encode_png, overlay_from_display
from .report_view import report_pieces
from .settings import Settings
from .store import SR_EXPIRED, SR_READY, SR_UNAVAILABLE, Store
from .upload import UPLOAD_OPENAPI, receive_upload
from .worker import AnalysisPool, BusyError

log = logging.getLogger("radassist.web")

HERE = Path(__file__).resolve().parent
#: Paths answered with JSON errors; every other path is a page and gets an HTML error.
JSON_PREFIXES = ("/api/", "/healthz", "/openapi.json")
#: How long a request for the display image (or the DICOM SR) waits for one still being made.
DISPLAY_WAIT_S = 10.0
#: Longest pause between purges of expired DICOM SRs (they are also purged when asked for).
SR_PURGE_EVERY_S = 300.0
HTTP_CODES = {400: "bad_request", 401: "unauthorised", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 410: "gone", 413: "input_too_large",
              415: "unsupported_media_type",
              422: "invalid_request", 429: "too_many_requests", 503: "busy"}


class InternalAnalysisError(RadassistError):
    """The analysis failed on a bug: reported as a one-line 500, logged by type only."""

    code = "internal_error"
    http_status = 500


class NotFoundError(RadassistError):
    code = "not_found"
    http_status = 404


class InvalidRequestError(RadassistError):
    code = "invalid_request"
    http_status = 422


class SRUnavailableError(RadassistError):
    """No DICOM SR can be made for this analysis (the result itself exists)."""

    code = "sr_unavailable"
    http_status = 409


class SRExpiredError(RadassistError):
    """The analysis's DICOM SR was deleted when its retention ended."""

    code = "sr_expired"
    http_status = 410


# --- request and response bodies ----------------------------------------------


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class RecommendRequest(BaseModel):
    """Either plain facts (``patterns``, ``mass_detected``, ``concepts``) or a stored result with corrections."""

    model_config = ConfigDict(extra="forbid")

    result_id: Optional[str] = Field(None, description="a stored result; its findings are corrected and re-decided")
    corrections: Corrections = Field(default_factory=Corrections)
    patterns: list[Pattern] = Field(default_factory=list)
    mass_detected: bool = False
    concepts: dict[Concept, Status] = Field(default_factory=dict)


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Literal["agree", "disagree"]
    comment: Optional[str] = Field(None, max_length=4000)
    corrections: Corrections = Field(default_factory=Corrections)


class FeedbackReceipt(BaseModel):
    feedback_id: int
    result_id: str
    verdict: str
    primary_action: Optional[Action]
    corrected_primary_action: Optional[Action]


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    analyses_in_flight: int
    queue_size: int


ERROR_RESPONSES = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "unreadable input (not DICOM, truncated, undecodable pixel data)"),
        (401, "the API token is required and was missing or wrong"),
        (413, "the upload or the image is too large"),
        (422, "unsupported input (a DICOM radassist does not analyse) or an invalid request"),
        (503, "the analysis queue is full: retry after the Retry-After seconds"),
    )
}


# --- the app ------------------------------------------------------------------


def create_app(settings: Optional[Settings] = None, *, pool: Optional[AnalysisPool] = None) -> FastAPI:
    """Build the web app.

    Parameters
    ----------
    settings : Settings, optional
        Default: :meth:`Settings.from_env`.
    pool : AnalysisPool, optional
        The analysis pool (tests pass one with a stand-in analysis); default
        one made from the settings.
    """
    settings = settings or Settings.from_env()
    settings.upload_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.upload_dir, 0o700)
    store = Store(settings.database_path)
    pool = pool or AnalysisPool(settings.analysis_processes, settings.queue_size, settings.executor)
    pool.database = str(settings.database_path)
    pool.build_sr = settings.sr_retention_hours > 0
    token = settings.api_token.get_secret_value() if settings.api_token else None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await run_in_threadpool(purge_srs)  # what expired while the service was down
        pool.start()
        purging = asyncio.create_task(purge_srs_periodically())
        log.info("radassist web %s ready (%d analysis %s(es), queue %d, DICOM SRs kept %g h)", __version__,
                 pool.processes, pool.kind, pool.queue_size, settings.sr_retention_hours)
        try:
            yield
        finally:
            purging.cancel()
            pool.shutdown()

    def purge_srs() -> None:
        n = store.purge_expired_srs(settings.sr_retention_s)
        if n:
            log.info("deleted %d expired DICOM SR(s)", n)

    async def purge_srs_periodically() -> None:
        every_s = min(SR_PURGE_EVERY_S, max(1.0, settings.sr_retention_s / 4))
        while True:
            await asyncio.sleep(every_s)
            try:
                await run_in_threadpool(purge_srs)
            except Exception as exc:  # noqa: BLE001 - try again next time; downloads purge on access too
                log.error("purging expired DICOM SRs failed: %s", type(exc).__name__)

    app = FastAPI(
        title="radassist",
        version=__version__,
        description="Decision support for soft-tissue calcifications on calf radiographs — not a diagnosis.",
        docs_url=None, redoc_url=None,  # FastAPI's docs pages load scripts from a CDN; /docs is served locally
        lifespan=lifespan,
    )
    app.state.settings, app.state.store, app.state.pool = settings, store, pool
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals.update(version=__version__, action_titles=ACTION_TITLES, token_required=bool(token))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    # Outermost last: headers on every response, the token before any body is read, then the size limit.
    app.add_middleware(security.BodySizeLimit, limit_bytes=settings.max_upload_bytes)
    app.add_middleware(TokenGate, token=token)
    app.add_middleware(security.SecurityHeaders)
    _install_error_handlers(app, templates)

    api = APIRouter(prefix="/api/v1", tags=["api"])
    pages = APIRouter(include_in_schema=False)

    # --- analysis ---------------------------------------------------------

    async def analyse_request(request: Request, source: str):
        """Stream the upload into a private temp file, analyse it in the pool, delete it, store the result."""
        started = time.perf_counter()
        upload = await receive_upload(request, settings.upload_dir)
        received = time.perf_counter()
        try:
            if upload.size_bytes == 0:
                raise UnreadableInputError("the uploaded file is empty: choose a DICOM file")
            report = upload.fields.get("report")
            report = report if (report or "").strip() else None
            try:
                done = await pool.run(str(upload.path), report, source if report else None)
            except RadassistError:
                raise
            except Exception as exc:  # noqa: BLE001 - a bug must not become a traceback on the page
                # The type only: messages from the DICOM stack can quote header values.
                log.error("analysis failed: %s", type(exc).__name__,
                          exc_info=bool(os.environ.get("RADASSIST_DEBUG")))
                raise InternalAnalysisError("radassist failed on this input (a bug, not your file's fault); "
                                            "it has been logged") from None
        finally:
            # Uploads never outlive their analysis; no await here, so a cancelled request deletes it too.
            upload.path.unlink(missing_ok=True)
        analysed = time.perf_counter()
        await run_in_threadpool(store.save_result, done.result_id, done.result_json, report, done.sr)
        log.info("analysed result_id=%s status=%s primary_action=%s upload_ms=%.0f analysis_ms=%.0f "
                 "pipeline_ms=%.0f total_ms=%.0f", done.result_id, done.status, done.primary_action,
                 (received - started) * 1000, (analysed - received) * 1000, done.pipeline_ms,
                 (time.perf_counter() - started) * 1000)
        return done

    async def display_of(result_id: str) -> bytes:
        """The display PNG: encoded from the stored pixels on first request, then kept.

        Waits briefly for pixels the analysis process is still writing.
        """
        await stored(result_id)
        deadline = time.monotonic() + DISPLAY_WAIT_S
        while True:
            png = await run_in_threadpool(store.display_png, result_id)
            if png:
                return png
            grey = await run_in_threadpool(store.display_pixels, result_id)
            if grey is not None:
                # Two first requests at once may both encode it; the second write changes nothing.
                png = await run_in_threadpool(encode_png, grey)
                await run_in_threadpool(store.set_display_png, result_id, png)
                return png
            if time.monotonic() > deadline:
                raise NotFoundError("this result has no image")
            await asyncio.sleep(0.05)

    async def sr_of(result_id: str) -> bytes:
        """The DICOM SR file; waits briefly for one the analysis process is still building."""
        await stored(result_id)
        deadline = time.monotonic() + DISPLAY_WAIT_S
        while True:
            item = await run_in_threadpool(store.sr, result_id, settings.sr_retention_s)
            if item is None:
                why = (" (this server builds none: sr_retention_hours is 0)" if not settings.sr_retention_hours
                       else " (it was analysed while SRs were off)")
                raise NotFoundError(f"there is no DICOM SR of analysis {result_id}{why}")
            if item.state == SR_READY:
                return item.sr
            if item.state == SR_UNAVAILABLE:
                raise SRUnavailableError(item.reason or "no DICOM SR can be made for this analysis")
            if item.state == SR_EXPIRED:
                raise SRExpiredError(f"the DICOM SR is kept for {_hours(settings.sr_retention_hours)} after the "
                                     "analysis and this one has been deleted; analyse the study again")
            if time.monotonic() > deadline:
                raise BusyError("the DICOM SR is still being built; please retry shortly", 2)
            await asyncio.sleep(0.05)

    def sr_response(result_id: str, sr: bytes) -> Response:
        return Response(sr, media_type="application/dicom",
                        headers={"content-disposition": f'attachment; filename="radassist-{result_id}.dcm"'})

    @api.post("/analyses", summary="Analyse one DICOM radiograph (and optional report text)",
              response_model=AnalysisResult, responses=ERROR_RESPONSES, openapi_extra=UPLOAD_OPENAPI)
    async def api_analyse(request: Request):
        done = await analyse_request(request, "api")
        return Response(done.result_json, media_type="application/json")

    @pages.post("/analyses")
    async def form_analyse(request: Request):
        done = await analyse_request(request, "form")
        return RedirectResponse(f"/analyses/{done.result_id}", status_code=303)

    # --- stored results ---------------------------------------------------

    async def stored(result_id: str):
        item = await run_in_threadpool(store.result, result_id)  # a write may hold the database: not on the loop
        if item is None:
            raise NotFoundError(f"no analysis with id {result_id} (results are kept on the server that made them)")
        return item

    @api.get("/analyses/{result_id}", summary="A stored result", response_model=AnalysisResult,
             responses={404: {"model": ErrorBody}})
    async def api_result(result_id: str):
        return Response((await stored(result_id)).result_json, media_type="application/json")

    @api.get("/analyses/{result_id}/sr", summary="The DICOM SR of a stored result (kept sr_retention_hours)",
             response_class=Response,
             responses={200: {"content": {"application/dicom": {}},
                              "description": "a Comprehensive SR (UNVERIFIED) in the source study"},
                        404: {"model": ErrorBody, "description": "unknown id, or the analysis has no SR"},
                        409: {"model": ErrorBody, "description": "no SR can be made for this analysis"},
                        410: {"model": ErrorBody, "description": "the SR's retention has passed"}})
    async def api_sr(result_id: str):
        return sr_response(result_id, await sr_of(result_id))

    @pages.get("/analyses/{result_id}/sr.dcm")
    async def download_sr(result_id: str):
        return sr_response(result_id, await sr_of(result_id))

    @pages.get("/analyses/{result_id}.json")
    async def download_json(result_id: str):
        item = await stored(result_id)
        return Response(item.result_json, media_type="application/json",
                        headers={"content-disposition": f'attachment; filename="radassist-{result_id}.json"'})

    @pages.get("/analyses/{result_id}/display.png")
    async def display_image(result_id: str):
        return Response(await display_of(result_id), media_type="image/png")

    @pages.get("/analyses/{result_id}/overlay.png")
    async def overlay_image(result_id: str):
        item = await stored(result_id)
        png = await display_of(result_id)
        result = AnalysisResult.model_validate_json(item.result_json)
        overlay = await run_in_threadpool(overlay_from_display, png, result.image, result.study.rows,
                                          result.study.columns)
        return Response(overlay, media_type="image/png",
                        headers={"content-disposition": f'attachment; filename="radassist-{result_id}-overlay.png"'})

    @pages.get("/analyses/{result_id}", response_class=HTMLResponse)
    async def result_page(request: Request, result_id: str):
        item = await stored(result_id)
        sr = await run_in_threadpool(store.sr, result_id, settings.sr_retention_s)
        result = AnalysisResult.model_validate_json(item.result_json)
        context = _result_context(result, item.report_text)
        # A pending SR is offered: its download waits the moment it takes to finish.
        context["sr_state"] = sr.state if sr else None
        context["sr_retention"] = _hours(settings.sr_retention_hours)
        return templates.TemplateResponse(request, "result.html", context)

    # --- corrections and feedback ------------------------------------------

    @api.post("/recommend", summary="The management rules alone, or a stored result with corrections",
              response_model=Redecision, responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}})
    async def api_recommend(body: RecommendRequest):
        if body.result_id:
            result = AnalysisResult.model_validate_json((await stored(body.result_id)).result_json)
            try:
                return redecide(result, body.corrections)
            except CorrectionError as exc:
                raise InvalidRequestError(str(exc)) from None
        from ..rules import Facts, decide

        decision = decide(Facts.simple(body.patterns, body.mass_detected, body.concepts))
        return Redecision(recommendations=decision.recommendations, primary_action=decision.primary_action,
                          patterns=[p for p in body.patterns if p != "none"], warnings=decision.warnings)

    @api.post("/analyses/{result_id}/feedback", summary="Agree or disagree with a result (QA feedback)",
              response_model=FeedbackReceipt, responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}})
    async def api_feedback(result_id: str, body: FeedbackRequest):
        result = AnalysisResult.model_validate_json((await stored(result_id)).result_json)
        corrected = None
        if not body.corrections.is_empty():
            try:
                corrected = redecide(result, body.corrections).primary_action
            except CorrectionError as exc:
                raise InvalidRequestError(str(exc)) from None
        feedback_id = await run_in_threadpool(
            store.add_feedback, result_id=result_id, algorithm_id=result.algorithm.id,
            algorithm_version=result.algorithm.version, primary_action=result.primary_action,
            verdict=body.verdict, comment=(body.comment or "").strip() or None,
            corrections=body.corrections.model_dump(mode="json") if not body.corrections.is_empty() else None,
            corrected_primary_action=corrected,
        )
        log.info("feedback result_id=%s verdict=%s corrected=%s", result_id, body.verdict, corrected is not None)
        return FeedbackReceipt(feedback_id=feedback_id, result_id=result_id, verdict=body.verdict,
                               primary_action=result.primary_action, corrected_primary_action=corrected)

    # --- the rest ----------------------------------------------------------

    @api.get("/schema", summary="JSON Schema of the analysis result")
    async def api_schema():
        return AnalysisResult.model_json_schema()

    @app.get("/healthz", response_model=Health, tags=["service"], summary="Liveness and queue state")
    async def healthz():
        return Health(status="ok", version=__version__, analyses_in_flight=pool.in_flight, queue_size=pool.queue_size)

    @pages.get("/", response_class=HTMLResponse)
    async def index(request: Request):
        return templates.TemplateResponse(request, "index.html", {"max_upload_mb": settings.max_upload_mb})

    @pages.get("/docs", response_class=HTMLResponse)
    async def docs(request: Request):
        return templates.TemplateResponse(request, "docs.html", {"endpoints": _endpoints(app.openapi())})

    @pages.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request):
        return templates.TemplateResponse(request, "login.html", {"error": None})

    @pages.post("/login")
    async def login(request: Request, token_given: Annotated[str, Form(alias="token")] = ""):
        if not token or not security.is_authorised(token, f"Bearer {token_given}", None):
            return templates.TemplateResponse(request, "login.html", {"error": "That token is not right."},
                                              status_code=401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(security.SESSION_COOKIE, security.session_value(token), httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")
        return response

    app.include_router(api)
    app.include_router(pages)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (one app per uvicorn worker process)."""
    return create_app(Settings.from_env())


# --- the token gate (before any body is read) --------------------------------------


class TokenGate:
    """When a token is configured, only requests carrying it (bearer header or login cookie) pass."""

    def __init__(self, app, token: Optional[str]):
        self.app = app
        self.token = token

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self.token or scope["path"].startswith(security.OPEN_PATHS):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if security.is_authorised(self.token, headers.get("authorization"), headers.get("cookie")):
            await self.app(scope, receive, send)
            return
        if _wants_json(scope["path"]) or scope["method"] != "GET":
            response: Response = JSONResponse(
                {"error": {"code": "unauthorised", "message": "a valid API token is required (Authorization: Bearer …)"}},
                status_code=401, headers={"www-authenticate": "Bearer"})
        else:
            response = RedirectResponse("/login", status_code=303)
        await response(scope, receive, send)


# --- errors ---------------------------------------------------------------------


def _wants_json(path: str) -> bool:
    return path.startswith(JSON_PREFIXES) or path.endswith((".json", ".png"))


def _install_error_handlers(app: FastAPI, templates: Jinja2Templates) -> None:
    def respond(request: Request, status: int, code: str, message: str, headers: Optional[dict] = None):
        if _wants_json(request.url.path):
            return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)
        template = "index.html" if request.method == "POST" and request.url.path == "/analyses" else "error.html"
        return templates.TemplateResponse(
            request, template,
            {"error": message, "error_code": code, "status": status,
             "max_upload_mb": app.state.settings.max_upload_mb},
            status_code=status, headers=headers)

    @app.exception_handler(RadassistError)
    async def radassist_error(request: Request, exc: RadassistError):
        headers = {"retry-after": str(exc.retry_after_s)} if isinstance(exc, BusyError) else None
        log.info("refused %s %s: %s (%d)", request.method, request.url.path, exc.code, exc.http_status)
        return respond(request, exc.http_status, exc.code, exc.message, headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and message == "Not Found":
            message = f"there is nothing at {request.url.path}"
        return respond(request, exc.status_code, HTTP_CODES.get(exc.status_code, "error"), message,
                       dict(exc.headers) if exc.headers else None)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        # Name the field and the problem, never echo the input (it may hold report text).
        problems = []
        for err in exc.errors()[:5]:
            where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body",))
            problems.append(f"{where or 'body'}: {err.get('msg', 'invalid')}")
        return respond(request, 422, "invalid_request", "; ".join(problems) or "invalid request")

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        # Only the type: messages from the DICOM stack can quote header values.
        log.error("internal error on %s %s: %s", request.method, request.url.path, type(exc).__name__,
                  exc_info=bool(os.environ.get("RADASSIST_DEBUG")))
        return respond(request, 500, "internal_error",
                       "radassist failed on this input (a bug, not your file's fault); it has been logged")


# --- page context ------------------------------------------------------------------


def _result_context(result: AnalysisResult, report_text: Optional[str]) -> dict:
    """Everything result.html shows, computed here so the template only lays it out."""
    rows, columns = result.study.rows, result.study.columns
    label_px = max(12.0, max(rows, columns) / 50.0)
    clusters = []
    for c in result.image.clusters:
        r0, c0, r1, c1 = c.bbox_px
        pad = max(6.0, 0.2 * max(r1 - r0, c1 - c0), label_px * 0.5)
        box = (max(0.0, r0 - pad), max(0.0, c0 - pad), min(rows, r1 + pad), min(columns, c1 + pad))
        runner_up = next(iter(c.alternatives.items()), None)
        clusters.append({
            "cluster": c,
            "box": box,
            "points": " ".join(f"{cc},{rr}" for rr, cc in c.contour_px) if len(c.contour_px) >= 3 else "",
            "label_x": box[1], "label_y": max(label_px, box[0] - label_px * 0.3),
            "group": _pattern_group(c.pattern),
            "runner_up": runner_up,
        })
    masses = []
    for m in result.image.masses:
        masses.append({"mass": m, "label_x": m.bbox_px[1], "label_y": min(rows - 2, m.bbox_px[2] + label_px * 1.1)})
    recs = result.recommendations
    return {
        "result": result,
        "primary": recs[0] if recs else None,
        "others": recs[1:],
        "clusters": clusters,
        "masses": masses,
        "label_px": label_px,
        "stroke_px": max(2.0, max(rows, columns) / 600.0),
        "pieces": report_pieces(report_text, result.text),
        "report_text": report_text,
        "patterns": PATTERNS,
        "statuses": STATUSES,
        "concepts": CONCEPTS,
        "missing_concepts": [c for c in CONCEPTS if result.text.status_of(c) is None],
        "page_data": {
            "result_id": result.result_id,
            "primary_action": result.primary_action,
            "clusters": {str(c.id): c.pattern for c in result.image.clusters},
            "concepts": {c.concept: c.status for c in result.text.concepts},
            "action_titles": ACTION_TITLES,
        },
    }


def _hours(hours: float) -> str:
    """``24 hours``, ``1 hour``, ``0.5 hours``."""
    return f"{hours:g} hour" + ("" if hours == 1 else "s")


def _pattern_group(pattern: str) -> str:
    """The outline colour group of a pattern (app.css colours them like the PNG overlay)."""
    return PATTERN_GROUPS.get(pattern, "other")


def _endpoints(openapi: dict) -> list[dict]:
    """The OpenAPI paths flattened for the docs page."""
    out = []
    for path, methods in openapi.get("paths", {}).items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {})
            out.append({
                "method": method.upper(), "path": path, "summary": op.get("summary", ""),
                "description": op.get("description", ""),
                "parameters": [p["name"] for p in op.get("parameters", [])],
                "body": ", ".join(body), "responses": sorted(op.get("responses", {})),
            })
    return out
