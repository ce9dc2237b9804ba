"""Configuration and result of one generator run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

FORMATS = ("csv", "csv.gz", "parquet")


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate. The same config (seed included) gives byte-identical output."""

    out: Path
    seed: int = 42
    accounts: int = 12
    campaigns: int = 30
    days: int = 45
    recipients_per_send: int = 150
    end_date: date | None = None
    format: str = "csv"
    truth_path: Path | None = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {self.format!r}")
        for name in ("accounts", "campaigns", "days", "recipients_per_send"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.campaigns < self.accounts:
            raise ValueError("campaigns must be at least accounts (every account runs a campaign)")
        object.__setattr__(self, "out", Path(self.out))
        if self.truth_path is not None:
            object.__setattr__(self, "truth_path", Path(self.truth_path))

    @property
    def last_day(self) -> date:
        """The last extract day (default: yesterday in UTC)."""
        if self.end_date is not None:
            return self.end_date
        return datetime.now(UTC).date() - timedelta(days=1)

    @property
    def first_day(self) -> date:
        return self.last_day - timedelta(days=self.days - 1)

    @property
    def as_of(self) -> datetime:
        """The next UTC midnight after the last extract day (the warehouse default)."""
        return datetime.combine(self.last_day + timedelta(days=1), datetime.min.time(), UTC)

    @property
    def resolved_truth_path(self) -> Path:
        """Where the ground truth goes: beside ``out``, never inside it."""
        if self.truth_path is not None:
            return self.truth_path
        return self.out.parent / f"{self.out.name}.ground_truth.json"

    def params(self) -> dict[str, object]:
        return {
            "seed": self.seed,
            "accounts": self.accounts,
            "campaigns": self.campaigns,
            "days": self.days,
            "recipients_per_send": self.recipients_per_send,
            "start_date": self.first_day.isoformat(),
            "end_date": self.last_day.isoformat(),
            "format": self.format,
        }


@dataclass(frozen=True)
class GenerationResult:
    out: Path
    truth_path: Path
    as_of: datetime
    rows_written: dict[str, int] = field(default_factory=dict)
    malformed_written: dict[str, int] = field(default_factory=dict)
    bytes_written: int = 0
    seconds: float = 0.0
