"""Models of materials."""
