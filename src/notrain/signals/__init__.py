"""Parsers for every existing opt-out signal, each producing core statements."""
