"""What a radiologist reads: the text summary, the impression sentence, the overlay."""

from __future__ import annotations

import io
from typing import Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .model import AnalysisResult, Cluster, ImageFindings, Recommendation

PATTERN_PHRASES = {
    "arterial": "linear, tram-track vascular calcification, consistent with arterial calcification",
    "phlebolith": "round calcifications with central lucency, consistent with phleboliths (benign venous calcification)",
    "diffuse": "a densely and uniformly calcified lesion (benign classic pattern)",
    "central": "a soft-tissue nodule with a central calcified core (benign classic pattern)",
    "laminated": "laminated, concentric calcification (benign classic pattern)",
    "popcorn": "popcorn-type calcification of rings and arcs (benign classic, chondroid pattern)",
    "stippled": "stippled, punctate calcification (a concerning pattern)",
    "eccentric": "eccentric calcification within a soft-tissue mass (a concerning pattern)",
    "peripheral_plaque": "peripheral plaque-like calcification of a fusiform mass, suggestive of calcific myonecrosis",
    "nonspecific": "non-specific soft-tissue calcification",
}

ACTION_PHRASES = {
    "emergency_evaluation": "emergency clinical evaluation for possible pulmonary embolism",
    "duplex_ultrasound": "complete duplex ultrasound to assess for deep vein thrombosis",
    "mri": "MRI for characterisation",
    "ct": "CT to characterise the mineralisation (ossification vs calcification)",
    "ultrasound": "ultrasound as the next step",
    "vascular_studies": "vascular studies for underlying vascular disease",
    "consider_biopsy": "biopsy only if MRI suggests malignancy",
    "clinical_follow_up": "clinical follow-up if symptomatic",
    "no_further_imaging": "no further imaging",
}

ACTION_TITLES = {
    "emergency_evaluation": "Emergency evaluation",
    "duplex_ultrasound": "Duplex ultrasound",
    "mri": "MRI",
    "ct": "CT",
    "ultrasound": "Ultrasound",
    "vascular_studies": "Vascular studies",
    "consider_biopsy": "Consider biopsy",
    "clinical_follow_up": "Clinical follow-up",
    "no_further_imaging": "No further imaging",
}

#: Display group of each pattern (overlay colours here, outline classes on the web page).
PATTERN_GROUPS = {
    "stippled": "concerning", "eccentric": "concerning", "nonspecific": "nonspecific",
    "diffuse": "benign", "central": "benign", "laminated": "benign", "popcorn": "benign",
    "arterial": "vascular", "phlebolith": "vascular", "peripheral_plaque": "myonecrosis",
}
#: Overlay colours by pattern group (RGB): concerning red, non-specific orange,
#: benign green, vascular cyan, myonecrosis magenta.
GROUP_COLOURS = {
    "concerning": (230, 40, 40), "nonspecific": (255, 150, 0), "benign": (60, 200, 80),
    "vascular": (0, 200, 230), "myonecrosis": (220, 60, 220),
}
PATTERN_COLOURS = {pattern: GROUP_COLOURS[group] for pattern, group in PATTERN_GROUPS.items()}
MASS_COLOUR = (255, 220, 0)


def _size(size_mm, size_px) -> str:
    if size_mm:
        return f"{size_mm[0]:.0f} × {size_mm[1]:.0f} mm"
    return f"{size_px[0]} × {size_px[1]} px"


def impression_sentence(findings: ImageFindings, recommendations: Sequence[Recommendation],
                        has_spacing: bool = True) -> str:
    """A suggested impression for the report, from the findings and the actions."""
    if findings.status != "analysed":
        reason = "; ".join(findings.missing) or "the image could not be analysed"
        finding = f"Radiograph not assessable for soft-tissue calcification ({reason})."
    elif not findings.clusters:
        finding = "No soft-tissue calcification identified in the calf."
    else:
        phrases = [PATTERN_PHRASES[p] for p in findings.patterns if p in PATTERN_PHRASES]
        primary = next(c for c in findings.clusters if c.pattern == findings.primary_pattern)
        size = _size(primary.size_mm, primary.size_px)
        finding = f"Soft-tissue calcification in the calf ({size}): " + "; ".join(phrases) + "."
    if findings.status == "analysed" and findings.mass_detected and findings.masses:
        m = findings.masses[0]
        finding += f" Soft-tissue mass, {_size(m.size_mm, m.size_px)}."
    if recommendations:
        actions = [ACTION_PHRASES[r.action] for r in recommendations]
        advice = "Suggest " + "; ".join(actions) + "."
    else:
        advice = "No recommendation can be made from the image."
    return f"{finding} {advice}"


