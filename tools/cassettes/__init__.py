"""Cassette tooling: ``build.py`` makes ``cassettes/`` from real saved bodies and ``scenarios.yaml``,
``record.py`` re-records them live. See ``cassettes/README.md``."""
