"""Hook receivers: training reacts to documents (see core/hooks.py)."""
