"""Every operation of the SDK, replayed from its cassettes: the answer and the request are both checked.

The test is parametrized over the SDK's operation registry, not over the cassettes, so an operation
added to the spec without a cassette fails here until ``tools/cassettes/scenarios.yaml`` gains a scenario for it.

For each cassette of an operation the SDK method is called with the arguments the scenario recorded
(``tools/cassettes/index.json``), through vcrpy with ``record_mode="none"`` (nothing reaches the network;
``tests/conftest.py`` blocks it anyway). Then:

- the result: the model class the registry names (``OperationInfo.model`` / ``item_model``), ``None``
  for ``kind == "none"``, the written ``Path`` for downloads, the parsed form for the OAuth token
  steps; every field is compared with the cassette's body, parsed here from the cassette file;
- the request: method, path and query (vcrpy's matchers), and a matcher of our own that compares the
  live request with the recorded one: the JSON body as parsed dicts, the multipart upload by its parts
  (field name, file name, content type, content: the boundary is random), the Content-Type, the
  User-Agent, and the ``Authorization`` header the client must send (``Discogs token=test-token``,
  none, or a PLAINTEXT OAuth header carrying the consumer key), which no cassette stores;
- ``cassette.all_played``: every recorded interaction was asked for, once.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import typing
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

import pytest
import vcr
from _clients import FLAVORS, is_page, make_client

from musicagent import Discogs, models
from musicagent._generated.operations import OPERATIONS
from musicagent._runtime.auth import oauth_header
from musicagent._runtime.errors import error_for_status
from musicagent._runtime.operations import OperationInfo, ParamInfo
from musicagent.lib.oauth import AccessToken, RequestToken
from musicagent.mock._cassettes import load_document

ROOT = Path(__file__).resolve().parents[1]
CASSETTES = ROOT / "cassettes"
TOOLS = ROOT / "tools" / "cassettes"
INDEX: list[dict[str, Any]] = json.loads((TOOLS / "index.json").read_text(encoding="utf-8"))["cassettes"]
REGISTRY: dict[str, OperationInfo] = {op.id: op for op in OPERATIONS}

TOKEN = "test-token"
USER_AGENT = "musicagent-tests/1.0"
CONSUMER_KEY = "test-consumer-key"
CONSUMER_SECRET = "test-consumer-secret"
# the values the documentation's OAuth examples use (tools/cassettes/docs-bodies/authentication.*.txt)
DOCS_OAUTH_VALUES = frozenset({"abc123", "xyz789", "true"})
OAUTH_CASSETTES = frozenset({"oauth.request_token/docs-example.yaml", "oauth.access_token/docs-example.yaml"})


# ---------------------------------------------------------------------------------------------
# reading the cassettes


@cache
def cassette_data(name: str) -> dict[str, Any]:
    data: dict[str, Any] = load_document((CASSETTES / name).read_text(encoding="utf-8"), name)  # the mock's loader
    return data


def _text(value: Any) -> bytes:
    if value is None:
        return b""
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def raw_bodies(name: str) -> list[bytes]:
    return [_text(i["response"]["body"]["string"]) for i in cassette_data(name)["interactions"]]


def response_header(name: str, number: int, header: str) -> str | None:
    headers = cassette_data(name)["interactions"][number]["response"]["headers"]
    values = next((v for k, v in headers.items() if k.lower() == header.lower()), None)
    return values[0] if values else None


def dumped(model: Any) -> Any:
    """A model as JSON again: equal to the body it was parsed from when nothing was lost or altered."""
    return empty_alike(json.loads(model.model_dump_json(by_alias=True, exclude_unset=True)))


def empty_alike(value: Any) -> Any:
    """``value`` with every empty array or object as ``{}``: the models read Discogs' ``[]`` for an
    empty object as the empty object it is (_runtime/shapes.py), so the two compare equal."""
    if isinstance(value, dict):
        return {key: empty_alike(item) for key, item in value.items()}
    if isinstance(value, list):
        return [empty_alike(item) for item in value] or {}
    return value


def items_field(page_model: type[Any], item_model: type[Any]) -> str:
    for name, info in page_model.model_fields.items():
        if typing.get_origin(info.annotation) is list and typing.get_args(info.annotation) == (item_model,):
            return str(name)
    raise AssertionError(f"{page_model.__name__} has no list[{item_model.__name__}] field")


# ---------------------------------------------------------------------------------------------
# checking the request the SDK sends against the recorded one


def _header(request: Any, name: str) -> str | None:
    for key, value in request.headers.items():
        if key.lower() == name.lower():
            return value if isinstance(value, str) else value[0]
    return None


def _media_type(value: str | None) -> str | None:
    return value.split(";")[0].strip().lower() if value else None


def multipart_parts(body: bytes, content_type: str) -> list[tuple[str | None, str | None, str, bytes]]:
    """(field name, file name, content type, content) of each part, whatever the boundary."""
    message = email.message_from_bytes(
        b"Content-Type: " + content_type.encode("ascii") + b"\r\n\r\n" + body, policy=email.policy.HTTP
    )
    assert message.is_multipart(), f"not a multipart body: {content_type}"
    parts: list[tuple[str | None, str | None, str, bytes]] = []
    for part in message.iter_parts():
        content = part.get_payload(decode=True)
        assert isinstance(content, bytes)
        name = part.get_param("name", header="content-disposition")
        parts.append((str(name) if name is not None else None, part.get_filename(), part.get_content_type(), content))
    return parts


def oauth_params(header: str) -> dict[str, str]:
    assert header.startswith("OAuth "), header
    return {k: unquote(v) for k, v in re.findall(r'(\w+)="([^"]*)"', header[len("OAuth ") :])}


def expected_authorization(entry: dict[str, Any]) -> Callable[[str | None], None]:
    """A check of the live request's Authorization header (never stored in a cassette)."""
    operation = entry["operation"]

    def token(value: str | None) -> None:
        assert value == f"Discogs token={TOKEN}", f"Authorization {value!r}"

    def nothing(value: str | None) -> None:
        assert value is None, f"a request without credentials sent Authorization {value!r}"

    def oauth(value: str | None) -> None:
        assert value is not None, "no OAuth header"
        params = oauth_params(value)
        assert params["oauth_signature_method"] == "PLAINTEXT"
        assert params["oauth_consumer_key"] == CONSUMER_KEY
        assert params["oauth_nonce"] and params["oauth_timestamp"].isdigit()
        if operation == "oauth.request_token":
            assert params["oauth_signature"] == f"{CONSUMER_SECRET}&"
            assert params["oauth_callback"] == "oob"
            assert "oauth_token" not in params
        else:
            token, secret = docs_request_token()
            assert params["oauth_signature"] == f"{CONSUMER_SECRET}&{secret}"
            assert params["oauth_token"] == token
            assert params["oauth_verifier"] == entry["verifier"]

    return {"token": token, "none": nothing, "oauth": oauth}[entry["auth"]]


