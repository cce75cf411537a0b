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

What it answers, in order: a stub set up in code (:meth:`MockServer.stub`); an image (every image
URL it serves points at itself); Discogs' own 401/403 where the operation's ``security`` in the
spec refuses the credentials; a 400/422 for a write body its request schema refuses; the
authenticated user's own data as changed by earlier writes (state); the recording of exactly this
question (same method, path and significant parameters); for an id nobody recorded, a recording of
the same operation with the ids substituted (``X-Musicagent-Mock: synthesized``); else an explicit
miss (404, ``X-Musicagent-Mock: miss``, a message naming the nearest recordings). ``strict=True``
turns synthesized answers and misses into 501s. The README's "Offline" section has the details.
"""

from ._cassettes import CassetteError, Interaction, bundle, load_cassettes, read_cassette
from ._server import ANSWER_HEADER, NOT_FOUND_MESSAGE, TOO_MANY_MESSAGE, MockServer, default_cassettes, find_match
from ._stubs import RecordedRequest, Stub

__all__ = [
    "ANSWER_HEADER",
    "NOT_FOUND_MESSAGE",
    "TOO_MANY_MESSAGE",
    "CassetteError",
    "Interaction",
    "MockServer",
    "RecordedRequest",
    "Stub",
    "bundle",
    "default_cassettes",
    "find_match",
    "load_cassettes",
    "read_cassette",
]
