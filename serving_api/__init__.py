"""serving_api."""