def request_matcher(entry: dict[str, Any]) -> Callable[[Any, Any], None]:
    """A vcrpy matcher: ``live`` is the SDK's request, ``recorded`` the cassette's (vcrpy's order)."""
    check_authorization = expected_authorization(entry)

    def matches(live: Any, recorded: Any) -> None:
        assert _header(live, "User-Agent") == USER_AGENT
        assert _header(live, "Accept") == _header(recorded, "Accept")  # JSON, or */* for a download
        check_authorization(_header(live, "Authorization"))
        live_type, recorded_type = _header(live, "Content-Type"), _header(recorded, "Content-Type")
        assert _media_type(live_type) == _media_type(recorded_type), f"Content-Type {live_type!r} != {recorded_type!r}"
        live_body, recorded_body = _text(live.body), _text(recorded.body)
        if recorded_type and _media_type(recorded_type) == "multipart/form-data":
            assert live_type is not None
            assert multipart_parts(live_body, live_type) == multipart_parts(recorded_body, recorded_type)
        elif recorded_body:
            assert live_body, f"no body was sent; the cassette has {recorded_body!r}"
            try:
                sent = json.loads(live_body)
            except ValueError:
                raise AssertionError(f"the body sent is not JSON: {live_body!r}") from None
            assert sent == json.loads(recorded_body), f"body {live_body!r} != {recorded_body!r}"
        else:
            assert not live_body, f"a body was sent where the cassette has none: {live_body!r}"

    return matches


