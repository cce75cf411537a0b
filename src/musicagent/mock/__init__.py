"""An offline Discogs: replays recorded answers (vcrpy cassettes) over HTTP on localhost.

What stripe-mock is to Stripe's users: point any HTTP client, or a ``Discogs`` client, at it and
get real Discogs bodies, Discogs' rate-limit headers and moving window, and Discogs-shaped errors,
without a network or a token::

    from musicagent import Discogs
    from musicagent.mock import MockServer

    with MockServer() as server:            # the packaged cassettes, a free port
        discogs = Discogs(token="t", base_url=server.url)
        discogs.artists.get(108713)

From a shell: ``musicagent mock --port 8990`` (or ``python -m musicagent.mock``), then
``DISCOGS_BASE_URL=http://127.0.0.1:8990``. For tests, :mod:`musicagent.testing` starts one per test.

How a request finds its recording: same method (HEAD uses GET's) and percent-decoded path; no
query parameter that both the request and the recording name with different values (``per_page``
and credentials — ``token``, ``key``, ``secret``, ``oauth_*`` — are ignored), so ``/releases/1`` is
answered by a recording of ``/releases/1?curr_abbr=USD`` but ``q=beatles`` never by ``q=nirvana``;
``page`` must be the same (absent means 1), so page 2 is never answered with page 1. Several
candidates: the one matching the most parameters wins, and a recorded error only answers when no
success fits. No recording: 404 ``{"message": "The requested resource was not found."}``. Each
answer names its cassette in ``X-Musicagent-Mock-Cassette``. A recorded page claims every page of
its listing; the mock lowers ``pagination.pages`` to the pages it has recorded (and drops the links
past them), so a client iterating stops at the last recorded page instead of meeting a 404.
"""

from ._cassettes import CassetteError, Interaction, bundle, load_cassettes, read_cassette
from ._server import NOT_FOUND_MESSAGE, TOO_MANY_MESSAGE, MockServer, default_cassettes, find_match

__all__ = [
    "NOT_FOUND_MESSAGE",
    "TOO_MANY_MESSAGE",
    "CassetteError",
    "Interaction",
    "MockServer",
    "bundle",
    "default_cassettes",
    "find_match",
    "load_cassettes",
    "read_cassette",
]
