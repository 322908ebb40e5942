"""Asset definitions, grouped by stage."""
