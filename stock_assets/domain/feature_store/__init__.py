"""Feast: the feature definitions and the helpers that apply, materialize and read them."""