def format_text(result: AnalysisResult) -> str:
    """The plain-text summary a radiologist reads: primary action first."""
    s = result.study
    lines = [f"radassist {result.radassist_version} · decision support, not a diagnosis"]
    spacing = (f"{s.pixel_spacing_mm[0]:.3g} × {s.pixel_spacing_mm[1]:.3g} mm/px ({s.spacing_source})"
               if s.pixel_spacing_mm else "no pixel spacing: sizes in pixels")
    header = " ".join(x for x in (s.modality, s.body_part, s.view_position, s.laterality) if x)
    lines.append(f"Study: {header or 'radiograph'}, {s.rows} × {s.columns} px, {spacing}")
    lines.append(f"Algorithm: {result.algorithm.id} {result.algorithm.version}")
    lines.append("")
    recs = result.recommendations
    if result.status != "complete":
        lines.append("INSUFFICIENT INFORMATION: " + "; ".join(result.image.missing))
    if recs:
        first, rest = recs[0], recs[1:]
        lines.append(f"PRIMARY ACTION: {ACTION_TITLES[first.action].upper()}  [{first.urgency}]")
        lines += _recommendation_lines(first, indent="  ")
        if rest:
            lines.append("Also:")
            for rec in rest:
                lines.append(f"  - {ACTION_TITLES[rec.action]}  [{rec.urgency}]  rules {', '.join(rec.rules)}")
                lines += _recommendation_lines(rec, indent="      ")
    else:
        lines.append("No recommendation.")
    lines.append("")
    img = result.image
    if img.status == "analysed":
        lines.append(f"Image: {len(img.clusters)} calcification cluster(s); primary pattern {img.primary_pattern}")
        for c in img.clusters:
            alts = ", ".join(f"{k} {v:.2f}" for k, v in list(c.alternatives.items())[:2])
            lines.append(
                f"  #{c.id} {c.pattern} (confidence {c.confidence:.2f}; next: {alts or 'none'}), "
                f"{_size(c.size_mm, c.size_px)}, {c.lesion_count} {'focus' if c.lesion_count == 1 else 'foci'}, at row {c.centroid_px[0]:.0f} col {c.centroid_px[1]:.0f}"
            )
        for m in img.masses:
            lines.append(f"  mass {m.id}: {_size(m.size_mm, m.size_px)} (confidence {m.confidence:.2f})")
    lines.append("Text:" if result.text.concepts else "Text: no clinical concepts found")
    for c in result.text.concepts:
        spans = "; ".join(f'"{e.text}" [{e.start}:{e.end}]' for e in c.evidence[:3])
        lines.append(f"  {c.concept}: {c.status} · {spans}")
    if result.text.reported_patterns:
        lines.append(f"  patterns named in the text: {', '.join(result.text.reported_patterns)}")
    if result.warnings:
        lines.append("Warnings:")
        for w in result.warnings:
            lines.append(f"  - [{w.code}] {w.message}")
    lines.append("")
    lines.append("Suggested impression:")
    lines.append(f"  {result.impression}")
    return "\n".join(lines)


def _recommendation_lines(rec: Recommendation, indent: str) -> list[str]:
    out = [f"{indent}Why: {rec.rationale}", f"{indent}Source: {rec.source}"]
    if rec.source_passage:
        passage = rec.source_passage if len(rec.source_passage) < 240 else rec.source_passage[:237] + "…"
        out.append(f'{indent}  "{passage}"')
    return out


# --------------------------------------------------------------------------
# Overlay
# --------------------------------------------------------------------------


