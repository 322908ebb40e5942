"""What tests and benchmarks share, and nothing else imports: a small trained platform
(``platform``), the model sizes they train with (``sizes``), real servers on loopback
(``servers``) and synthetic market series (``series``).

Not part of the installed package: it is imported from the repository root, by pytest and by
``python -m bench.<name>`` alike. ``tests`` and ``bench`` both import it and never each other
(an import-linter contract).
"""
