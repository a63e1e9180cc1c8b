"""Peer flags on a generated centre, through the production transforms (bench/peers.py): the
planted agents are found on the metric they were planted on, and ordinary agents are flagged
less often than the policy's false-discovery rate. `python -m bench.peers` runs three seeds."""

from __future__ import annotations

import pytest

from bench.peers import PLANTED, measure
from configs.policy import load_policy


@pytest.mark.integration
def test_planted_agents_are_flagged_and_ordinary_ones_rarely() -> None:
    policy = load_policy()
    result, rows = measure(seed=7, policy=policy)
    print(
        f"seed 7: {result.windows} windows; planted {result.planted}; ordinary rows flagged "
        f"{result.ordinary_flags}/{result.ordinary_rows} = {result.ordinary_rate:.2%} "
        f"(fdr {policy.peers.fdr:.0%})"
    )
    assert result.windows == 8  # 35 audited days: windows ending on the 28th .. 35th
    for plant in PLANTED:
        flagged, tested = result.planted[plant]
        assert tested == result.windows and flagged == tested, plant
    assert result.ordinary_rows > 1000
    assert result.ordinary_rate <= policy.peers.fdr
    # Every flag lists the contacts on its side (a rate below peers has misses, above has hits).
    flagged = rows.filter(rows["is_flagged"])
    assert (flagged["evidence_count"] > 0).all()
