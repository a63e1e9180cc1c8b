"""The policy file: exactly the documented shape (docs/policy.md) is accepted; malformed files are
refused naming the key."""

import tomllib

import pytest

from configs.policy import DEFAULT_POLICY_PATH, PolicyError, load_policy, parse_policy


def _default() -> dict:
    return tomllib.loads(DEFAULT_POLICY_PATH.read_text())


def test_default_policy_loads_with_spec_values():
    policy = load_policy()
    assert policy.version == "2026.11-1"
    assert policy.min_volume == 20
    assert policy.follow_up.window_hours == 72
    assert policy.follow_up.categories == "all"
    assert policy.escalation.negative_sentiment == -2.0
    assert policy.concessions.caps["replacement"] == 300.0
    assert policy.concessions.currencies == {"USD": 1.0, "EUR": 1.08}
    assert policy.peers.limits == (0.95, 0.998)
    assert (policy.peers.fdr, policy.peers.winsor_fraction, policy.peers.min_agents) == (0.05, 0.1, 5)


def test_allowed_types_add_tier_extras_and_unknown_category_allows_none():
    c = load_policy().concessions
    assert c.allowed_types("outage", "standard") == {"credit", "free_service"}
    assert c.allowed_types("outage", "premium") == {"credit", "free_service", "discount"}
    assert c.allowed_types("general", "standard") == frozenset()
    assert c.allowed_types("general", "premium") == {"free_service", "discount"}


def test_currency_codes_are_upper_cased_like_the_exports():
    data = _default()
    data["concessions"]["currencies"] = {"usd": 1.0, "Eur": 1.08}
    assert parse_policy(data).concessions.currencies == {"USD": 1.0, "EUR": 1.08}


def test_category_list_is_accepted():
    data = _default()
    data["follow_up"]["categories"] = ["billing", "outage"]
    assert parse_policy(data).follow_up.categories == ("billing", "outage")


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda d: d.update(surprise={}), "surprise"),
        (lambda d: d["concessions"]["caps"].update(credit=-1.0), "concessions.caps.credit"),
        (lambda d: d["follow_up"].update(window_hours="soon"), "follow_up.window_hours"),
        (lambda d: d["escalation"].update(unknown_knob=1), "escalation.unknown_knob"),
        (lambda d: d.update(business_time_zone="Mars/Olympus"), "business_time_zone"),
        (lambda d: d["concessions"]["allowed"].update(billing=["cash"]), "concessions.allowed"),
        (lambda d: d["concessions"].update(bh_q=1.5), "concessions.bh_q"),
        (lambda d: d["peers"].update(fdr=0), "peers.fdr"),
        (lambda d: d["peers"].update(limits=[0.998, 0.95]), "peers.limits"),
        (lambda d: d["peers"].update(limits=[0.95, 1.0]), "peers.limits"),
        (lambda d: d["peers"].update(winsor_fraction=0.5), "peers.winsor_fraction"),
        (lambda d: d["peers"].update(min_agents=1), "peers.min_agents"),
        (lambda d: d["peers"].update(min_denominator=0), "peers.min_denominator"),
        (lambda d: d.pop("version"), "version"),
        (lambda d: d["concessions"]["currencies"].update(usd=1.0), "concessions.currencies"),
        (lambda d: d["concessions"]["currencies"].update(EURO=1.1), "concessions.currencies"),
    ],
)
def test_malformed_policy_is_refused_naming_the_key(mutate, key):
    data = _default()
    mutate(data)
    with pytest.raises(PolicyError, match=key.replace(".", r"\.")):
        parse_policy(data)


def test_missing_and_invalid_files_give_clear_errors(tmp_path):
    with pytest.raises(PolicyError, match="not found"):
        load_policy(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("version = ")
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(bad)


def test_digest_changes_with_any_threshold():
    data = _default()
    before = parse_policy(data).digest()
    data["concessions"]["approval_threshold"] = 51.0
    assert parse_policy(data).digest() != before


def test_docs_policy_md_shows_the_default_file_and_every_key() -> None:
    """docs/policy.md is the users' reference: it quotes configs/policy.toml as it is and
    documents every key the policy model accepts."""
    import re
    from pathlib import Path

    from configs.policy import DEFAULT_POLICY_PATH, Policy

    doc = (Path(__file__).resolve().parents[2] / "docs" / "policy.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", doc, flags=re.S)
    assert DEFAULT_POLICY_PATH.read_text(encoding="utf-8") in blocks

    def keys(model: type, prefix: str = "") -> list[str]:
        names = []
        for name, field in model.model_fields.items():
            names.append(prefix + name)
            inner = field.annotation
            if isinstance(inner, type) and hasattr(inner, "model_fields"):
                names += keys(inner, f"{prefix}{name}.")
        return names

    undocumented = [k for k in keys(Policy) if f"`{k.rsplit('.', 1)[-1]}`" not in doc and f"[{k}]" not in doc]
    assert undocumented == []
