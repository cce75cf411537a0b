"""Re-record the cassettes against the live Discogs API (``make record``).

    DISCOGS_TOKEN=... python -m tools.cassettes.record               # every read-only scenario
    DISCOGS_TOKEN=... python -m tools.cassettes.record --only 'artists.*'
    DISCOGS_TOKEN=... python -m tools.cassettes.record --writes      # also PUT/DELETE/POST, on your own account

Each scenario of ``index.json`` is requested again, exactly as the cassette holds it (method, path,
query, JSON body or multipart upload), with vcrpy in ``record_mode="all"``; answers are stored as they
come (JSON, CSV, empty). The token never reaches a file:

- request headers are cut down to User-Agent, Accept and Content-Type (``filter_headers`` drops
  Authorization too);
- ``token``/``key``/``secret`` query parameters are removed (``filter_query_parameters``);
- every remaining occurrence of the token (plain or percent-encoded) in URIs, request bodies, response
  headers and response bodies is replaced by ``<DISCOGS_TOKEN>`` (``before_record_request``,
  ``before_record_response``, and vcrpy's ``filter_sensitive_data`` where the installed vcrpy has it);
- the written file is read back and deleted if it still contains the token.

A scenario whose live status differs from the cassette's (a release that was deleted since, a private
collection, someone else's export, a 429) keeps its old cassette and is reported; the exit status is
then 1. Scenarios that a live server cannot reproduce on demand (the documented 500), that would touch
other people (order updates and messages reach a buyer), put listings up for sale (inventory uploads),
store the owner's e-mail address (profile edits) or a live OAuth token are never re-recorded
(``record: skip`` in the index).

Write scenarios act on the token owner's account, so they only run with ``--writes``. Each is moved
onto the owner (their username, and ids of things made for it) and prepared outside the cassette by
``plan_write``: a scratch folder to rename, move into or delete, a collection instance to rate, move,
annotate or delete, a draft listing to edit or delete, a wantlist entry to edit or delete. Afterwards
what the recording made is removed and what it changed is put back (ratings, wantlist entries).

Importing this module imports nothing but the standard library: vcrpy, the SDK and the network are
only touched by ``main``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import fnmatch
import inspect
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

HERE = Path(__file__).resolve().parent
INDEX_PATH = HERE / "index.json"
CASSETTES_DIR = HERE.parents[1] / "cassettes"
BASE_URL = "https://api.discogs.com"
PLACEHOLDER = "<DISCOGS_TOKEN>"
MATCH_ON = ("method", "scheme", "host", "path", "query")
KEEP_REQUEST_HEADERS = frozenset({"user-agent", "accept", "content-type"})
KEEP_RESPONSE_HEADERS = frozenset(
    {
        "content-type",
        "link",
        "location",
        "retry-after",
        "x-discogs-media-type",
        "x-discogs-ratelimit",
        "x-discogs-ratelimit-remaining",
        "x-discogs-ratelimit-used",
    }
)
SENSITIVE_HEADERS = ("authorization", "cookie", "set-cookie")
SENSITIVE_QUERY = ("token", "key", "secret", "oauth_token", "oauth_signature", "oauth_consumer_key")


# -- scrubbing (pure functions: unit-tested offline) ----------------------------------------------


def secret_forms(secrets: Iterable[str | None]) -> list[str]:
    """Each secret as it may appear on the wire: plain, percent-encoded, form-encoded; longest first."""
    forms: set[str] = set()
    for secret in secrets:
        if secret:
            forms.update({secret, quote(secret, safe=""), quote_plus(secret)})
    return sorted(forms, key=lambda s: (-len(s), s))


def scrub(value: Any, forms: Sequence[str]) -> Any:
    """``value`` (str or bytes) with every secret form replaced by the placeholder; others unchanged."""
    if isinstance(value, str):
        for form in forms:
            value = value.replace(form, PLACEHOLDER)
        return value
    if isinstance(value, bytes | bytearray):
        data = bytes(value)
        for form in forms:
            data = data.replace(form.encode("utf-8"), PLACEHOLDER.encode("utf-8"))
        return data
    return value


def request_scrubber(secrets: Iterable[str | None]) -> Callable[[Any], Any]:
    """A vcrpy ``before_record_request`` hook: keep User-Agent and Accept only, scrub URI and body."""
    forms = secret_forms(secrets)

    def before_record_request(request: Any) -> Any:
        for name in list(request.headers):
            if name.lower() not in KEEP_REQUEST_HEADERS:
                del request.headers[name]
            else:
                request.headers[name] = scrub(request.headers[name], forms)
        request.uri = scrub(request.uri, forms)
        if isinstance(request.body, str | bytes):
            request.body = scrub(request.body, forms)
        return request

    return before_record_request


def response_scrubber(secrets: Iterable[str | None]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A vcrpy ``before_record_response`` hook: keep the useful headers only, scrub them and the body."""
    forms = secret_forms(secrets)

    def before_record_response(response: dict[str, Any]) -> dict[str, Any]:
        headers = response.get("headers") or {}
        response["headers"] = {
            name: [scrub(v, forms) for v in (values if isinstance(values, list) else [values])]
            for name, values in headers.items()
            if name.lower() in KEEP_RESPONSE_HEADERS
        }
        body = response.get("body") or {}
        if "string" in body:
            body["string"] = scrub(body["string"], forms)
        return response

    return before_record_response


