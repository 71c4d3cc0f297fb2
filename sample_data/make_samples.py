"""Regenerate the committed sample studies (a maintainer's tool, not run by CI).

    python sample_data/make_samples.py

One study per pattern (two for the concerning ones) plus a normal leg, in
several transfer syntaxes and both polarities, each with a matching report
``.txt`` and a line in ``labels.jsonl``. JPEG Lossless and JPEG Extended
(12-bit lossy) copies are made with DCMTK's ``dcmcjpeg`` when it is installed
(pydicom cannot encode those).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pydicom

from radassist.synth import make_case

HERE = Path(__file__).resolve().parent

# name, pattern, seed, transfer syntax, photometric, report text
STUDIES = [
    ("none_01", "none", 101, None, "MONOCHROME2", "Left calf pain after a fall two days ago. No swelling."),
    ("arterial_01", "arterial", 102, "rle", "MONOCHROME2", "Type 2 diabetic, claudication."),
    ("phlebolith_01", "phlebolith", 103, "jpegls", "MONOCHROME1", "Left calf pain. No swelling."),
    ("diffuse_01", "diffuse", 104, "j2k", "MONOCHROME2", ""),
    ("central_01", "central", 105, "deflate", "MONOCHROME2", "No history of DVT. Denies chest pain."),
    ("laminated_01", "laminated", 106, "j2k", "MONOCHROME1", "Firm lump in the calf, present for years."),
    ("popcorn_01", "popcorn", 107, "jpegls", "MONOCHROME2", ""),
    ("stippled_01", "stippled", 108, "j2k", "MONOCHROME2", "Palpable mass."),
    ("stippled_02", "stippled", 118, "dcmtk-jpeg-lossless", "MONOCHROME1",
     "Hx: 61M, L calf swelling x3d, r/o DVT. Enlarging mass, r/o sarcoma."),
    ("eccentric_01", "eccentric", 109, "rle", "MONOCHROME1", "Rapidly enlarging mass in the calf."),
    ("eccentric_02", "eccentric", 119, "dcmtk-jpeg-extended", "MONOCHROME2", "Calf mass. Ultrasound inconclusive."),
    ("peripheral_plaque_01", "peripheral_plaque", 110, "jpegls", "MONOCHROME2",
     "Crush injury with fasciotomy 25 years ago, slowly growing painless lump."),
    ("nonspecific_01", "nonspecific", 111, "deflate", "MONOCHROME2", "US indeterminate. ? myositis ossificans"),
]
ROWS, COLUMNS, SPACING = 1500, 900, 0.2


def main() -> int:
    labels = []
    for name, pattern, seed, syntax, photometric, report in STUDIES:
        via_dcmtk = syntax.startswith("dcmtk") if syntax else False
        case = make_case(seed, pattern, rows=ROWS, columns=COLUMNS, spacing_mm=SPACING,
                         transfer_syntax=None if via_dcmtk else syntax, photometric=photometric)
        path = HERE / f"{name}.dcm"
        case.dataset.save_as(path, enforce_file_format=True)
        if via_dcmtk:
            _dcmcjpeg(path, "+e1" if syntax == "dcmtk-jpeg-lossless" else "+ee")
        (HERE / f"{name}.txt").write_text(report + ("\n" if report else ""))
        syntax_uid = str(pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID)
        label = dict(case.label, file=path.name, report_file=f"{name}.txt", transfer_syntax=syntax_uid)
        labels.append(label)
        print(f"{name}: {pattern}, {path.stat().st_size / 1e6:.1f} MB", file=sys.stderr)
    (HERE / "labels.jsonl").write_text("".join(json.dumps(label) + "\n" for label in labels))
    return 0


def _dcmcjpeg(path: Path, mode: str) -> None:
    if not shutil.which("dcmcjpeg"):
        sys.exit("dcmcjpeg (DCMTK) is needed for the JPEG samples: apt-get install dcmtk")
    tmp = path.with_suffix(".tmp")
    subprocess.run(["dcmcjpeg", mode, str(path), str(tmp)], check=True)
    tmp.replace(path)


if __name__ == "__main__":
    sys.exit(main())
