"""The package version, in a module of its own: the build reads it, and nothing has to import the package root."""

__version__ = "0.1.0"
