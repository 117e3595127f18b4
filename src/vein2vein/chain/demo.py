"""Chain demo data (placeholder)."""


def load_demo() -> None:
    return None
