"""An example plugin for the gait zoo: see bigru.py (the whole model) and pyproject.toml (the entry point)."""
