"""Every body the mock serves validates against the spec's response schema for its operation and status.

The walk covers every recording (asked as recorded, by the user it belongs to), answers synthesized
for unrecorded ids, the answers state makes for writes and the reads after them, and the errors the
mock makes itself (401, 403, 404, 422, misses).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import pytest

from musicagent.mock import MockServer, default_cassettes, load_cassettes
from musicagent.mock._match import route
from tests.test_spec import SPEC_URI, Validator, operations, registry, resolve

CASSETTES = default_cassettes()
INTERACTIONS = load_cassettes(CASSETTES) if CASSETTES is not None else []
AUTH = {"Authorization": "Discogs token=t"}


def schema_for(method: str, path: str, status: int, content_type: str) -> dict[str, Any] | None:
    """The spec's schema for this answer; AssertionError when the spec does not declare the status."""
    found = route(method, path)
    assert found is not None, f"{method} {path}: no operation"
    op = next(o for m, _, o in operations() if o["operationId"] == found.operation.id)
    responses = op["responses"]
    assert str(status) in responses, f"{found.operation.id} answered {status}, which the spec does not declare"
    content = resolve(responses[str(status)]).get("content") or {}
    media = content_type.split(";")[0].strip()
    if media not in content:
        assert not content or status == 204, f"{found.operation.id} {status}: {media} not declared ({list(content)})"
        return None
    schema = content[media]["schema"]
    return schema if "$ref" not in schema else {"$ref": SPEC_URI + schema["$ref"]}


def check(method: str, path: str, status: int, headers: Any, body: bytes) -> None:
    content_type = headers.get("Content-Type", "")
    if headers.get("X-Musicagent-Mock") in ("miss", "strict"):  # the mock's own word, not Discogs': Error-shaped
        schema: dict[str, Any] | None = {"$ref": SPEC_URI + "#/components/schemas/Error"}
        assert status in (404, 501) and set(json.loads(body)) == {"message"}
    else:
        schema = schema_for(method, path, status, content_type)
    if schema is None or not body:
        return
    if content_type.startswith("application/x-www-form-urlencoded"):
        data: Any = dict(parse_qsl(body.decode()))
    elif content_type.startswith("application/json"):
        data = json.loads(body)
    else:
        return
    errors = sorted(Validator(schema, registry=registry()).iter_errors(data), key=lambda e: e.json_path)
    assert not errors, f"{method} {path} {status}: " + "; ".join(f"{e.json_path}: {e.message[:200]}" for e in errors)


