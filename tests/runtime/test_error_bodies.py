"""What an error says when its body is JSON without Discogs' ``message``: the ``detail`` it carries instead.

Some endpoints answer ``{"detail": ...}`` alone (a text, or validation items ``{"loc", "msg", "type"}``);
the error names that, instead of calling a JSON body "a non-JSON body". Both clients, a real local server.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from musicagent import APIError, Discogs

from .conftest import TOKEN, LocalServer, Seen

Client = Callable[..., Discogs]


def _answer(status: int, body: Any) -> Callable[[Seen], tuple[int, dict[str, str], bytes]]:
    return lambda seen: (status, {"Content-Type": "application/json"}, json.dumps(body).encode())


CASES = [
    (404, {"detail": "Not Found"}, "Not Found"),
    (
        422,
        {"detail": [{"loc": ["body", "price"], "msg": "Field required", "type": "missing"}]},
        "body.price: Field required",
    ),
    (
        422,
        {"detail": [{"loc": ["query", "page"], "msg": "bad page", "type": "x"}, {"msg": "also", "type": "y"}]},
        "query.page: bad page (and 1 more)",
    ),
    (409, {"detail": [{"msg": f"token={TOKEN} is wrong"}]}, "token=***"),
    (500, {"error": "boom"}, 'HTTP 500 with a JSON body: {"error": "boom"}'),
    (500, [1, 2], "HTTP 500 with a JSON body: [1, 2]"),
]


@pytest.mark.parametrize(("status", "body", "said"), CASES)
def test_an_error_body_without_message_is_described_by_what_it_holds(
    server: LocalServer, client: Client, status: int, body: Any, said: str
) -> None:
    server.routes["/artists/1"] = _answer(status, body)
    d = client(max_retries=0)
    with pytest.raises(APIError) as info:
        d.artists.get(1)
    error = info.value
    assert error.status_code == status
    assert said in str(error)
    assert "non-JSON" not in str(error)
    assert TOKEN not in str(error) and TOKEN not in json.dumps(error.body)
    assert isinstance(error.body, dict | list)