def replayer(entry: dict[str, Any]) -> vcr.VCR:
    recorder = vcr.VCR(record_mode="none", match_on=["method", "scheme", "host", "path", "query", "sent"])
    recorder.register_matcher("sent", request_matcher(entry))
    return recorder


# ---------------------------------------------------------------------------------------------
# calling the SDK with the scenario's arguments


def client(auth: str, flavor: str) -> Discogs:
    """Built inside the cassette context, so its connection pool is vcrpy's (urllib3's or aiohttp's)."""
    common: dict[str, Any] = {"user_agent": USER_AGENT, "rate_limit": None, "max_retries": 0}
    if auth == "token":
        common["token"] = TOKEN
    elif auth == "oauth":
        common.update(consumer_key=CONSUMER_KEY, consumer_secret=CONSUMER_SECRET)
    result: Discogs = make_client(flavor, **common)
    return result


def _convert(param: ParamInfo, value: Any) -> Any:
    if param.type == "integer":
        return int(value)
    if param.type == "number":
        return float(value)
    if param.type == "boolean":
        return value in (True, "true", "1")
    return value


def method_of(d: Discogs, op: OperationInfo) -> Any:
    method: Any = d
    for part in op.id.split("."):
        method = getattr(method, part)
    return method


def arguments(op: OperationInfo, entry: dict[str, Any], tmp: Path) -> tuple[list[Any], dict[str, Any]]:
    """The positional and keyword arguments that make the SDK send the scenario's request."""
    assert (op.method, op.path) == (entry["method"], entry["path_template"]), entry["cassette"]
    by_wire = {(p.location, p.wire): p for p in op.params}
    args = [_convert(by_wire[("path", name)], entry["path_params"][name]) for name in re.findall(r"\{(\w+)\}", op.path)]
    kwargs: dict[str, Any] = {}
    unknown: dict[str, Any] = {}
    for location, values in (("query", entry["query"]), ("body", entry["body"] or {})):
        for wire, value in values.items():
            param = by_wire.get((location, wire))
            if param is None and location == "query":
                unknown[wire] = value  # sent by the client that made the recording: the escape hatch
                continue
            assert param is not None, f"{op.id} has no {location} parameter {wire!r}"
            kwargs[param.name] = value if location == "body" else _convert(param, value)
    if unknown:
        kwargs["extra_query"] = unknown
    upload = entry["upload"]
    if upload is not None:
        param = by_wire[("file", upload["field"])]
        path = tmp / upload["filename"]
        path.write_bytes((TOOLS / upload["file"]).read_bytes())
        kwargs[param.name] = path
    if op.kind == "download":
        args.append(tmp / "x.csv")
    return args, kwargs


@cache
def docs_request_token() -> tuple[str, str]:
    """The request token the request_token cassette answers (the documentation's example values)."""
    body = dict(parse_qsl(raw_bodies("oauth.request_token/docs-example.yaml")[0].decode("utf-8")))
    return body["oauth_token"], body["oauth_token_secret"]


# ---------------------------------------------------------------------------------------------
# one cassette


