"""Models of equipment."""