def contains_secret(data: bytes, secrets: Iterable[str | None]) -> bool:
    return any(form.encode("utf-8") in data for form in secret_forms(secrets))


def vcr_options(secrets: Sequence[str | None], supported: Iterable[str]) -> dict[str, Any]:
    """Keyword arguments for ``vcr.VCR`` that record everything and write no secret."""
    options: dict[str, Any] = {
        "record_mode": "all",
        "match_on": list(MATCH_ON),
        "decode_compressed_response": True,
        "filter_headers": list(SENSITIVE_HEADERS),
        "filter_query_parameters": list(SENSITIVE_QUERY),
        "before_record_request": request_scrubber(secrets),
        "before_record_response": response_scrubber(secrets),
    }
    if "filter_sensitive_data" in set(supported):  # vcrpy versions that have it: a second net
        options["filter_sensitive_data"] = [(PLACEHOLDER, form) for form in secret_forms(secrets)]
    return options


# -- recording ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    cassette: str
    ok: bool
    message: str
    entry: dict[str, Any] | None = None
    statuses: list[int] = field(default_factory=list)
    answer: bytes | None = None  # the last live answer, kept or not (its ids let a write be undone)
    leftovers: list[str] = field(default_factory=list)  # what a write could not put back (say so, loudly)


def load_index(path: Path = INDEX_PATH) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def select(entries: Iterable[Mapping[str, Any]], patterns: Sequence[str], writes: bool) -> list[dict[str, Any]]:
    """The scenarios to record: matching ``--only`` (operation or cassette globs), writes on request."""
    chosen = []
    for entry in entries:
        if patterns and not any(
            fnmatch.fnmatchcase(entry["operation"], p) or fnmatch.fnmatchcase(entry["cassette"], p) for p in patterns
        ):
            continue
        if entry["record"] == "skip" or (entry["record"] == "write" and not writes):
            continue
        chosen.append(dict(entry))
    # a rating is set before it is deleted
    return sorted(chosen, key=lambda e: (e["operation"] == "releases.rating.delete", e["cassette"]))


def request_target(interaction: Mapping[str, Any]) -> tuple[str, str]:
    method, _, target = interaction["request"].partition(" ")
    return method, target


def _client(token: str | None, base_url: str) -> Any:
    from musicagent import Discogs, __version__

    # env={} and a .env path that cannot exist: no credential may come from anywhere but `token`
    return Discogs(
        token=token,
        user_agent=f"musicagent/{__version__} cassette-recorder",
        base_url=base_url,
        max_retries=0,
        env={},
        dotenv=HERE / "does-not-exist" / ".env",
    )


def _send(client: Any, entry: Mapping[str, Any], method: str, target: str) -> Any:
    """One request as the cassette holds it (JSON body or multipart upload); the answer is not parsed,
    so CSV and form answers are recorded like JSON ones. Returns the transport's raw response."""
    upload = entry.get("upload")
    fields = None
    if upload:
        content = (HERE / upload["file"]).read_bytes()
        fields = {upload["field"]: (upload["filename"], content, upload["content_type"])}
    return client._transport.request(method, target, json=entry.get("body"), fields=fields, parse=lambda raw: raw)