def check_result(op: OperationInfo, entry: dict[str, Any], d: Discogs, args: list[Any], kwargs: dict[str, Any]) -> None:
    name = entry["cassette"]
    statuses = [s["status"] for s in entry["interactions"]]
    raw = raw_bodies(name)
    method = method_of(d, op)
    if statuses[0] >= 400:
        with pytest.raises(error_for_status(statuses[0])) as info:
            method(*args, **kwargs)
        assert info.value.status_code == statuses[0]
        assert info.value.message == json.loads(raw[0])["message"]
        assert info.value.attempts == 1
        return
    if op.kind == "none":
        assert method(*args, **kwargs) is None
        assert raw == [b""]
        location = response_header(name, 0, "Location")
        if location is not None:  # the new job's URL, which is all these answers carry
            assert d.last_response is not None and d.last_response.headers.get("Location") == location
        return
    if op.kind == "download":
        destination = args[-1]
        written = method(*args, **kwargs)
        assert isinstance(written, Path) and written == destination
        assert written.read_bytes() == raw[0]
        left = sorted(p.name for p in destination.parent.iterdir())
        assert left == [destination.name], f"a temporary file was left behind: {left}"
        assert d.last_response is not None
        assert d.last_response.headers.get("Content-Type") == response_header(name, 0, "Content-Type")
        return
    if op.kind == "model":
        assert op.model is not None
        result = method(*args, **kwargs)
        assert isinstance(result, getattr(models, op.model))
        assert dumped(result) == empty_alike(json.loads(raw[0]))
        return
    assert op.kind == "page" and op.model is not None and op.item_model is not None, op.kind
    expected = [empty_alike(json.loads(b)) for b in raw]
    page = method(*args, **kwargs)
    item_model = getattr(models, op.item_model)
    field = items_field(getattr(models, op.model), item_model)
    first = expected[0]
    assert is_page(page)
    assert isinstance(page.body, getattr(models, op.model))
    assert dumped(page.body) == first
    assert all(isinstance(item, item_model) for item in page.items)
    assert empty_alike([dumped(item) for item in page.items]) == first[field]
    figures = page.pagination
    assert (figures.page, figures.pages, figures.per_page, figures.items) == (
        first["pagination"]["page"],
        first["pagination"]["pages"],
        first["pagination"]["per_page"],
        first["pagination"]["items"],
    )
    if len(statuses) > 1 or figures.page >= figures.pages:
        # the cassette holds every page iteration asks for: walk them all
        assert empty_alike([dumped(item) for item in page]) == empty_alike(
            [item for b in expected if isinstance(b[field], list) for item in b[field]]
        )
    else:
        assert page.has_next_page()


def check_oauth_step(op: OperationInfo, entry: dict[str, Any], d: Discogs) -> None:
    """The token steps through ``oauth_flow()``, as users take them."""
    body = dict(parse_qsl(raw_bodies(entry["cassette"])[0].decode("utf-8"), keep_blank_values=True))
    flow = d.oauth_flow()
    if op.id == "oauth.request_token":
        request_token = flow.request_token()
        assert isinstance(request_token, RequestToken)
        assert (request_token.token, request_token.secret) == (body["oauth_token"], body["oauth_token_secret"])
        assert f"oauth_token={body['oauth_token']}" in request_token.authorize_url
    else:
        token, secret = docs_request_token()
        access = flow.access_token(RequestToken(token, secret), entry["verifier"])
        assert isinstance(access, AccessToken)
        assert (access.token, access.secret) == (body["oauth_token"], body["oauth_token_secret"])


def check_oauth_form(op: OperationInfo, entry: dict[str, Any], d: Discogs) -> None:
    """The generated token method itself returns the form as a dict (given the OAuth header)."""
    body = dict(parse_qsl(raw_bodies(entry["cassette"])[0].decode("utf-8"), keep_blank_values=True))
    if op.id == "oauth.request_token":
        header = oauth_header(CONSUMER_KEY, CONSUMER_SECRET, callback="oob")
    else:
        token, secret = docs_request_token()
        header = oauth_header(
            CONSUMER_KEY, CONSUMER_SECRET, token=token, token_secret=secret, verifier=entry["verifier"]
        )
    form_headers = {"Authorization": header, "Content-Type": "application/x-www-form-urlencoded"}
    answer = method_of(d, op)(extra_headers=form_headers)
    assert isinstance(answer, dict) and answer == body


