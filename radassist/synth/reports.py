"""Short clinical indications to accompany synthetic radiographs.

The phrases live in ``reports.yaml``; this module only assembles them. The
text is flavoured by the pattern but deliberately not always consistent with
it, as real requests are not.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

PHRASES_FILE = Path(__file__).with_name("reports.yaml")


@lru_cache(maxsize=1)
def phrases() -> dict:
    """The phrase pools, loaded once from :data:`PHRASES_FILE`."""
    with open(PHRASES_FILE, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def make_report(rng: np.random.Generator, pattern: str, laterality: str) -> str:
    """An indication text (possibly empty) for a case of ``pattern`` on side ``laterality``."""
    p = phrases()
    if rng.random() < 0.07:
        return ""
    sex = str(rng.choice(["F", "M"]))
    fields = {
        "age": int(rng.integers(18, 90)),
        "sex": sex,
        "sexword": "woman" if sex == "F" else "man",
        "side": {"L": "left", "R": "right"}[laterality] if rng.random() < 0.85 else str(rng.choice(["L", "R"])),
        "symptom": str(rng.choice(p["symptoms"])),
        "weeks": int(rng.integers(1, 12)),
    }
    sentences = []
    if rng.random() < 0.8:
        sentences.append(str(rng.choice(p["headers"])).format(**fields))
    pools = list(p["by_pattern"][pattern])
    if rng.random() < 0.3:
        pools.append(str(rng.choice(sorted(p["pools"]))))
    for pool in pools[: int(rng.integers(1, len(pools) + 1))]:
        sentences.append(str(rng.choice(p["pools"][pool])))
    if rng.random() < 0.25:
        sentences.append(str(rng.choice(p["pools"]["negative"])))
    return " ".join(sentences)
