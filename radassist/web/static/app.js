/* radassist web page behaviour: upload form, image zoom, corrections, feedback, copy.
   Plain JavaScript, no libraries; the page works (read-only) without it. */
"use strict";

(function () {
  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function postJSON(url, body) {
    return fetch(url, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      credentials: "same-origin"
    }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) throw new Error((data && data.error && data.error.message) || ("HTTP " + r.status));
        return data;
      });
    });
  }

  /* ---------------- upload form ---------------- */
  function initUploadForm() {
    var form = $("#upload-form");
    if (!form) return;
    var input = $("#file-input"), zone = $("#drop-zone"), name = $("#drop-file-name"), report = $("#report-input");
    var saved = window.sessionStorage && sessionStorage.getItem("radassist-report");
    if (saved && report && !report.value) report.value = saved;  // keep the text after a refused upload
    function showName() { name.textContent = input.files && input.files.length ? input.files[0].name : ""; }
    input.addEventListener("change", showName);
    ["dragenter", "dragover"].forEach(function (ev) {
      zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.add("dragging"); });
    });
    ["dragleave", "drop"].forEach(function (ev) {
      zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.remove("dragging"); });
    });
    zone.addEventListener("drop", function (e) {
      if (e.dataTransfer && e.dataTransfer.files.length) { input.files = e.dataTransfer.files; showName(); }
    });
    form.addEventListener("submit", function () {
      if (window.sessionStorage && report) sessionStorage.setItem("radassist-report", report.value);
      $("#busy").classList.remove("hidden");
      $("#analyse-button").disabled = true;
    });
  }

  /* ---------------- image viewer: wheel zoom, drag pan, zoom to a cluster ---------------- */
  function initViewer() {
    var viewer = $("#viewer"), stage = $("#stage");
    if (!viewer || !stage) return;
    var vb = stage.viewBox.baseVal, k = 1, tx = 0, ty = 0;
    var outlines = $("#outlines"), baseFont = +outlines.getAttribute("font-size");
    function apply() {
      stage.style.transform = "translate(" + tx + "px," + ty + "px) scale(" + k + ")";
      // Labels grow more slowly than the image, so a zoomed cluster is not hidden by its own label.
      outlines.setAttribute("font-size", (baseFont / Math.sqrt(k)).toFixed(1));
    }
    function zoomAt(factor, cx, cy) {
      var nk = Math.min(40, Math.max(1, k * factor));
      tx = cx - (cx - tx) * (nk / k); ty = cy - (cy - ty) * (nk / k); k = nk;
      if (k === 1) { tx = 0; ty = 0; }
      apply();
    }
    function centre() { var r = viewer.getBoundingClientRect(); return [r.width / 2, r.height / 2]; }
    viewer.addEventListener("wheel", function (e) {
      e.preventDefault();
      var r = viewer.getBoundingClientRect();
      zoomAt(e.deltaY < 0 ? 1.2 : 1 / 1.2, e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });
    var drag = null;
    viewer.addEventListener("pointerdown", function (e) {
      drag = { x: e.clientX, y: e.clientY, tx: tx, ty: ty }; viewer.classList.add("panning");
      viewer.setPointerCapture(e.pointerId);
    });
    viewer.addEventListener("pointermove", function (e) {
      if (!drag) return;
      tx = drag.tx + e.clientX - drag.x; ty = drag.ty + e.clientY - drag.y; apply();
    });
    function endDrag() { drag = null; viewer.classList.remove("panning"); }
    viewer.addEventListener("pointerup", endDrag);
    viewer.addEventListener("pointercancel", endDrag);
    $("#zoom-in").addEventListener("click", function () { var c = centre(); zoomAt(1.5, c[0], c[1]); });
    $("#zoom-out").addEventListener("click", function () { var c = centre(); zoomAt(1 / 1.5, c[0], c[1]); });
    $("#zoom-fit").addEventListener("click", function () { k = 1; tx = 0; ty = 0; apply(); });
    $("#toggle-outlines").addEventListener("click", function () {
      var g = $("#outlines"), hidden = g.classList.toggle("hidden-outlines");
      this.setAttribute("aria-pressed", hidden ? "false" : "true");
    });
    $all(".cluster-zoom").forEach(function (button) {
      button.addEventListener("click", function () {
        var id = button.getAttribute("data-cluster-id");
        var box = $("#outline-" + id + " .cluster-box");
        if (!box) return;
        var r = viewer.getBoundingClientRect();
        var s0 = Math.min(r.width / vb.width, r.height / vb.height);
        var ox = (r.width - vb.width * s0) / 2, oy = (r.height - vb.height * s0) / 2;
        var bx = +box.getAttribute("x"), by = +box.getAttribute("y");
        var bw = +box.getAttribute("width"), bh = +box.getAttribute("height");
        k = Math.min(40, Math.max(1, 0.35 * Math.min(r.width / (bw * s0), r.height / (bh * s0))));
        tx = r.width / 2 - k * (ox + s0 * (bx + bw / 2));
        ty = r.height / 2 - k * (oy + s0 * (by + bh / 2));
        apply();
        $all(".cluster-outline").forEach(function (g) { g.classList.toggle("focused", g.getAttribute("data-cluster-id") === id); });
      });
    });
  }

  /* ---------------- corrections: same rules, recomputed on the server ---------------- */
  var page = null;
  function pageData() {
    if (page === null) {
      var node = $("#page-data");
      page = node ? JSON.parse(node.textContent) : {};
    }
    return page;
  }

  function collectCorrections() {
    var clusters = {}, concepts = {};
    $all("select.cluster-pattern").forEach(function (s) {
      if (s.value !== s.getAttribute("data-original")) clusters[s.getAttribute("data-cluster-id")] = s.value;
    });
    $all("select.concept-status").forEach(function (s) {
      if (s.value !== s.getAttribute("data-original")) concepts[s.getAttribute("data-concept")] = s.value;
    });
    return { clusters: clusters, concepts: concepts };
  }
  function isEmpty(c) { return !Object.keys(c.clusters).length && !Object.keys(c.concepts).length; }

  function renderAction(rec, primary) {
    var titles = pageData().action_titles || {};
    var art = el("article", "action urgency-" + rec.urgency + (primary ? " action-primary" : ""));
    art.setAttribute("data-action", rec.action);
    art.setAttribute("data-urgency", rec.urgency);
    var head = el("header", "action-head");
    head.appendChild(el("span", "action-title", titles[rec.action] || rec.action));
    head.appendChild(el("span", "urgency-badge", rec.urgency));
    head.appendChild(el("span", "rule-ids", (rec.rules || []).join(", ")));
    art.appendChild(head);
    art.appendChild(el("p", "rationale", rec.rationale));
    var details = el("details", "source");
    details.appendChild(el("summary", null, "Source: " + rec.source));
    if (rec.source_passage) details.appendChild(el("blockquote", null, rec.source_passage));
    art.appendChild(details);
    return art;
  }

  function renderDecision(decision) {
    var box = $("#actions");
    box.textContent = "";
    var recs = decision.recommendations || [];
    if (!recs.length) {
      var none = el("article", "action action-primary urgency-none");
      var head = el("header", "action-head");
      head.appendChild(el("span", "action-title", "No recommendation"));
      none.appendChild(head);
      box.appendChild(none);
    }
    recs.forEach(function (rec, i) {
      if (i === 1) box.appendChild(el("h2", "also", "Also"));
      box.appendChild(renderAction(rec, i === 0));
    });
    if (decision.impression) $("#impression").value = decision.impression;
  }

  function updateImageLabels() {
    $all("select.cluster-pattern").forEach(function (s) {
      var id = s.getAttribute("data-cluster-id");
      var label = $("#outline-" + id + " .label-pattern");
      if (label) label.textContent = s.value === "none" ? "not calcification" : s.value.replace(/_/g, " ");
      s.closest("tr").classList.toggle("changed", s.value !== s.getAttribute("data-original"));
    });
    $all("select.concept-status").forEach(function (s) {
      var concept = s.getAttribute("data-concept"), changed = s.value !== s.getAttribute("data-original");
      s.closest("tr").classList.toggle("changed", changed);
      $all('mark.evidence[data-concept="' + concept + '"]').forEach(function (m) {
        if (!m.hasAttribute("data-original-class")) m.setAttribute("data-original-class", m.className);
        m.className = changed ? "evidence status-" + s.value + " corrected" : m.getAttribute("data-original-class");
        var tag = $(".evidence-tag", m);
        if (tag) tag.textContent = concept.replace(/_/g, " ") + " · " + (changed ? s.value + " (corrected)" : m.className.replace(/.*status-(\S+).*/, "$1"));
      });
    });
  }

  var originalActions = null, originalImpression = null, requestSeq = 0;
  function recompute() {
    var corrections = collectCorrections();
    updateImageLabels();
    var note = $("#corrected-note");
    if (isEmpty(corrections)) {
      $("#actions").innerHTML = originalActions;  // the server-rendered markup saved at load
      $("#impression").value = originalImpression;
      note.classList.add("hidden");
      return;
    }
    var seq = ++requestSeq;
    postJSON("/api/v1/recommend", { result_id: pageData().result_id, corrections: corrections })
      .then(function (decision) {
        if (seq !== requestSeq) return;  // a later change already asked again
        renderDecision(decision);
        note.classList.remove("hidden");
      })
      .catch(function (err) { note.classList.remove("hidden"); note.textContent = "Could not recompute: " + err.message; });
  }

  function addConceptRow(concept, status) {
    var tbody = $("#concept-table tbody");
    var empty = $(".empty-row", tbody);
    if (empty) empty.remove();
    var tr = el("tr");
    tr.setAttribute("data-concept", concept);
    tr.appendChild(el("td", null, concept.replace(/_/g, " ")));
    var td = el("td"), select = $("#add-concept-status").cloneNode(true);
    select.removeAttribute("id");
    select.className = "concept-status";
    select.setAttribute("data-concept", concept);
    select.setAttribute("data-original", "__missing__");
    select.value = status;
    select.addEventListener("change", recompute);
    td.appendChild(select);
    tr.appendChild(td);
    tr.appendChild(el("td", "muted small", "added by you (missed by the reader)"));
    tr.classList.add("added");
    tbody.appendChild(tr);
  }

  function initCorrections() {
    if (!$("#page-data")) return;
    originalActions = $("#actions").innerHTML;
    originalImpression = $("#impression").value;
    $all("select.cluster-pattern, select.concept-status").forEach(function (s) { s.addEventListener("change", recompute); });
    var add = $("#add-concept");
    if (add) add.addEventListener("click", function () {
      var nameSel = $("#add-concept-name");
      if (!nameSel.value) return;
      addConceptRow(nameSel.value, $("#add-concept-status").value);
      nameSel.remove(nameSel.selectedIndex);
      recompute();
    });
    $("#undo-corrections").addEventListener("click", function () {
      $all("select.cluster-pattern, select.concept-status").forEach(function (s) { s.value = s.getAttribute("data-original"); });
      $all("#concept-table tr.added").forEach(function (tr) {
        var opt = el("option", null, tr.getAttribute("data-concept").replace(/_/g, " "));
        opt.value = tr.getAttribute("data-concept");
        $("#add-concept-name").appendChild(opt);
        tr.remove();
      });
      recompute();
    });
  }

  /* ---------------- feedback and copy ---------------- */
  function initFeedback() {
    var buttons = $all("#agree, #disagree");
    buttons.forEach(function (button) {
      button.addEventListener("click", function () {
        var status = $("#feedback-status");
        status.textContent = "Saving…";
        postJSON("/api/v1/analyses/" + pageData().result_id + "/feedback", {
          verdict: button.getAttribute("data-verdict"),
          comment: $("#feedback-comment").value || null,
          corrections: collectCorrections()
        }).then(function (receipt) {
          buttons.forEach(function (b) { b.classList.toggle("chosen", b === button); });
          status.textContent = "Recorded: " + receipt.verdict + (receipt.corrected_primary_action ?
            " (with your corrections → " + receipt.corrected_primary_action.replace(/_/g, " ") + ")" : "") + ". Thank you.";
          status.setAttribute("data-feedback-id", receipt.feedback_id);
        }).catch(function (err) { status.textContent = "Not saved: " + err.message; });
      });
    });
  }

  function initCopy() {
    var button = $("#copy-impression");
    if (!button) return;
    button.addEventListener("click", function () {
      var text = $("#impression"), status = $("#copy-status");
      function fallback() {  // plain http on a hospital network has no async clipboard
        text.focus(); text.select();
        var ok = false;
        try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
        status.textContent = ok ? "Copied." : "Selected: press Ctrl+C to copy.";
      }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text.value).then(function () { status.textContent = "Copied."; }, fallback);
      } else {
        fallback();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    initUploadForm();
    initViewer();
    initCorrections();
    initFeedback();
    initCopy();
  });
})();