def replay(op: OperationInfo, entry: dict[str, Any], tmp: Path, flavor: str) -> None:
    name = entry["cassette"]
    steps: list[Callable[[Discogs], None]]
    if op.kind == "form":
        steps = [lambda d: check_oauth_step(op, entry, d), lambda d: check_oauth_form(op, entry, d)]
    else:
        args, kwargs = arguments(op, entry, tmp)
        steps = [lambda d: check_result(op, entry, d, args, kwargs)]
    for step in steps:
        with replayer(entry).use_cassette(str(CASSETTES / name)) as cassette:
            d = client(entry["auth"], flavor)
            try:
                step(d)
            finally:
                d.close()
        assert cassette.all_played, f"{name}: {cassette.play_count} of {len(cassette)} interactions played"
        assert cassette.play_count == len(cassette)


# ---------------------------------------------------------------------------------------------
# the tests


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.id)
def test_operation_replays_from_its_cassettes(op: OperationInfo, flavor: str, tmp_path: Path) -> None:
    entries = [e for e in INDEX if e["operation"] == op.id]
    assert entries, (
        f"{op.id} ({op.method} {op.path}) has no cassette: add a scenario to tools/cassettes/scenarios.yaml "
        "and run .venv/bin/python -m tools.cassettes.build"
    )
    for number, entry in enumerate(entries):
        folder = tmp_path / str(number)
        folder.mkdir()
        replay(op, entry, folder, flavor)


def test_every_cassette_belongs_to_an_operation() -> None:
    orphans = sorted(e["cassette"] for e in INDEX if e["operation"] not in REGISTRY)
    assert not orphans, f"cassettes of operations the SDK does not have: {orphans}"


def test_the_registry_has_the_62_operations() -> None:
    assert len(REGISTRY) == len(OPERATIONS) == 62


def _cassette_files() -> list[Path]:
    return sorted(p for p in CASSETTES.rglob("*") if p.is_file() and p.suffix in (".yaml", ".json", ".csv", ".txt"))


@pytest.mark.parametrize("path", _cassette_files(), ids=lambda p: p.relative_to(CASSETTES).as_posix())
def test_no_credential_is_stored(path: Path) -> None:
    """No Authorization header, token or secret in any file the cassettes are made of."""
    text = path.read_text(encoding="utf-8")
    lowered = text.lower()
    assert "authorization" not in lowered
    assert "discogs token=" not in lowered and "oauth_signature" not in lowered
    for value in (TOKEN, CONSUMER_KEY, CONSUMER_SECRET):
        assert value not in text
    relative = path.relative_to(CASSETTES).as_posix()
    if path.suffix == ".yaml":
        interactions = cassette_data(relative)["interactions"]
        for interaction in interactions:
            request = interaction["request"]
            assert set(request["headers"]) <= {"User-Agent", "Accept", "Content-Type"}, request["headers"]
            assert not re.search(r"(token|secret|key)=", request["uri"].lower()), request["uri"]
            assert not re.search(r"(token|secret)=", _text(request["body"]).decode("utf-8").lower())
        bodies = [_text(i["response"]["body"]["string"]).decode("utf-8") for i in interactions]
    else:
        bodies = [text]
    for body in bodies:
        found = dict(parse_qsl(body)) if re.search(r"(token|secret)=", body.lower()) else {}
        if found:
            # only the OAuth token steps answer tokens, and theirs are the documentation's examples
            assert relative in OAUTH_CASSETTES or relative.startswith("docs-bodies/authentication."), relative
            assert set(found.values()) <= DOCS_OAUTH_VALUES, found


