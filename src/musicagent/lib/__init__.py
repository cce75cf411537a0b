"""The hand-written layer above the generated client: where the public ``Discogs`` is composed.

Layers, each importing only those below it::

    musicagent (package root, cli, export, mock, testing)
      └─ lib         hand-written features that call generated resources (OAuth flow, images, request())
          └─ _generated   the spec's resource tree and models (written by codegen only)
              └─ _runtime     settings, transport, limiter, pagination: knows nothing of the spec
"""

from .client import Discogs
from .images import ImagesResource
from .oauth import AUTHORIZE_URL, AccessToken, OAuthFlow, RequestToken

__all__ = ["AUTHORIZE_URL", "AccessToken", "Discogs", "ImagesResource", "OAuthFlow", "RequestToken"]
