"""Sensors: onboarding new tickers, retraining on measured trouble, the market replay clock."""