def record_entry(entry: Mapping[str, Any], *, token: str, base_url: str, out: Path, today: str) -> Outcome:
    """Record one scenario into a temporary cassette; move it into place if the statuses match."""
    import vcr

    from musicagent import APIError, DiscogsError

    secrets = [token]
    recorder = vcr.VCR(**vcr_options(secrets, inspect.signature(vcr.VCR).parameters))
    client = _client(token if entry["auth"] == "token" else None, base_url)
    expected = [i["status"] for i in entry["interactions"]]
    target = out / entry["cassette"]
    answer: bytes | None = None
    with tempfile.TemporaryDirectory(prefix="cassette-") as tmp:
        scratch = Path(tmp) / "cassette.yaml"
        statuses: list[int] = []
        sizes: list[int] = []
        with recorder.use_cassette(str(scratch)):
            for interaction in entry["interactions"]:
                method, path = request_target(interaction)
                try:
                    _send(client, entry, method, path)
                except APIError as exc:
                    statuses.append(exc.status_code)
                except DiscogsError as exc:  # no answer at all (connection, timeout)
                    return Outcome(entry["cassette"], False, f"{type(exc).__name__}: {exc}: kept", None, statuses)
                else:
                    statuses.append(client.last_response.status)
                answer = client.last_response.content if client.last_response else None
                sizes.append(len(answer or b""))
        if statuses != expected:
            message = f"live statuses {statuses}, cassette has {expected}: kept"
            return Outcome(entry["cassette"], False, message, None, statuses, answer)
        content = scratch.read_bytes()
        if contains_secret(content, secrets):
            message = "the recording still held the token: discarded"
            return Outcome(entry["cassette"], False, message, None, statuses, answer)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".yaml.part")
        partial.write_bytes(content)
        os.replace(partial, target)
    updated = dict(entry)
    updated["origin"] = "live"
    updated["interactions"] = [
        {
            "request": interaction["request"],
            "status": status,
            "recorded": today,
            "class": "LIVE-RECORDED",
            "file": None,
            "body_from": None,
            "source_repo": None,
            "source_path": None,
            "licence": None,
            "docs_section": None,
            "bytes": size,
            "notes": f"recorded from {base_url} by tools/cassettes/record.py",
        }
        for interaction, status, size in zip(entry["interactions"], statuses, sizes, strict=True)
    ]
    return Outcome(entry["cassette"], True, "recorded", updated, statuses, answer)


def moved(
    entry: Mapping[str, Any], owner: str, params: Mapping[str, Any] | None = None, body: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A write scenario moved onto the token owner's account: the owner's username and the ids of the
    things made for it in its path (the query stays), ``body`` members replacing the recorded ones."""
    copy: dict[str, Any] = json.loads(json.dumps(entry))
    if "username" in copy["path_params"]:
        copy["path_params"]["username"] = owner
    copy["path_params"].update({name: str(value) for name, value in (params or {}).items()})
    if body:
        copy["body"] = {**(copy["body"] or {}), **body}
    path = copy["path_template"].format(**{k: quote(str(v), safe="") for k, v in copy["path_params"].items()})
    for interaction in copy["interactions"]:
        method, target = request_target(interaction)
        _, question, query = target.partition("?")
        interaction["request"] = f"{method} {path}{question}{query}"
    return copy


def as_owner(entry: Mapping[str, Any], owner: str) -> dict[str, Any]:
    """A write scenario moved onto the token owner's account: the owner's username in every path."""
    return moved(entry, owner)


# -- writes: what each needs beforehand and what puts things back ----------------------------------

SCRATCH_FOLDER = "musicagent cassette recording"  # made for a recording and deleted after it
UNCATEGORIZED = 1  # every collection has it; releases can be added to it
DRAFT = {"release_id": 1, "condition": "Mint (M)", "price": 10.0, "status": "Draft"}  # never for sale


class SetupError(Exception):
    """The owner's account lacks something a write scenario needs (a notes field, seller settings...)."""


@dataclass
class Plan:
    """What a write scenario is recorded with on the owner's account, and how to undo it afterwards.

    ``cleanups`` run last-added first, after the recording, with the live answer (parsed JSON or None).
    """

    params: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)
    cleanups: list[Callable[[Any], None]] = field(default_factory=list)


