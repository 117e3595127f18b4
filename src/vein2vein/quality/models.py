"""Models of quality."""
