"""Runtime tests against real local servers (a package so tests can import the helpers in conftest)."""
