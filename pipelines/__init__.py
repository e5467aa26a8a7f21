"""Pipelines: option parsing and wiring only (the ``emotrace`` command's verbs)."""
