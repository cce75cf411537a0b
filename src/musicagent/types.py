"""The fixed choices of request parameters as ``Literal`` types (see ``_generated/types.py``).

``from musicagent.types import ListingCondition`` to annotate your own code with the values the SDK
accepts; each type has a tuple of its values beside it (``LISTING_CONDITION``).
"""

from ._generated.types import *  # noqa: F403
from ._generated.types import __all__ as __all__
