"""The shipped sample studies: complete, varied, decodable, and the README's quick start runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from radassist.dicom import read_dicom
from radassist.model import PATTERNS

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_data"
LABELS = [json.loads(line) for line in (SAMPLES / "labels.jsonl").read_text().splitlines() if line.strip()]


def test_every_pattern_and_a_normal_leg_are_shipped_with_reports():
    assert {label["primary_pattern"] for label in LABELS} == set(PATTERNS)
    for label in LABELS:
        assert (SAMPLES / label["file"]).is_file() and (SAMPLES / label["report_file"]).is_file()
    assert sum(p.stat().st_size for p in SAMPLES.iterdir()) < 20e6


def test_samples_vary_transfer_syntax_and_polarity():
    syntaxes = {label["transfer_syntax"] for label in LABELS}
    assert {"1.2.840.10008.1.2.1", "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.80",
            "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.4.70"} <= syntaxes
    assert {label["photometric"] for label in LABELS} == {"MONOCHROME1", "MONOCHROME2"}


@pytest.mark.parametrize("label", LABELS, ids=[label["file"] for label in LABELS])
def test_sample_decodes_as_labelled(label):
    image = read_dicom(SAMPLES / label["file"])
    assert image.study.transfer_syntax_uid == label["transfer_syntax"]
    assert image.study.photometric_interpretation == label["photometric"]
    assert image.pixels.shape == (label["rows"], label["columns"])
    assert image.spacing_mm[0] == pytest.approx(label["spacing_mm"], rel=1e-3)


def test_readme_quick_start_commands_run(tmp_path):
    readme = (REPO / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("```", 2)[1]
    commands = [line.split("#")[0].split(">")[0].split() for line in quick.splitlines()
                if line.startswith("radassist analyze")]
    assert len(commands) >= 3
    for command in commands:
        args = command[1:]
        if "--overlay" in args:  # write the picture somewhere harmless
            args[args.index("--overlay") + 1] = str(tmp_path / "overlay.png")
        proc = subprocess.run([sys.executable, "-m", "radassist", *args], cwd=REPO, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, (command, proc.stderr)
        if "--format" in args:
            json.loads(proc.stdout)
        elif Path(REPO / args[1]).is_dir():
            assert len(proc.stdout.splitlines()) == len(LABELS)
        else:
            assert re.search(r"^(PRIMARY ACTION|No recommendation)", proc.stdout, re.M)
    assert (tmp_path / "overlay.png").stat().st_size > 1000
