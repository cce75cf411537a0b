"""The response and request models, generated from spec/discogs.yaml (see ``_generated/models.py``)."""

from ._generated.models import *  # noqa: F403
from ._generated.models import __all__ as __all__