def display_window(pixels: np.ndarray, bbox: Optional[Sequence[int]] = None) -> np.ndarray:
    """8-bit display of a dense-is-bright image, windowed on the leg (1st–99.5th percentile).

    For display only: the analysis never uses a display window.
    """
    step = max(1, int(np.ceil(max(pixels.shape) / 1024)))
    region = pixels[bbox[0]:bbox[2], bbox[1]:bbox[3]] if bbox else pixels
    sample = region[::step, ::step]
    lo, hi = np.percentile(sample, [1.0, 99.5]) if sample.size else (0.0, 1.0)
    scale = 255.0 / max(float(hi - lo), 1e-6)
    return np.clip((pixels - lo) * scale, 0, 255).astype(np.uint8)


def render_overlay(pixels: np.ndarray, findings: ImageFindings, *, max_side: int = 2048) -> Image.Image:
    """The radiograph with every cluster outlined and labelled with its pattern.

    Parameters
    ----------
    pixels : ndarray
        Dense-is-bright image as analysed (stored orientation).
    findings : ImageFindings
    max_side : int
        The picture is scaled down so its longer side is at most this many pixels.
    """
    grey = display_window(pixels, findings.leg_bbox_px)
    scale = min(1.0, max_side / max(grey.shape))
    img = Image.fromarray(grey)
    if scale < 1.0:
        img = img.resize((max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale))),
                         Image.Resampling.BILINEAR)
    img = img.convert("RGB")
    draw = ImageDraw.Draw(img)
    width = max(2, round(3 * max(img.size) / 2048))
    font = _font(max(14, round(28 * max(img.size) / 2048)))
    for mass in findings.masses:
        _outline(draw, mass.contour_px, mass.bbox_px, scale, MASS_COLOUR, width, dashed=True)
        _label(draw, f"mass {mass.id}", mass.bbox_px, scale, MASS_COLOUR, font, below=True)
    for cluster in findings.clusters:
        colour = PATTERN_COLOURS.get(cluster.pattern, (255, 255, 255))
        _outline(draw, cluster.contour_px, _padded(cluster, pixels.shape), scale, colour, width)
        _label(draw, f"{cluster.id} {cluster.pattern} {cluster.confidence:.2f}", _padded(cluster, pixels.shape),
               scale, colour, font)
    return img


def overlay_png(pixels: np.ndarray, findings: ImageFindings, *, max_side: int = 2048) -> bytes:
    buf = io.BytesIO()
    render_overlay(pixels, findings, max_side=max_side).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def _padded(cluster: Cluster, shape) -> tuple[int, int, int, int]:
    """A box a little larger than the cluster, so the outline does not hide it."""
    r0, c0, r1, c1 = cluster.bbox_px
    pad = max(6, round(0.15 * max(r1 - r0, c1 - c0)))
    return (max(0, r0 - pad), max(0, c0 - pad), min(shape[0], r1 + pad), min(shape[1], c1 + pad))


def _outline(draw, contour, bbox, scale, colour, width, dashed=False):
    if contour and len(contour) >= 3 and not dashed:
        pts = [(c * scale, r * scale) for r, c in contour]
        draw.line(pts + [pts[0]], fill=colour, width=width, joint="curve")
        return
    r0, c0, r1, c1 = (v * scale for v in bbox)
    if not dashed:
        draw.rectangle([c0, r0, c1, r1], outline=colour, width=width)
        return
    step = max(6, width * 4)
    for x in np.arange(c0, c1, 2 * step):
        draw.line([(x, r0), (min(x + step, c1), r0)], fill=colour, width=width)
        draw.line([(x, r1), (min(x + step, c1), r1)], fill=colour, width=width)
    for y in np.arange(r0, r1, 2 * step):
        draw.line([(c0, y), (c0, min(y + step, r1))], fill=colour, width=width)
        draw.line([(c1, y), (c1, min(y + step, r1))], fill=colour, width=width)


def _label(draw, text, bbox, scale, colour, font, below=False):
    r0, c0, r1, c1 = (v * scale for v in bbox)
    x, y = c1 + 4, (r1 + 2 if below else r0)
    left, top, right, bottom = draw.textbbox((x, y), text, font=font)
    if right > draw.im.size[0]:  # keep the label on the picture
        x = max(0, c0 - (right - left) - 4)
        left, top, right, bottom = draw.textbbox((x, y), text, font=font)
    draw.rectangle([left - 2, top - 2, right + 2, bottom + 2], fill=(0, 0, 0))
    draw.text((x, y), text, fill=colour, font=font)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()
