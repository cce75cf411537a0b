"""What the authenticated user changed: writes to their own data, seen by later reads.

Each server has one :class:`State`. Its data starts as the recordings say (the user's recorded
wantlist, folders, profile, orders), or empty where nothing was recorded, the first time an
operation touches it, and lives as long as the server. Only the authenticated user's own data is
kept (auth has already refused other users' with 403); request bodies were validated against the
spec before they get here.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from .._runtime.operations import OperationInfo
from ._auth import is_credential_param
from ._match import route
from ._sort import sort_field, sorted_items

__all__ = ["Answer", "State"]

API = "https://api.discogs.com"  # links are written as Discogs writes them; the server points them at itself


@dataclass
class Answer:
    """An answer the mock made up rather than replayed."""

    status: int
    body: Any = None  # JSON-able; None for no body
    kind: str = "state"


def _error(status: int, message: str) -> Answer:
    return Answer(status, {"message": message})


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


@dataclass
class _UserData:
    wants: dict[int, dict[str, Any]] | None = None
    folders: dict[int, dict[str, Any]] | None = None
    instances: dict[int, dict[str, Any]] | None = None  # instance_id -> collection item
    ratings: dict[int, int] = field(default_factory=dict)
    profile: dict[str, Any] | None = None
    next_id: int = 900_000_001


def page_of(items: list[Any], field_name: str, query: Mapping[str, tuple[str, ...]], path: str) -> dict[str, Any]:
    """One page of ``items`` with a Discogs ``pagination`` block (50 per page unless asked).

    In the ``sort`` asked, where it is one the operation takes (else in the order kept); its links
    keep the question's other parameters (filters, sort), as Discogs' do.
    """
    per_page = max(1, min(100, _int((query.get("per_page") or ("50",))[-1]) or 50))
    page = max(1, _int((query.get("page") or ("1",))[-1]) or 1)
    pages = max(1, -(-len(items) // per_page))
    found = route("GET", path)
    order = sort_field(found.operation.id, query) if found is not None else None
    if isinstance(order, tuple):
        items = sorted_items(items, *order)
    kept = [
        (k, v)
        for k, values in query.items()
        if k not in ("page", "per_page") and not is_credential_param(k)
        for v in values
    ]

    def link(number: int) -> str:
        return f"{API}{path}?{urlencode([*kept, ('page', number), ('per_page', per_page)])}"

    urls: dict[str, str] = {}
    if page < pages:
        urls = {"last": link(pages), "next": link(page + 1)}
    if page > 1:
        urls.update(first=link(1), prev=link(page - 1))
    chunk = items[(page - 1) * per_page : page * per_page]
    return {
        "pagination": {"page": page, "pages": pages, "per_page": per_page, "items": len(items), "urls": urls},
        field_name: chunk,
    }


class State:
    """The authenticated user's changes, for one server's life.

    ``recorded(path)`` gives the parsed body of a recorded ``GET path`` (or None); it seeds the
    user's data the first time it is touched, and describes releases added to a list.
    """

    def __init__(self, user: str, recorded: Callable[[str], Any]) -> None:
        self.user = user
        self._recorded = recorded
        self._lock = threading.Lock()
        self._data = _UserData()
        self._listings: dict[int, dict[str, Any] | None] = {}  # None: deleted
        self._orders: dict[str, dict[str, Any]] = {}
        self._order_messages: dict[str, list[dict[str, Any]]] = {}
        self._deleted: set[str] = set()
        self._handlers: dict[str, Callable[..., Answer | None]] = {
            "users.wants.list": self._wants_list,
            "users.wants.add": self._wants_add,
            "users.wants.update": self._wants_update,
            "users.wants.delete": self._wants_delete,
            "users.collection.folders.list": self._folders_list,
            "users.collection.folders.get": self._folder_get,
            "users.collection.folders.create": self._folder_create,
            "users.collection.folders.update": self._folder_update,
            "users.collection.folders.delete": self._folder_delete,
            "users.collection.folders.releases": self._folder_releases,
            "users.collection.folders.add_release": self._instance_add,
            "users.collection.releases": self._release_instances,
            "users.collection.instances.update": self._instance_update,
            "users.collection.instances.delete": self._instance_delete,
            "releases.rating.get": self._rating_get,
            "releases.rating.update": self._rating_put,
            "releases.rating.delete": self._rating_delete,
            "marketplace.listings.create": self._listing_create,
            "users.inventory": self._inventory,
            "users.lists": self._lists,
            "users.collection.fields.set": self._field_set,
            "marketplace.listings.get": self._listing_get,
            "marketplace.listings.update": self._listing_update,
            "marketplace.listings.delete": self._listing_delete,
            "marketplace.orders.get": self._order_get,
            "marketplace.orders.update": self._order_update,
            "marketplace.orders.messages.list": self._messages_list,
            "marketplace.orders.messages.add": self._message_add,
            "users.get": self._profile_get,
            "users.update": self._profile_update,
        }

    def handle(
        self, op: OperationInfo, params: Mapping[str, str], query: Mapping[str, tuple[str, ...]], body: Any, path: str
    ) -> Answer | None:
        """The answer from state, or None to let recordings answer (data nobody changed)."""
        handler = self._handlers.get(op.id)
        username = params.get("username")
        if handler is None or (username is not None and username.casefold() != self.user.casefold()):
            return None
        with self._lock:
            return handler(params=params, query=query, body=body if isinstance(body, dict) else {}, path=path)

    def forget(self, path: str) -> None:
        """A recorded DELETE succeeded: the next GET of that path is a 404."""
        with self._lock:
            self._deleted.add(path)

    def deleted(self, path: str) -> bool:
        with self._lock:
            return path in self._deleted

    def _new_id(self) -> int:
        self._data.next_id += 1
        return self._data.next_id

    def _seed_items(self, path: str, field_name: str) -> list[dict[str, Any]]:
        body = self._recorded(path)
        items = body.get(field_name) if isinstance(body, dict) else None
        return [copy.deepcopy(i) for i in items if isinstance(i, dict)] if isinstance(items, list) else []

    def _basic_information(self, release_id: int) -> dict[str, Any]:
        release = self._recorded(f"/releases/{release_id}")
        info: dict[str, Any] = {
            "id": release_id,
            "title": f"Release {release_id}",
            "resource_url": f"{API}/releases/{release_id}",
        }
        if isinstance(release, dict):
            for name in ("title", "year", "genres", "styles", "master_id", "master_url", "thumb"):
                if name in release:
                    info[name] = release[name]
            for name in ("artists", "labels", "formats"):
                if isinstance(release.get(name), list):
                    info[name] = release[name]
        return info

    # -- wantlist ------------------------------------------------------------------------------
    def _wants(self) -> dict[int, dict[str, Any]]:
        if self._data.wants is None:
            items = self._seed_items(f"/users/{self.user}/wants", "wants")
            self._data.wants = {int(i["id"]): i for i in items if isinstance(i.get("id"), int)}
        return self._data.wants

    def _wants_list(self, *, query: Mapping[str, tuple[str, ...]], path: str, **_: Any) -> Answer:
        return Answer(200, page_of(list(self._wants().values()), "wants", query, path))

    def _wants_add(self, *, params: Mapping[str, str], body: dict[str, Any], **_: Any) -> Answer:
        release_id = _int(params["release_id"])
        want = {
            "id": release_id,
            "rating": 0,
            "notes": "",
            "notes_public": False,
            "date_added": _now(),
            "resource_url": f"{API}/users/{self.user}/wants/{release_id}",
            "basic_information": self._basic_information(release_id),
        }
        want.update({k: body[k] for k in ("notes", "rating") if body.get(k) is not None})
        self._wants()[release_id] = want
        return Answer(201, want)

    def _wants_update(self, *, params: Mapping[str, str], body: dict[str, Any], **_: Any) -> Answer:
        want = self._wants().get(_int(params["release_id"]))
        if want is None:
            return _error(404, "Release not in wantlist.")
        want.update({k: body[k] for k in ("notes", "rating") if body.get(k) is not None})
        return Answer(200, want)

    def _wants_delete(self, *, params: Mapping[str, str], **_: Any) -> Answer:
        if self._wants().pop(_int(params["release_id"]), None) is None:
            return _error(404, "Release not in wantlist.")
        return Answer(204)

    # -- collection ----------------------------------------------------------------------------
    def _folders(self) -> dict[int, dict[str, Any]]:
        if self._data.folders is None:
            items = self._seed_items(f"/users/{self.user}/collection/folders", "folders") or [
                {"id": 0, "name": "All", "count": 0},
                {"id": 1, "name": "Uncategorized", "count": 0},
            ]
            self._data.folders = {int(f["id"]): f for f in items if isinstance(f.get("id"), int)}
            for folder_id, folder in self._data.folders.items():
                folder.setdefault("resource_url", f"{API}/users/{self.user}/collection/folders/{folder_id}")
        return self._data.folders

    def _instances(self) -> dict[int, dict[str, Any]]:
        if self._data.instances is None:
            items = self._seed_items(f"/users/{self.user}/collection/folders/0/releases", "releases")
            self._data.instances = {int(i["instance_id"]): i for i in items if isinstance(i.get("instance_id"), int)}
        return self._data.instances

    def _recount(self) -> None:
        folders, instances = self._folders(), self._instances()
        for folder_id, folder in folders.items():
            folder["count"] = sum(1 for i in instances.values() if folder_id in (0, i.get("folder_id")))

    def _folder(self, params: Mapping[str, str]) -> dict[str, Any] | None:
        return self._folders().get(_int(params["folder_id"]))

    def _folders_list(self, **_: Any) -> Answer:
        self._recount()
        return Answer(200, {"folders": list(self._folders().values())})

    def _folder_get(self, *, params: Mapping[str, str], **_: Any) -> Answer:
        folder = self._folder(params)
        if folder is None:
            return _error(404, "Folder does not exist.")
        self._recount()
        return Answer(200, folder)

    def _folder_create(self, *, body: dict[str, Any], **_: Any) -> Answer:
        folder_id = self._new_id()
        folder = {
            "id": folder_id,
            "name": body["name"],
            "count": 0,
            "resource_url": f"{API}/users/{self.user}/collection/folders/{folder_id}",
        }
        self._folders()[folder_id] = folder
        return Answer(201, folder)

    def _folder_update(self, *, params: Mapping[str, str], body: dict[str, Any], **_: Any) -> Answer:
        folder = self._folder(params)
        if folder is None:
            return _error(404, "Folder does not exist.")
        if folder["id"] in (0, 1):
            return _error(422, "The folders All and Uncategorized cannot be renamed.")
        if body.get("name") is not None:
            folder["name"] = body["name"]
        return Answer(200, folder)

    def _folder_delete(self, *, params: Mapping[str, str], **_: Any) -> Answer:
        folder = self._folder(params)
        if folder is None:
            return _error(404, "Folder does not exist.")
        self._recount()
        if folder["id"] in (0, 1) or folder.get("count"):
            return _error(403, "A folder must be empty to be deleted, and All and Uncategorized cannot be.")
        del self._folders()[folder["id"]]
        return Answer(204)

    def _folder_releases(
        self, *, params: Mapping[str, str], query: Mapping[str, tuple[str, ...]], path: str, **_: Any
    ) -> Answer:
        folder = self._folder(params)
        if folder is None:
            return _error(404, "Folder does not exist.")
        items = [i for i in self._instances().values() if folder["id"] in (0, i.get("folder_id"))]
        return Answer(200, page_of(items, "releases", query, path))

    def _instance_add(self, *, params: Mapping[str, str], **_: Any) -> Answer:
        folder = self._folder(params)
        if folder is None or folder["id"] == 0:
            return _error(
                404 if folder is None else 400,
                "Folder does not exist." if folder is None else "Releases cannot be added to the folder All.",
            )
        release_id, instance_id = _int(params["release_id"]), self._new_id()
        self._instances()[instance_id] = {
            "id": release_id,
            "instance_id": instance_id,
            "folder_id": folder["id"],
            "rating": 0,
            "date_added": _now(),
            "basic_information": self._basic_information(release_id),
        }
        url = f"{API}/users/{self.user}/collection/folders/{folder['id']}/releases/{release_id}/instances/{instance_id}"
        return Answer(201, {"instance_id": instance_id, "resource_url": url})

    def _release_instances(
        self, *, params: Mapping[str, str], query: Mapping[str, tuple[str, ...]], path: str, **_: Any
    ) -> Answer:
        release_id = _int(params["release_id"])
        items = [i for i in self._instances().values() if i.get("id") == release_id]
        return Answer(200, page_of(items, "releases", query, path))

    def _instance(self, params: Mapping[str, str]) -> dict[str, Any] | None:
        item = self._instances().get(_int(params["instance_id"]))
        if item is None or item.get("id") != _int(params["release_id"]):
            return None
        return item if item.get("folder_id") == _int(params["folder_id"]) or params["folder_id"] == "0" else None

    def _instance_update(self, *, params: Mapping[str, str], body: dict[str, Any], **_: Any) -> Answer:
        item = self._instance(params)
        if item is None:
            return _error(404, "Instance not found.")
        if body.get("folder_id") is not None:
            if _int(str(body["folder_id"])) not in self._folders():
                return _error(404, "Folder does not exist.")
            item["folder_id"] = _int(str(body["folder_id"]))
        if body.get("rating") is not None:
            item["rating"] = body["rating"]
        return Answer(204)

    def _instance_delete(self, *, params: Mapping[str, str], **_: Any) -> Answer:
        item = self._instance(params)
        if item is None:
            return _error(404, "Instance not found.")
        del self._instances()[item["instance_id"]]
        return Answer(204)

    # -- ratings -------------------------------------------------------------------------------
    def _rating_body(self, release_id: int) -> dict[str, Any]:
        return {"username": self.user, "release_id": release_id, "rating": self._data.ratings[release_id]}

    def _rating_get(self, *, params: Mapping[str, str], **_: Any) -> Answer | None:
        release_id = _int(params["release_id"])
        return Answer(200, self._rating_body(release_id)) if release_id in self._data.ratings else None

    def _rating_put(self, *, params: Mapping[str, str], body: dict[str, Any], **_: Any) -> Answer:
        release_id = _int(params["release_id"])
        self._data.ratings[release_id] = int(body["rating"])
        return Answer(201, self._rating_body(release_id))

    def _rating_delete(self, *, params: Mapping[str, str], **_: Any) -> Answer:
        self._data.ratings[_int(params["release_id"])] = 0  # Discogs then reports rating 0, not a 404
        return Answer(204)

    # -- marketplace ---------------------------------------------------------------------------
    def _listing_create(self, *, body: dict[str, Any], **_: Any) -> Answer:
        listing_id = self._new_id()
        release_id = int(body["release_id"])
        info = self._basic_information(release_id)
        self._listings[listing_id] = {
            "id": listing_id,
            "status": body["status"],
            "condition": body["condition"],
            "sleeve_condition": body.get("sleeve_condition") or "Not Graded",
            "comments": body.get("comments") or "",
            "allow_offers": bool(body.get("allow_offers")),
            "posted": _now(),
            "ships_from": "",
            "price": {"currency": "USD", "value": float(body["price"])},
            "seller": {"id": 1, "username": self.user, "resource_url": f"{API}/users/{self.user}"},
            "release": {"id": release_id, "description": info["title"], "resource_url": info["resource_url"]},
            "resource_url": f"{API}/marketplace/listings/{listing_id}",
            "uri": f"https://www.discogs.com/sell/item/{listing_id}",
            **{k: body[k] for k in ("external_id", "location", "weight", "format_quantity") if k in body},
        }
        return Answer(201, {"listing_id": listing_id, "resource_url": f"{API}/marketplace/listings/{listing_id}"})

    def _inventory(self, *, query: Mapping[str, tuple[str, ...]], path: str, **_: Any) -> Answer | None:
        """The user's inventory: what was recorded for them, with the listings made and deleted since."""
        gone = {path for path in self._deleted if path.startswith("/marketplace/listings/")}
        recorded = self._seed_items(f"/users/{self.user}/inventory", "listings")
        items = [i for i in recorded if f"/marketplace/listings/{i.get('id')}" not in gone]
        items += [listing for listing in reversed(self._listings.values()) if listing is not None]
        status = (query.get("status") or (None,))[-1]
        if status not in (None, "All"):
            items = [i for i in items if i.get("status") == status]
        return Answer(200, page_of(items, "listings", query, path))

    def _lists(self, *, query: Mapping[str, tuple[str, ...]], path: str, **_: Any) -> Answer:
        """The user's lists as recorded for them, or none (the API has no writes to lists)."""
        return Answer(200, page_of(self._seed_items(f"/users/{self.user}/lists", "lists"), "lists", query, path))

    def _field_set(
        self, *, params: Mapping[str, str], query: Mapping[str, tuple[str, ...]], body: Any, **_: Any
    ) -> Answer:
        """The docs put ``value`` in the query; @lionralfs/discogs-client sends it in a JSON body: both are read."""
        item = self._instance(params)
        if item is None:
            return _error(404, "Instance not found.")
        sent = body.get("value") if isinstance(body, dict) else None
        value = (query.get("value") or (str(sent) if sent is not None else "",))[-1]
        field_id = _int(params["field_id"])
        notes = [n for n in item.get("notes") or [] if isinstance(n, dict) and n.get("field_id") != field_id]
        item["notes"] = [*notes, {"field_id": field_id, "value": value}]
        return Answer(204)

    def _listing_get(self, *, params: Mapping[str, str], **_: Any) -> Answer | None:
        listing_id = _int(params["listing_id"])
        if listing_id not in self._listings:
            return None
        listing = self._listings[listing_id]
        return _error(404, "Listing not found.") if listing is None else Answer(200, listing)

    def _listing_update(self, *, params: Mapping[str, str], body: dict[str, Any], **_: Any) -> Answer | None:
        listing_id = _int(params["listing_id"])
        if listing_id not in self._listings:
            return None
        listing = self._listings[listing_id]
        if listing is None:
            return _error(404, "Listing not found.")
        for name, value in body.items():
            listing[name] = {"currency": "USD", "value": float(value)} if name == "price" else value
        return Answer(204)

    def _listing_delete(self, *, params: Mapping[str, str], **_: Any) -> Answer | None:
        listing_id = _int(params["listing_id"])
        if listing_id not in self._listings:
            return None
        if self._listings[listing_id] is None:
            return _error(404, "Listing not found.")
        self._listings[listing_id] = None
        return Answer(204)

    def _order(self, order_id: str) -> dict[str, Any] | None:
        if order_id not in self._orders:
            recorded = self._recorded(f"/marketplace/orders/{order_id}")
            if not isinstance(recorded, dict):
                return None
            self._orders[order_id] = copy.deepcopy(recorded)
        return self._orders[order_id]

    def _order_get(self, *, params: Mapping[str, str], **_: Any) -> Answer | None:
        order = self._orders.get(params["order_id"])
        return Answer(200, order) if order is not None else None

    def _order_update(self, *, params: Mapping[str, str], body: dict[str, Any], **_: Any) -> Answer | None:
        order = self._order(params["order_id"])
        if order is None:
            return None
        status = body.get("status")
        if status is not None:
            allowed = order.get("next_status")
            if isinstance(allowed, list) and status not in allowed:
                return _error(422, f"Invalid status: {status!r} does not follow {order.get('status')!r}.")
            order["status"] = status
        if body.get("shipping") is not None:
            order["shipping"] = {**(order.get("shipping") or {}), "value": body["shipping"]}
        order["last_activity"] = _now()
        return Answer(200, order)

    def _messages(self, order_id: str) -> list[dict[str, Any]]:
        if order_id not in self._order_messages:
            self._order_messages[order_id] = self._seed_items(f"/marketplace/orders/{order_id}/messages", "messages")
        return self._order_messages[order_id]

    def _messages_list(
        self, *, params: Mapping[str, str], query: Mapping[str, tuple[str, ...]], path: str, **_: Any
    ) -> Answer | None:
        if params["order_id"] not in self._order_messages:
            return None
        return Answer(200, page_of(self._order_messages[params["order_id"]], "messages", query, path))

    def _message_add(self, *, params: Mapping[str, str], body: dict[str, Any], **_: Any) -> Answer | None:
        order_id = params["order_id"]
        if body.get("message") is None and body.get("status") is None:
            return _error(422, "Invalid request: give a message, a status, or both.")
        if self._order(order_id) is None:
            return None
        message = {
            "type": "message",
            "message": body.get("message") or "",
            "subject": f"Discogs Order #{order_id}",
            "timestamp": _now(),
            "from": {"username": self.user, "resource_url": f"{API}/users/{self.user}"},
            "order": {"id": order_id, "resource_url": f"{API}/marketplace/orders/{order_id}"},
        }
        self._messages(order_id).insert(0, message)
        if body.get("status") is not None:
            self._order_update(params=params, body={"status": body["status"]})
        return Answer(201, message)

    # -- profile -------------------------------------------------------------------------------
    def _profile_get(self, **_: Any) -> Answer | None:
        return Answer(200, self._data.profile) if self._data.profile is not None else None

    def _profile_update(self, *, body: dict[str, Any], **_: Any) -> Answer:
        if self._data.profile is None:
            recorded = self._recorded(f"/users/{self.user}")
            self._data.profile = (
                copy.deepcopy(recorded)
                if isinstance(recorded, dict)
                else {"id": 1, "username": self.user, "resource_url": f"{API}/users/{self.user}"}
            )
        self._data.profile.update({k: v for k, v in body.items() if v is not None})
        return Answer(200, self._data.profile)
