"""Metrics built on Contact Lens are withheld, not published as 0, when the instance has no
Contact Lens or no analysis reached any answered call of the day (flows/daily.withheld_metrics)."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from configs.settings import load_settings
from configs.vendors import CONTACT_LENS_METRICS, VendorMapping
from flows.daily import withheld_metrics
from tests.metrics.frames import calls_frame
from tests.vendors import vendor_fixtures as fx
from transforms.contacts import AuditWindow
from transforms.escalation import analysed_calls

DAY = date(2026, 3, 2)
WINDOW = AuditWindow(DAY, "UTC", datetime(2026, 3, 6, tzinfo=UTC))
MAPPING = tomllib.loads(fx.MAPPING_TOML)


def _call(call_id: str, ended: str, *, answered: bool = True, **analysis: Any) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "initiated_at": f"{ended[:10]}T09:00:00Z",
        "answered_at": f"{ended[:10]}T09:01:00Z" if answered else None,
        "ended_at": ended,
        "agent_id": "501" if answered else None,
        **analysis,
    }


def test_analysed_calls_counts_the_days_answered_calls_and_those_with_an_analysis() -> None:
    calls = calls_frame(
        _call("k1", "2026-03-02T10:00:00Z", sentiment_start=-3.0, sentiment_end=1.0),
        _call("k2", "2026-03-02T11:00:00Z", agent_interruptions=0),  # 0 interruptions is known
        _call("k3", "2026-03-02T12:00:00Z"),  # no analysis
        _call("k4", "2026-03-02T13:00:00Z", answered=False),  # abandoned: not counted
        _call("k5", "2026-03-03T00:00:00Z", sentiment_start=1.0),  # ends the next day
    )
    assert analysed_calls(calls, WINDOW).collect().row(0) == (3, 2)


def test_a_mapping_without_contact_lens_withholds_its_metrics() -> None:
    gaps = VendorMapping.model_validate(
        {**MAPPING, "connect": {**MAPPING["connect"], "contact_lens": False}}
    ).withheld()
    assert set(CONTACT_LENS_METRICS) <= set(gaps)
    assert (
        gaps["lost_control"]
        == "connect.contact_lens is false, so call sentiment and interruptions are unknown"
    )
    # Without Zendesk's request tag, Contact Lens rules were the only sight of a request.
    zendesk = {k: v for k, v in MAPPING["zendesk"].items() if k != "escalation_request"}
    blind = VendorMapping.model_validate(
        {"zendesk": zendesk, "connect": {**MAPPING["connect"], "contact_lens": False}}
    )
    assert blind.withheld()["missed_escalation"] == (
        "zendesk.escalation_request is not mapped and connect.contact_lens is false, so requests for a "
        "supervisor cannot be seen"
    )
    assert "missed_escalation" not in VendorMapping.model_validate({**MAPPING, "zendesk": zendesk}).withheld()
    with_lens = VendorMapping.model_validate(MAPPING).withheld()
    assert not set(CONTACT_LENS_METRICS) & set(with_lens)


@pytest.fixture
def vendor_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(fx.MAPPING_TOML)
    monkeypatch.setenv("AUDIT_LANDING_VENDOR", "zendesk+connect")
    monkeypatch.setenv("AUDIT_VENDOR_MAPPING_PATH", str(mapping))
    return load_settings(
        env="local", landing_uri=str(tmp_path / "landing"), warehouse_uri=str(tmp_path / "wh")
    )


def test_a_day_whose_answered_calls_have_no_analysis_withholds_the_contact_lens_metrics(
    vendor_settings: Any,
) -> None:
    bare = calls_frame(_call("k1", "2026-03-02T10:00:00Z"), _call("k2", "2026-03-02T11:00:00Z"))
    gaps = withheld_metrics(vendor_settings, bare, WINDOW, min_calls=2)
    assert {n: gaps[n] for n in CONTACT_LENS_METRICS} == dict.fromkeys(
        CONTACT_LENS_METRICS,
        "no Contact Lens analysis for any answered call of the day (is Contact Lens writing under "
        "'connect/Analysis/Voice/'? if it is not enabled, set connect.contact_lens = false)",
    )
    # Fewer answered calls than min_calls (the policy's min_volume) are not evidence enough.
    assert not set(CONTACT_LENS_METRICS) & set(withheld_metrics(vendor_settings, bare, WINDOW, min_calls=3))
    assert gaps["satisfaction_confirmed"] == "connect.satisfaction_attribute is unset"  # the mapping's own
    # One analysed call is enough: the metrics are computed from what is known.
    analysed = calls_frame(
        _call("k1", "2026-03-02T10:00:00Z"), _call("k2", "2026-03-02T11:00:00Z", sentiment_end=0.0)
    )
    assert not set(CONTACT_LENS_METRICS) & set(
        withheld_metrics(vendor_settings, analysed, WINDOW, min_calls=2)
    )
    # A day with no answered call withholds nothing on this account (nothing would read 0).
    assert not set(CONTACT_LENS_METRICS) & set(withheld_metrics(vendor_settings, calls_frame(), WINDOW))


def test_a_contract_landing_withholds_nothing_whatever_its_calls_say(tmp_path: Path) -> None:
    settings = load_settings(
        env="local", landing_uri=str(tmp_path / "landing"), warehouse_uri=str(tmp_path / "wh")
    )
    bare = calls_frame(_call("k1", "2026-03-02T10:00:00Z"))
    assert withheld_metrics(settings, bare, WINDOW) == {}


def test_call_escalations_the_mapping_cannot_see_withhold_escalation_only_on_days_with_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Zendesk-only centre maps ticket escalations and no Connect escalation queue: its days
    without an answered call publish the escalation rates (the tickets alone decide them); a day
    with one withholds them (the call could be escalated unseen, a 0 that means nothing)."""
    assert "escalated_to_attribute" not in MAPPING["connect"]
    zendesk_only = fx.MAPPING_TOML.replace(
        'escalation_queues = ["Billing Supervisors"]', "escalation_queues = []"
    )
    assert zendesk_only != fx.MAPPING_TOML
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(zendesk_only)
    monkeypatch.setenv("AUDIT_LANDING_VENDOR", "zendesk+connect")
    monkeypatch.setenv("AUDIT_VENDOR_MAPPING_PATH", str(mapping))
    settings = load_settings(env="local", landing_uri=str(tmp_path / "l"), warehouse_uri=str(tmp_path / "w"))
    escalation = {"escalation", "missed_escalation", "late_escalation"}
    assert not escalation & set(withheld_metrics(settings, calls_frame(), WINDOW))
    unanswered = calls_frame(_call("k0", "2026-03-02T10:00:00Z", answered=False))
    assert not escalation & set(withheld_metrics(settings, unanswered, WINDOW))
    answered = calls_frame(_call("k1", "2026-03-02T10:00:00Z"))
    assert withheld_metrics(settings, answered, WINDOW)["escalation"].startswith(
        "connect.escalation_queues and connect.escalated_to_attribute are unset"
    )
