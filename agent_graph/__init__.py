"""Analyst reports by a LangGraph team: numbers computed by code, narrative by an LLM, every
number checked by a critic; a Qdrant semantic cache in front and an evaluator behind.

Entry point: :class:`agent_graph.service.AnalystService` (used by the API's ``/analyze`` and the
``agent_report`` Dagster asset). This package imports domain code and settings only.
"""
