"""How long the engine keeps things and how often its background work runs."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from bot.approvals import keys
from bot.approvals.chain import MIN_KEY_LENGTH


@dataclass(frozen=True, slots=True)
class StoreSettings:
    retention_s: float = keys.DEFAULT_RETENTION_S
    """How long a record stays readable after its decision (and after its deadline, if never decided)."""
    audit_retention_s: float = keys.DEFAULT_AUDIT_RETENTION_S
    """Audit entries older than this are trimmed from the streams by maintenance (anchored: ``sealing.py``)."""
    sweep_interval_s: float = 2.0
    """How often maintenance runs a round: expire orphans, re-report cards that do not show their outcome."""
    resync_interval_s: float = 30.0
    """How often the subscriber re-reads every awaited record, whatever else happens."""
    report_grace_s: float = 5.0
    """How long the process that decided has to update the card (``mark_shown``) before any replica re-reports
    the decision to its transition listeners."""
    report_lease_s: float = 15.0
    """How long a replica that re-reported a decision holds it before another may try again (doubling with each
    attempt, up to ``report_max_lease_s``)."""
    report_max_lease_s: float = 600.0
    liveness_idle_s: float = 1.5
    """The subscriber sends its own PING after this much silence on its connection ..."""
    liveness_timeout_s: float = 2.0
    """... and reconnects (then resyncs) when nothing comes back within this."""
    audit_hmac_key: bytes | None = field(default=None, repr=False)
    """``AUDIT_HMAC_KEY``: with it, maintenance seals the audit chains (``sealing.py``). It never reaches Redis."""

    def __post_init__(self) -> None:
        for each in fields(self):
            value = getattr(self, each.name)
            if isinstance(value, float | int) and value <= 0:
                raise ValueError(f"StoreSettings.{each.name} must be positive")
        if self.audit_hmac_key is not None and len(self.audit_hmac_key) < MIN_KEY_LENGTH:
            raise ValueError(f"StoreSettings.audit_hmac_key needs at least {MIN_KEY_LENGTH} bytes")
