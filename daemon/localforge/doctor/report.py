"""The doctor's answer: one line per check, ok / warn / fail, each problem with its fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["ok", "warn", "fail"]
MARKS: dict[Status, str] = {"ok": "ok", "warn": "warn", "fail": "FAIL"}


@dataclass(frozen=True)
class Check:
    group: str  # system | setup | models
    name: str
    status: Status
    detail: str
    fix: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "fix": self.fix,
            "data": self.data,
        }


@dataclass(frozen=True)
class Report:
    version: str
    checks: tuple[Check, ...]
    elapsed_s: float

    @property
    def failed(self) -> bool:
        return any(check.status == "fail" for check in self.checks)

    def counts(self) -> dict[str, int]:
        return {status: sum(c.status == status for c in self.checks) for status in MARKS}

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "ok": not self.failed,
            "summary": self.counts(),
            "elapsed_s": round(self.elapsed_s, 2),
            "checks": [check.as_dict() for check in self.checks],
        }

    def text(self) -> str:
        """The report for a person: checks under their group, fixes indented below."""
        width = max((len(c.name) for c in self.checks), default=0)
        lines = [f"LocalForge doctor {self.version}"]
        group = None
        for check in self.checks:
            if check.group != group:
                group = check.group
                lines.append(group)
            lines.append(f"  {MARKS[check.status]:<4}  {check.name:<{width}}  {check.detail}")
            if check.fix:
                lines.append(f"        {'':<{width}}  fix: {check.fix}")
        counts = self.counts()
        lines.append(
            f"{len(self.checks)} checks in {self.elapsed_s:.1f} s: {counts['ok']} ok, "
            f"{counts['warn']} warning(s), {counts['fail']} failure(s)"
        )
        return "\n".join(lines)
