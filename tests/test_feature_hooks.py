"""Lower features ask higher ones through hooks the higher ones register in their init_app: retention
asks incidents what media it holds and releases expired holds through it; a sponsor's funding
report counts the cases its cameras helped with through the dashboards' wiring. Registering twice
(an app built twice in one process) registers once."""
from __future__ import annotations

from camnet.billing_socialization import reports
from camnet.incidents import evidence, services
from camnet.streams import retention


def test_incidents_registers_its_holds_with_retention_once(app, make_app):
    assert retention.HOLD_CHECKS.count(services.evidence_item_ids) == 1
    assert retention.OBJECT_KEYS.count(evidence.export_keys) == 1
    assert retention.EXPIRED_HOLD_RELEASERS.count(services.release_expired_holds) == 1
    make_app("sqlite")  # a second app in the same process
    assert retention.HOLD_CHECKS.count(services.evidence_item_ids) == 1
    assert retention.EXPIRED_HOLD_RELEASERS.count(services.release_expired_holds) == 1


def test_the_sponsor_report_counts_cases_through_the_registered_finder(app):
    assert reports.CAMERA_CASES.count(services.incidents_for_cameras) == 1
    assert reports.incidents_for_cameras([]) == []


def test_a_failing_hold_releaser_keeps_the_sweep_running(app, monkeypatch):
    def broken(now):
        raise RuntimeError("database away")

    monkeypatch.setattr(retention, "EXPIRED_HOLD_RELEASERS", [broken])
    with app.app_context():
        result = retention.sweep(app, orphans=False)
    assert result.holds_released == 0 and any("release holds" in e for e in result.errors)