def _quietly(call: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Undo something that may already be undone (a DELETE that was the recording itself)."""
    from musicagent import NotFoundError

    try:
        call(*args, **kwargs)
    except NotFoundError:
        pass


def _with_answer(key: str, undo: Callable[[int], None]) -> Callable[[Any], None]:
    """A cleanup that needs the id of what the recorded request made (absent when it failed)."""

    def cleanup(answer: Any) -> None:
        if isinstance(answer, dict) and answer.get(key) is not None:
            undo(int(answer[key]))

    return cleanup


def _undo_instance(instances: Any, owner: str, folder: int, release: int, instance: int, answer: Any) -> None:
    _quietly(instances.delete, owner, folder, release, instance)


def _want_of(client: Any, owner: str, release: int) -> Any:
    """The owner's wantlist entry for ``release``, or None (the wantlist has no lookup by release)."""
    return next((want for want in client.users.wants.list(owner) if want.id == release), None)


def plan_write(client: Any, owner: str, entry: Mapping[str, Any], plan: Plan) -> Plan:
    """Prepare the owner's account for one write scenario (outside any cassette), filling ``plan``;
    when preparing fails half-way, ``plan.cleanups`` undo what was already made."""
    operation = entry["operation"]
    params = entry["path_params"]
    folders = client.users.collection.folders
    instances = client.users.collection.instances

    def scratch_folder() -> int:
        folder = int(folders.create(owner, name=SCRATCH_FOLDER).id)
        plan.cleanups.append(lambda answer: _quietly(folders.delete, owner, folder))
        return folder

    if operation == "users.collection.folders.create":
        plan.cleanups.append(_with_answer("id", lambda made: _quietly(folders.delete, owner, made)))
    elif operation in ("users.collection.folders.update", "users.collection.folders.delete"):
        plan.params["folder_id"] = scratch_folder()
    elif operation == "users.collection.folders.add_release":
        folder, release = int(params["folder_id"]), int(params["release_id"])
        plan.cleanups.append(
            _with_answer("instance_id", lambda made: _quietly(instances.delete, owner, folder, release, made))
        )
    elif operation in (
        "users.collection.instances.update",
        "users.collection.instances.delete",
        "users.collection.fields.set",
    ):
        release = int(params["release_id"])
        where = UNCATEGORIZED
        if operation == "users.collection.instances.update" and "folder_id" in (entry["body"] or {}):
            where = plan.body["folder_id"] = scratch_folder()  # the instance moves there
        if operation == "users.collection.fields.set":
            notes = [f for f in client.users.collection.fields.list(owner).fields if f.type == "textarea"]
            if not notes:
                raise SetupError("the token owner has no collection notes field of type textarea")
            plan.params["field_id"] = notes[0].id
        instance = int(folders.add_release(owner, UNCATEGORIZED, release).instance_id)
        plan.params.update(folder_id=UNCATEGORIZED, instance_id=instance)
        for folder in sorted({UNCATEGORIZED, where}):  # wherever the instance ended up
            plan.cleanups.append(partial(_undo_instance, instances, owner, folder, release, instance))
    elif operation.startswith("users.wants."):
        release = int(params["release_id"])
        before = _want_of(client, owner, release)
        if operation != "users.wants.add" and before is None:
            client.users.wants.add(owner, release)  # something to edit or to delete

        def restore(answer: Any) -> None:
            if before is None:
                _quietly(client.users.wants.delete, owner, release)
            else:
                client.users.wants.add(owner, release, notes=before.notes or "", rating=before.rating or 0)

        plan.cleanups.append(restore)
    elif operation == "marketplace.listings.create":
        plan.cleanups.append(
            _with_answer("listing_id", lambda made: _quietly(client.marketplace.listings.delete, made))
        )
    elif operation in ("marketplace.listings.update", "marketplace.listings.delete"):
        listing = int(client.marketplace.listings.create(**(entry["body"] or DRAFT)).listing_id)
        plan.params["listing_id"] = listing
        plan.cleanups.append(lambda answer: _quietly(client.marketplace.listings.delete, listing))
    return plan


def _parsed(answer: bytes | None) -> Any:
    try:
        return json.loads(answer) if answer else None
    except ValueError:
        return None


def _record_writes(entries: list[dict[str, Any]], *, token: str, base_url: str, out: Path, today: str) -> list[Outcome]:
    """Writes on the owner's account, then put back what they changed (outside any cassette)."""
    from musicagent import DiscogsError, NotFoundError

    client = _client(token, base_url)
    owner = client.oauth.identity().username
    outcomes: list[Outcome] = []
    previous: dict[int, int] = {}
    for entry in entries:
        if entry["operation"].startswith("releases.rating."):
            release = int(entry["path_params"]["release_id"])
            if release not in previous:
                previous[release] = client.releases.rating.get(release, owner).rating
        plan = Plan()
        try:
            plan_write(client, owner, entry, plan)
        except (SetupError, DiscogsError) as exc:
            outcome = Outcome(entry["cassette"], False, f"could not prepare the account ({exc}): kept")
        else:
            outcome = record_entry(
                moved(entry, owner, plan.params, plan.body), token=token, base_url=base_url, out=out, today=today
            )
        answer = _parsed(outcome.answer)
        for cleanup in reversed(plan.cleanups):
            try:
                cleanup(answer)
            except DiscogsError as exc:  # go on undoing the rest, and report it
                outcome.leftovers.append(f"{type(exc).__name__}: {exc}")
        outcomes.append(outcome)
    for release, rating in previous.items():
        if rating:
            client.releases.rating.update(release, owner, rating=rating)
        else:
            try:
                client.releases.rating.delete(release, owner)
            except NotFoundError:  # already gone
                pass
    return outcomes


def record_all(
    entries: list[dict[str, Any]],
    *,
    token: str,
    base_url: str = BASE_URL,
    out: Path = CASSETTES_DIR,
    pause: float = 60.0,
) -> list[Outcome]:
    today = _dt.date.today().isoformat()
    reads = [e for e in entries if e["record"] == "read"]
    writes = [e for e in entries if e["record"] == "write"]
    outcomes = []
    for entry in reads:
        outcome = record_entry(entry, token=token, base_url=base_url, out=out, today=today)
        if not outcome.ok and 429 in outcome.statuses:  # the limiter should prevent it; wait once and retry
            time.sleep(pause)
            outcome = record_entry(entry, token=token, base_url=base_url, out=out, today=today)
        outcomes.append(outcome)
        print(f"{'ok  ' if outcome.ok else 'FAIL'} {outcome.cassette}: {outcome.message}")
    if writes:
        for outcome in _record_writes(writes, token=token, base_url=base_url, out=out, today=today):
            outcomes.append(outcome)
            print(f"{'ok  ' if outcome.ok else 'FAIL'} {outcome.cassette}: {outcome.message}")
            for leftover in outcome.leftovers:
                print(f"     NOT PUT BACK on your account: {leftover}")
    return outcomes


def save_index(
    index: dict[str, Any], outcomes: Iterable[Outcome], out: Path = CASSETTES_DIR, index_path: Path = INDEX_PATH
) -> None:
    """Write the recorded entries into index.json and the table of the cassettes' README.md."""
    from . import build

    recorded = {o.cassette: o.entry for o in outcomes if o.ok and o.entry is not None}
    entries = [recorded.get(e["cassette"], e) for e in index["cassettes"]]
    index_path.write_bytes(build.render_index(entries))
    readme = out / build.README_NAME
    if readme.exists():
        text = build.with_table(readme.read_text(encoding="utf-8"), build.render_table(entries))
        readme.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.cassettes.record", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="GLOB",
        help="operation or cassette glob, e.g. 'artists.*' (repeatable)",
    )
    parser.add_argument(
        "--writes", action="store_true", help="also record PUT/POST/DELETE scenarios, on the token owner's account"
    )
    parser.add_argument("--list", action="store_true", help="list what would be recorded, record nothing")
    args = parser.parse_args(argv)
    index = load_index()
    entries = select(index["cassettes"], args.only, args.writes)
    if args.list:
        for entry in entries:
            print(entry["cassette"])
        return 0
    token = os.environ.get("DISCOGS_TOKEN", "").strip()
    if not token:
        print(
            "DISCOGS_TOKEN is not set: nothing was recorded.\n"
            "Create a personal access token at https://www.discogs.com/settings/developers and run\n"
            "    DISCOGS_TOKEN=... make record\n"
            "The cassettes in cassettes/ stay as they are (built from real bodies by tools/cassettes/build.py).",
            file=sys.stderr,
        )
        return 2
    if not entries:
        print("no scenario matches", file=sys.stderr)
        return 2
    outcomes = record_all(entries, token=token)
    save_index(index, outcomes)
    failed = [o for o in outcomes if not o.ok]
    print(f"{len(outcomes) - len(failed)} recorded, {len(failed)} kept as they were")
    leftovers = [o.cassette for o in outcomes if o.leftovers]
    if leftovers:
        print(f"check your account: {', '.join(leftovers)} could not undo everything (see above)")
    return 1 if failed or leftovers else 0


if __name__ == "__main__":
    sys.exit(main())
