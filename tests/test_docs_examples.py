"""Every example answer of the Discogs API documentation parses, with no key left undeclared.

tests/data/docsbodies holds the 2xx JSON example of every documented operation (its README says
where they come from and what was changed to make them JSON). The 2014 examples leave out fields
every live answer has, so, as for the documentation examples of tests/test_spec.py, ``required`` is
not checked; everything else is: each example validates against its operation's response schema,
has no key the spec does not declare (at any depth), and parses with the SDK's models along the
path answers take (``decode_model``) with an empty ``model_extra`` everywhere.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from musicagent import models
from musicagent._runtime.client import decode_model
from musicagent._runtime.core import RawResponse
from musicagent._runtime.errors import ResponseValidationError
from tests.test_spec import (
    SPEC_URI,
    Validator,
    _closed_registry,
    _operation,
    _undeclared_keys,
    errors_of,
    success,
)

DOCS_BODIES = Path(__file__).resolve().parent / "data" / "docsbodies"

# Examples that lack a field every live answer has and the models require, each with that field.
LACKING_A_REQUIRED_FIELD = {"artist.get.200.json": "name"}


def _rows() -> list[dict[str, str]]:
    with (DOCS_BODIES / "MANIFEST.tsv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


ROWS = _rows()


def _schema_ref(row: dict[str, str]) -> str:
    op = _operation(row["method"], row["path_template"])
    assert op is not None, f"{row['file']}: {row['method']} {row['path_template']} is not an operation of the spec"
    found = success(op)
    assert found is not None and found[0] == row["status"], f"{row['file']}: the spec's success status differs"
    return str(found[1]["content"]["application/json"]["schema"]["$ref"])


@pytest.mark.parametrize("row", ROWS, ids=[r["file"] for r in ROWS])
def test_every_documentation_example_parses_with_every_key_declared(row: dict[str, str]) -> None:
    ref = _schema_ref(row)
    content = (DOCS_BODIES / row["file"]).read_bytes()
    body: Any = json.loads(content)
    problems = errors_of(ref, body, ignore=("required",))
    assert not problems, f"{row['file']} ({row['docs_line']}) is not a valid {ref}:\n" + "\n".join(problems)
    closed = Validator({"$ref": SPEC_URI + ref}, registry=_closed_registry())
    undeclared = [
        f"/{'/'.join(map(str, e.absolute_path))}"
        for e in closed.iter_errors(body)
        if e.validator == "additionalProperties"
    ]
    assert not undeclared, f"{row['file']} has keys {ref} does not declare: {undeclared}"

    model = getattr(models, ref.rsplit("/", 1)[1])
    raw = RawResponse(row["method"], "https://api.discogs.com/x", int(row["status"]), {}, 0.0, 1, "", content)
    try:
        parsed = decode_model(model, raw, row["file"])
    except ResponseValidationError as exc:
        missing = LACKING_A_REQUIRED_FIELD.get(row["file"])
        assert missing is not None and f"field {missing!r}: Field required" in str(exc), str(exc)
        return
    assert row["file"] not in LACKING_A_REQUIRED_FIELD, "it parses now: drop it from LACKING_A_REQUIRED_FIELD"
    assert list(_undeclared_keys(parsed)) == []


def test_the_examples_cover_every_documented_answer() -> None:
    """47 operations have a JSON example in the documentation; every file is listed, and listed once."""
    on_disk = sorted(p.name for p in DOCS_BODIES.glob("*.json"))
    assert sorted(r["file"] for r in ROWS) == on_disk
    assert len({(r["method"], r["path_template"]) for r in ROWS}) == len(ROWS) == 47
    assert set(LACKING_A_REQUIRED_FIELD) <= set(on_disk)
