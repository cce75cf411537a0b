"""Internals of the ``musicagent`` command; the entry point is :func:`musicagent.cli.main`."""
