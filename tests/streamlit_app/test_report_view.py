"""The report as the Analyze page renders it: sections from the paragraphs, a quiet mark on each
model-written sentence, model text that can never become LaTeX, HTML, links or code."""

from __future__ import annotations

from streamlit_app.report_view import (
    MODEL_MARK,
    escape,
    report_markdown,
    sentence_rows,
)

REPORT = {
    "markdown": "# AAPL: analyst report\n",
    "paragraphs": [
        {
            "section": "summary",
            "title": "Summary",
            "source": "code",
            "text": "**Stance: bearish** (confidence 0.36).",
            "sentences": [],
        },
        {
            "section": "summary",
            "title": "Summary",
            "source": "mixed",
            "text": "ignored: the sentences are rendered one by one",
            "sentences": [
                {
                    "text": "The model anticipates a modest decline over the next week.",
                    "source": "model",
                    "restates": ["forecast.move"],
                },
                {
                    "text": "Its uncertainty band is moderate.",
                    "source": "code",
                    "restates": ["forecast.band"],
                },
            ],
        },
        {
            "section": "risks",
            "title": "Risks",
            "source": "code",
            "text": "- Backtest quality describes the past.",
            "sentences": [],
        },
    ],
}


def test_sections_and_marks_follow_the_paragraphs() -> None:
    text = report_markdown(REPORT)
    assert text.startswith("#### Summary\n\n**Stance: bearish** (confidence 0.36).")
    assert text.count("#### Summary") == 1 and "#### Risks" in text
    assert f"a modest decline over the next week. {MODEL_MARK} Its uncertainty band" in text
    assert "ignored" not in text
    assert "Its uncertainty band is moderate." + f" {MODEL_MARK}" not in text


def test_model_text_never_turns_into_markup() -> None:
    hostile = {
        "text": "A bat costs $1 and $2 [here](http://x) <b>now</b> `rm` *x*",
        "source": "model",
        "restates": [],
    }
    report = {
        "paragraphs": [
            {
                "section": "summary",
                "title": "Summary",
                "source": "model",
                "text": "",
                "sentences": [hostile],
            }
        ]
    }
    text = report_markdown(report)
    for raw, shown in (("$", r"\$"), ("[", r"\["), ("<", r"\<"), ("`", r"\`"), ("*", r"\*")):
        assert raw in hostile["text"] and shown in text
    assert escape("a_b") == r"a\_b"


def test_reports_without_paragraphs_show_their_markdown_and_counts_read_plainly() -> None:
    assert report_markdown({"markdown": "# Old report\n"}) == "# Old report\n"
    rows = dict(
        sentence_rows(
            {
                "sentences": {"generated": 9, "admitted": 4, "dropped": 5},
                "grounded": 1.0,
                "question": {"answered": False},
            }
        )
    )
    assert rows["admitted (restate the facts)"] == "4" and rows["dropped (replaced by code)"] == "5"
    assert rows["published sentences grounded"] == "100%"
    assert rows["question answered"].startswith("no")