def test_multipart_matcher_ignores_the_boundary_but_not_the_content() -> None:
    """The upload matcher compares parts, so another boundary matches and another file does not."""
    from urllib3 import encode_multipart_formdata

    fields = {"upload": ("add.csv", b"release_id\n1\n", "text/csv")}
    one, one_type = encode_multipart_formdata(fields, boundary="aaaa")
    two, two_type = encode_multipart_formdata(fields, boundary="bbbb")
    assert one != two
    assert (
        multipart_parts(one, one_type)
        == multipart_parts(two, two_type)
        == [("upload", "add.csv", "text/csv", b"release_id\n1\n")]
    )
    other, other_type = encode_multipart_formdata({"upload": ("add.csv", b"release_id\n2\n", "text/csv")})
    assert multipart_parts(other, other_type) != multipart_parts(one, one_type)

    entry = next(e for e in INDEX if e["operation"] == "inventory.uploads.add")
    matcher = request_matcher(entry)
    recorded = cassette_data(entry["cassette"])["interactions"][0]["request"]
    stored = vcr.request.Request(
        "POST", recorded["uri"], recorded["body"], {"Content-Type": recorded["headers"]["Content-Type"][0]}
    )
    content = (TOOLS / entry["upload"]["file"]).read_bytes()
    headers = {"User-Agent": USER_AGENT, "Authorization": f"Discogs token={TOKEN}"}
    good, good_type = encode_multipart_formdata({"upload": ("add.csv", content, "text/csv")})
    matcher(vcr.request.Request("POST", recorded["uri"], good, {**headers, "Content-Type": good_type}), stored)
    bad, bad_type = encode_multipart_formdata({"upload": ("other.csv", content, "text/csv")})
    with pytest.raises(AssertionError):
        matcher(vcr.request.Request("POST", recorded["uri"], bad, {**headers, "Content-Type": bad_type}), stored)
    with pytest.raises(AssertionError):  # the right file without credentials
        matcher(
            vcr.request.Request("POST", recorded["uri"], good, {"User-Agent": USER_AGENT, "Content-Type": good_type}),
            stored,
        )


def test_json_matcher_compares_parsed_bodies() -> None:
    entry = next(e for e in INDEX if e["cassette"] == "marketplace.listings.create/release-1-draft.yaml")
    matcher = request_matcher(entry)
    recorded = cassette_data(entry["cassette"])["interactions"][0]["request"]
    stored = vcr.request.Request("POST", recorded["uri"], recorded["body"], {"Content-Type": "application/json"})
    headers = {"User-Agent": USER_AGENT, "Authorization": f"Discogs token={TOKEN}", "Content-Type": "application/json"}
    reordered = json.dumps(dict(reversed(list(entry["body"].items()))), indent=2)
    matcher(vcr.request.Request("POST", recorded["uri"], reordered, headers), stored)
    with pytest.raises(AssertionError):
        matcher(
            vcr.request.Request("POST", recorded["uri"], json.dumps({**entry["body"], "price": 11.0}), headers), stored
        )
    with pytest.raises(AssertionError):
        matcher(vcr.request.Request("POST", recorded["uri"], None, headers), stored)


def test_oauth_header_check_needs_plaintext_and_the_consumer_key() -> None:
    entry = next(e for e in INDEX if e["operation"] == "oauth.request_token")
    check = expected_authorization(entry)
    check(oauth_header(CONSUMER_KEY, CONSUMER_SECRET, callback="oob"))
    with pytest.raises(AssertionError):
        check(oauth_header("another-key", CONSUMER_SECRET, callback="oob"))
    with pytest.raises(AssertionError):
        check(oauth_header(CONSUMER_KEY, CONSUMER_SECRET, callback="oob").replace("PLAINTEXT", "HMAC-SHA1"))
    with pytest.raises(AssertionError):
        check(f"Discogs token={TOKEN}")