def ask(
    url: str, method: str, path: str, query: dict[str, str], body: Any = None, auth: dict[str, str] = AUTH
) -> tuple[int, Any, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    target = url + quote(path) + ("?" + urlencode(query) if query else "")
    request = urllib.request.Request(target, method=method, data=data, headers={**auth, "User-Agent": "t/1"})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def owners() -> dict[str, list[Any]]:
    """Recordings grouped by the user whose data they are (a server per user, so none is a 403)."""
    groups: dict[str, list[Any]] = defaultdict(list)
    for interaction in INTERACTIONS:
        found = route(interaction.method, interaction.path)
        groups[found.params.get("username", "") if found else ""].append(interaction)
    return groups


@pytest.mark.skipif(not INTERACTIONS, reason="no cassettes")
@pytest.mark.parametrize("user", sorted(owners()))
def test_every_recording_is_served_as_the_spec_describes(user: str) -> None:
    with MockServer(CASSETTES, rate_limit=None, user=user or None) as server:
        for interaction in owners()[user]:
            query = {k: v[-1] for k, v in interaction.query.items()}
            auth = {"Authorization": "OAuth oauth_consumer_key=k"} if interaction.path.startswith("/oauth/") else AUTH
            if interaction.path == "/oauth/identity":
                auth = AUTH
            body = json.loads(interaction_body(interaction)) if interaction.method in ("POST", "PUT") else None
            status, headers, served = ask(server.url, interaction.method, interaction.path, query, body, auth)
            assert status < 500 or interaction.status >= 500, (interaction.source, status, served[:300])
            check(interaction.method, interaction.path, status, headers, served)


def interaction_body(interaction: Any) -> str:
    """The request body a write's cassette was recorded with (the cassette keeps it beside the answer)."""
    import yaml

    assert CASSETTES is not None
    file, _, number = interaction.source.partition("#")
    data = yaml.safe_load((CASSETTES / file).read_text(encoding="utf-8"))
    raw = data["interactions"][int(number)]["request"]["body"]
    if isinstance(raw, str) and raw.startswith("{"):
        return raw
    return "{}"


SYNTHESIZED = [
    ("/artists/7", {}),
    ("/artists/7/releases", {}),
    ("/releases/7", {}),
    ("/masters/7", {}),
    ("/masters/7/versions", {}),
    ("/labels/7", {}),
    ("/labels/7/releases", {}),
    ("/users/someone-new", {}),
    ("/users/someone-new/wants", {}),
    ("/users/someone-new/inventory", {}),
    ("/users/someone-new/collection/folders", {}),
    ("/marketplace/listings/7", {}),
    ("/releases/7/rating", {}),
    ("/masters/96559", {}),  # named (and its artists taken) from release 249504's recording
    ("/artists/1", {}),  # named from the recordings that list artist 1
    ("/artists/5/releases", {"per_page": "50", "page": "2"}),  # page 2 of the recording its page 1 is made from
]


@pytest.mark.skipif(not INTERACTIONS, reason="no cassettes")
def test_synthesized_answers_validate() -> None:
    with MockServer(CASSETTES, rate_limit=None) as server:
        for path, query in SYNTHESIZED:
            status, headers, body = ask(server.url, "GET", path, query)
            assert (status, headers["X-Musicagent-Mock"]) == (200, "synthesized"), (path, body[:200])
            check("GET", path, status, headers, body)


@pytest.mark.skipif(not INTERACTIONS, reason="no cassettes")
def test_state_answers_and_mock_made_errors_validate() -> None:
    with MockServer(CASSETTES, rate_limit=None, user="me") as server:
        listing_body = {"release_id": 40522, "condition": "Mint (M)", "price": 10, "status": "Draft"}
        steps: list[tuple[str, str, Any, int]] = [
            ("PUT", "/users/me/wants/40522", {"notes": "clean copy", "rating": 4}, 201),
            ("POST", "/users/me/wants/40522", {"notes": "any copy"}, 200),
            ("GET", "/users/me/wants", None, 200),
            ("POST", "/users/me/wants/1", {"notes": "not there"}, 404),
            ("POST", "/users/me/collection/folders", {"name": "Jazz"}, 201),
            ("POST", "/users/me/collection/folders", {"title": "Jazz"}, 422),
            ("GET", "/users/me/collection/folders", None, 200),
            ("POST", "/users/me/collection/folders/1/releases/40522", None, 201),
            ("GET", "/users/me/collection/folders/1/releases", None, 200),
            ("GET", "/users/me/collection/releases/40522", None, 200),
            ("PUT", "/releases/40522/rating/me", {"rating": 5}, 201),
            ("GET", "/releases/40522/rating/me", None, 200),
            ("PUT", "/releases/40522/rating/me", {"rating": 9}, 422),
            ("POST", "/marketplace/listings", listing_body, 201),
            ("POST", "/marketplace/listings", {"release_id": 40522}, 422),
            ("POST", "/marketplace/orders/1-1", {"status": "Shipped"}, 200),
            ("POST", "/marketplace/orders/1-1/messages", {"message": "on its way"}, 201),
            ("GET", "/marketplace/orders/1-1/messages", None, 200),
            ("GET", "/marketplace/orders/1-1", None, 200),
            ("POST", "/users/me", {"profile": "new text"}, 200),
            ("GET", "/users/me", None, 200),
            ("GET", "/users/someone/collection/value", None, 403),
            ("DELETE", "/users/me/wants/40522", None, 204),
        ]
        for method, path, body, expected in steps:
            status, headers, served = ask(server.url, method, path, {}, body)
            assert status == expected, (method, path, status, served[:200])
            check(method, path, status, headers, served)
        listing = json.loads(ask(server.url, "POST", "/marketplace/listings", {}, listing_body)[2])
        status, headers, served = ask(server.url, "GET", f"/marketplace/listings/{listing['listing_id']}", {})
        assert status == 200
        check("GET", "/marketplace/listings/1", status, headers, served)
        for path, auth in (("/oauth/identity", {}), ("/database/search", {}), ("/database/search", AUTH)):
            status, headers, served = ask(server.url, "GET", path, {"q": "not recorded"}, auth=auth)
            check("GET", path, status, headers, served)
