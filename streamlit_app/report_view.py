"""The written report as Markdown for Streamlit, with a quiet mark on model-written sentences.

Pure functions (no Streamlit calls), so the rendering is tested without a browser. Text written
by the language model is escaped here again, whatever the API did: Streamlit's Markdown would
otherwise turn ``$...$`` into LaTeX, ``<...>`` into HTML and ``[...](...)`` into links.
"""

from __future__ import annotations

import re
from typing import Any

MODEL_MARK = "\u270e"  # a pencil after each sentence the model wrote
LEGEND = (
    f"Sentences marked {MODEL_MARK} were written by the language model and published only "
    "because they restate the report's facts; every other sentence, number and table is "
    "written by code."
)
_ESCAPE = re.compile(r"([\\`*_{}\[\]<>#|~$])")


def escape(text: str) -> str:
    """Text that Streamlit's Markdown shows as itself."""
    return _ESCAPE.sub(r"\\\1", text)


def sentence_markdown(sentence: dict[str, Any]) -> str:
    text = str(sentence.get("text", ""))
    if sentence.get("source") == "model":
        return f"{escape(text)} {MODEL_MARK}"
    return text


def report_markdown(report: dict[str, Any]) -> str:
    """The report from its paragraphs (sections as level-4 headings), or its stored markdown
    when it has none (reports written before paragraphs were recorded)."""
    paragraphs = report.get("paragraphs") or []
    if not paragraphs:
        return str(report.get("markdown") or "_The report is empty._")
    lines: list[str] = []
    current = None
    for paragraph in paragraphs:
        if paragraph.get("section") != current:
            current = paragraph.get("section")
            title = paragraph.get("title") or str(current).replace("_", " ").capitalize()
            lines += [f"#### {title}", ""]
        sentences = paragraph.get("sentences") or []
        text = (
            " ".join(sentence_markdown(s) for s in sentences)
            if sentences
            else str(paragraph.get("text", ""))
        )
        lines += [text, ""]
    return "\n".join(lines).rstrip() + "\n"


def sentence_rows(evaluation: dict[str, Any]) -> list[tuple[str, str]]:
    """(measure, value) rows about the narrative's sentences and the question."""
    counts = evaluation.get("sentences") or {}
    rows = [
        ("sentences written by the model", str(counts.get("generated", 0))),
        ("admitted (restate the facts)", str(counts.get("admitted", 0))),
        ("dropped (replaced by code)", str(counts.get("dropped", 0))),
        ("published sentences grounded", f"{float(evaluation.get('grounded', 1.0)):.0%}"),
    ]
    question = evaluation.get("question")
    if question:
        answered = "yes" if question.get("answered") else "no: the facts do not answer it"
        rows.append(("question answered", answered))
    return rows
