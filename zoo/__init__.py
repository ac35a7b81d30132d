"""Gait model zoo: registry, models, metrics and the command line."""
