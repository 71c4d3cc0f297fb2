"""Settings of ``radassist serve``: command-line flags over environment variables over defaults.

Every setting has an environment variable ``RADASSIST_<NAME>`` (e.g.
``RADASSIST_PORT``, ``RADASSIST_API_TOKEN``), so the service can be configured
by a process manager without a command line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field, SecretStr

ENV_PREFIX = "RADASSIST_"


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/radassist`` (``~/.local/share/radassist``)."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "radassist"


class Settings(BaseModel):
    """What the web service needs to start. Units are in the names."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1, description="uvicorn worker processes (each has its own analysis pool)")
    analysis_processes: int = Field(
        default_factory=lambda: max(1, os.cpu_count() or 1),
        ge=1, description="analyses run at once (per uvicorn worker)",
    )
    queue_size: int = Field(16, ge=1, description="analyses queued or running before the service answers 503")
    executor: Literal["process", "thread"] = Field(
        "process", description="process: analyses in a process pool (the default); thread: in threads (tests)"
    )
    max_upload_mb: float = Field(100.0, gt=0, description="largest accepted upload, in MB (10^6 bytes)")
    api_token: Optional[SecretStr] = Field(None, description="when set, the API and the page need this bearer token")
    data_dir: Path = Field(default_factory=default_data_dir, description="holds the SQLite database and uploads")
    database: Optional[Path] = Field(None, description="SQLite file; default DATA_DIR/radassist.sqlite3")
    sr_retention_hours: float = Field(
        24.0, ge=0, description="hours the DICOM SR of an analysis is kept for download (it names the patient); "
                                "0: no SR is built",
    )
    log_level: str = "info"

    @property
    def sr_retention_s(self) -> float:
        return self.sr_retention_hours * 3600.0

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1_000_000)

    @property
    def database_path(self) -> Path:
        return self.database or self.data_dir / "radassist.sqlite3"

    @property
    def upload_dir(self) -> Path:
        return self.data_dir / "uploads"

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None, **overrides) -> "Settings":
        """Settings from ``RADASSIST_*`` variables, then ``overrides`` (flags; ``None`` means not given)."""
        environ = os.environ if environ is None else environ
        values: dict = {}
        for name in cls.model_fields:
            raw = environ.get(ENV_PREFIX + name.upper())
            if raw not in (None, ""):
                values[name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)

    def to_env(self) -> dict[str, str]:
        """The ``RADASSIST_*`` variables that recreate these settings (for uvicorn's worker processes)."""
        out = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            out[ENV_PREFIX + name.upper()] = str(value)
        return out
