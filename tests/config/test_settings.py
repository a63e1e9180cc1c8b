"""Settings layering: base < env overlay < config file < AUDIT_* env < explicit overrides."""

import pytest

from configs.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    import os

    for var in [v for v in os.environ if v.startswith("AUDIT_")]:
        monkeypatch.delenv(var)


def test_local_overlay_beats_base():
    s = load_settings(env="local")
    assert s.landing_uri == ".quickstart/landing"
    assert s.quarantine_prefix == "_quarantine"
    assert s.s3.max_attempts == 5


def test_prod_overlay_changes_nested_values_only():
    s = load_settings(env="prod")
    assert s.landing_uri.startswith("s3://")
    assert s.s3.max_attempts == 8
    assert s.s3.region == "us-east-1"


def test_env_vars_beat_files_and_overrides_beat_env(monkeypatch):
    monkeypatch.setenv("AUDIT_LANDING_URI", "s3://from-env/landing")
    monkeypatch.setenv("AUDIT_S3__ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("AUDIT_S3__MAX_ATTEMPTS", "3")
    s = load_settings(env="prod")
    assert s.landing_uri == "s3://from-env/landing"
    assert s.s3.endpoint_url == "http://127.0.0.1:9000"
    assert s.s3.max_attempts == 3
    s = load_settings(env="prod", landing_uri="/override", reports_uri=None)
    assert s.landing_uri == "/override"
    assert s.reports_uri.startswith("s3://")


def test_config_file_layer(tmp_path):
    extra = tmp_path / "site.toml"
    extra.write_text('warehouse_uri = "/srv/wh"\nnaive_timestamps_as_utc = true\n')
    s = load_settings(env="local", config_file=extra)
    assert s.warehouse_uri == "/srv/wh"
    assert s.naive_timestamps_as_utc is True
    with pytest.raises(FileNotFoundError):
        load_settings(config_file=tmp_path / "missing.toml")


def test_unknown_setting_is_refused(tmp_path):
    extra = tmp_path / "site.toml"
    extra.write_text('landing_url = "typo"\n')
    with pytest.raises(ValueError, match="landing_url"):
        load_settings(config_file=extra)


def test_a_settings_error_names_the_file_and_every_bad_key_in_its_first_line(tmp_path):
    """The CLI prints an error's first line: it must say what is wrong and where (before, it
    was `1 validation error for AuditSettings`)."""
    extra = tmp_path / "site.toml"
    extra.write_text('landng_uri = "data/landing"\nlock_wait_seconds = "soon"\n')
    with pytest.raises(SettingsError) as raised:
        load_settings(config_file=extra)
    first = str(raised.value).splitlines()[0]
    assert first.startswith(f"invalid settings ({extra}, configs/")
    assert "landng_uri: Extra inputs are not permitted" in first
    assert "lock_wait_seconds: Input should be a valid number" in first


def test_time_zone_defaults_to_policy():
    s = load_settings()
    policy = s.policy()
    assert s.time_zone(policy) == "UTC"
    assert load_settings(business_time_zone="Europe/Berlin").time_zone(policy) == "Europe/Berlin"


def test_a_business_time_zone_override_that_is_not_a_zone_is_refused_at_load(monkeypatch):
    """The settings value overrides the policy's zone; it is checked as the policy's is (before,
    a typo failed the run later, after the ingest, with exit code 1)."""
    monkeypatch.setenv("AUDIT_BUSINESS_TIME_ZONE", "Europe/Berln")
    with pytest.raises(
        SettingsError, match="business_time_zone: Value error, not an IANA time zone: 'Europe/Berln'"
    ):
        load_settings()
    monkeypatch.setenv("AUDIT_BUSINESS_TIME_ZONE", "Europe/Berlin")
    assert load_settings().business_time_zone == "Europe/Berlin"
