"""Where the facts' latest indicators come from: the Feast online store when its row is of the
forecast's session, else the indicator table, with the reason."""

from __future__ import annotations

import pandas as pd

from agent_graph.facts import INDICATOR_FIELDS, current_indicators
from stock_assets.domain.feature_store.store import OnlineRow

FRAME = pd.DataFrame(
    {"date": pd.to_datetime(["2013-02-28", "2013-03-01"])}
    | {name: [1.0, 2.0] for name in INDICATOR_FIELDS}
)


def test_a_current_online_row_is_used() -> None:
    row = OnlineRow({name: 7.0 for name in INDICATOR_FIELDS}, "2013-03-01")
    values, source = current_indicators(FRAME, "2013-03-01", row)
    assert values == {name: 7.0 for name in INDICATOR_FIELDS}
    assert (source.source, source.session, source.fresh) == ("online store", "2013-03-01", True)


def test_a_stale_or_missing_online_row_falls_back_to_the_table_and_says_why() -> None:
    stale = OnlineRow({name: 7.0 for name in INDICATOR_FIELDS}, "2013-02-28")
    values, source = current_indicators(FRAME, "2013-03-01", stale)
    assert values == {name: 2.0 for name in INDICATOR_FIELDS}
    assert source.source == "indicator table" and "2013-02-28" in (source.note or "")
    values, source = current_indicators(FRAME, "2013-03-01", None, "the online store is down")
    assert values["close"] == 2.0 and source.note == "the online store is down"
    partial = OnlineRow({"close": 7.0}, "2013-03-01")  # a row missing features: not used
    assert current_indicators(FRAME, "2013-03-01", partial)[1].source == "indicator table"
