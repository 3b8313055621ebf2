"""Validation against real stores: the runner behind `polyplan validate`, and the harnesses the
generated tests of each store call."""
