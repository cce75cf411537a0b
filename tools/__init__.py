"""Repository tooling that is not part of the package (never in the wheel)."""
