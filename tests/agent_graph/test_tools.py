"""The market expert's tools, executed: lexicon sentiment on fixed headlines, price context on
the real offline sample, and the news tool with and without a reachable source."""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd
import pytest

from agent_graph.tools.market import relative_strength, volatility_regime, volume_anomalies
from agent_graph.tools.news import (
    Headline,
    NewsUnavailableError,
    YahooNews,
    _parse_item,
    news_sentiment,
    news_source_from_settings,
)
from agent_graph.tools.sentiment import score_headlines, score_text
from stock_assets.settings import Settings

Tables = Callable[[str], pd.DataFrame | None]
AS_OF = "2013-03-01"


@pytest.mark.parametrize(
    ("headline", "label"),
    [
        ("Apple beats estimates as iPhone sales surge to a record", "positive"),
        ("Apple shares tumble after earnings miss and weak guidance", "negative"),
        ("Regulators open probe into Apple over App Store; lawsuit filed", "negative"),
        ("Apple did not miss estimates this quarter", "positive"),  # negation flips "miss"
        ("Apple to hold annual shareholder meeting on Tuesday", "neutral"),
        # Finance-aware: "liability" and "tax" are not bad news in a finance lexicon.
        ("Apple updates tax liability disclosure in annual filing", "neutral"),
    ],
)
def test_lexicon_scores_fixed_headlines(headline: str, label: str) -> None:
    assert score_text(headline).label == label


def test_mean_ignores_headlines_without_sentiment_words() -> None:
    mean, scores = score_headlines(["Apple upgraded at two brokers", "Apple schedules event"])
    assert mean == 1.0 and [s.label for s in scores] == ["positive", "neutral"]


def test_price_tools_on_the_real_sample(sample_tables: Tables) -> None:
    aapl, index = sample_tables("AAPL"), sample_tables("^GSPC")
    rs = relative_strength("AAPL", aapl, index, "^GSPC", AS_OF)
    assert rs.status == "ok"
    # AAPL fell from ~$700 (Sept 2012) into March 2013 while the index rose: it lagged.
    closes = aapl.set_index("date")["close"]
    expected = (closes.iloc[-1] / closes.iloc[-61] - 1) * 100
    assert math.isclose(rs.data["return_60d_pct"], expected, rel_tol=1e-9)
    assert rs.data["excess_60d_pct"] < -10 and "underperformed" in rs.summary

    vol = volatility_regime("AAPL", aapl, AS_OF)
    assert vol.status == "ok" and vol.data["regime"] in {"low", "normal", "high"}
    assert 0 <= vol.data["percentile"] <= 100 and vol.data["sessions"] == 756

    volume = volume_anomalies("AAPL", aapl, AS_OF)
    z = aapl["volume_z_20"].tail(20)
    assert volume.data["anomalies"] == int((z.abs() >= 2).sum())
    assert set(volume.dates) == {str(d.date()) for d in aapl.loc[z.index[z.abs() >= 2], "date"]}

    # Only data up to the as-of date is used.
    earlier = relative_strength("AAPL", aapl, index, "^GSPC", "2012-09-19")
    assert earlier.data["return_20d_pct"] != rs.data["return_20d_pct"]
    skipped = relative_strength("AAPL", aapl, None, "^GSPC", AS_OF)
    assert skipped.status == "skipped" and not skipped.numbers


class _FixedHeadlines:
    """Stands in for Yahoo Finance, which cannot be reached from the test machines."""

    name = "fixed"

    def headlines(self, ticker: str, limit: int = 8) -> list[Headline]:
        return [
            Headline("Apple beats estimates"),
            Headline("Apple shares tumble on lawsuit"),
            Headline("Apple record profit boosts dividend"),
        ]


def test_news_tool_scores_a_source_and_reports_an_unreachable_one() -> None:
    result = news_sentiment("AAPL", _FixedHeadlines())
    assert result.status == "ok" and result.data["label"] == "positive"
    assert dict(result.numbers)["news_count"] == 3
    assert news_sentiment("AAPL", None).status == "skipped"
    # The real Yahoo implementation, offline: a clean error result, within its timeout.
    offline = news_sentiment("AAPL", YahooNews(timeout_s=5))
    assert offline.status == "error" and "unreachable" in offline.summary


def test_yahoo_items_of_both_shapes_parse() -> None:
    new = {"content": {"title": "A", "provider": {"displayName": "Reuters"}, "pubDate": "x"}}
    assert _parse_item(new) == Headline("A", "Reuters", "x")
    assert _parse_item({"title": "B", "publisher": "AP"}) == Headline("B", "AP", None)
    assert _parse_item({"content": {}}) is None
    with pytest.raises(NewsUnavailableError):

        class _Empty(YahooNews):
            def _fetch(self, ticker: str) -> list:
                return []

        _Empty(1).headlines("AAPL")


def test_news_source_follows_settings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert news_source_from_settings(Settings(data_dir=tmp_path)) is None  # offline sample
    assert news_source_from_settings(Settings(data_dir=tmp_path, market_data_provider="yahoo"))
    assert news_source_from_settings(Settings(data_dir=tmp_path, agent_news_provider="yahoo"))
