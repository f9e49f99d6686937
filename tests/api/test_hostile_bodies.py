"""Bodies an attacker or a confused client sends, in process, on every route that reads one:
compressed bodies (a gzip bomb must never be inflated), and what the 400 of a body that
is not JSON says. (Types, NaN, sizes and shapes: test_bad_input.py, test_v2*.py.)"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tests.support.api import JSON, TestClient, post_text, record, v2_tensors

INFER = "/v2/models/model/infer"


def bodies(model_dir: Path) -> dict[str, bytes]:
    """A valid body for each route that reads one."""
    row = record(model_dir)
    return {
        "/predict": json.dumps({"records": [row]}).encode(),
        INFER: json.dumps({"inputs": v2_tensors(model_dir, [row])}).encode(),
        "/feedback": json.dumps({"feedback": [{"id": "x", "label": "benign"}]}).encode(),
    }


@pytest.mark.parametrize("path", ["/predict", INFER, "/feedback"])
def test_a_compressed_body_is_415_and_a_bomb_is_never_inflated(
    client: TestClient, model_dir: Path, path: str
) -> None:
    """Before: 400 "malformed JSON: expected value at line 1 column 1", as if the client had
    sent garbage; the server never decodes Content-Encoding, so a bomb stays small."""
    bomb = gzip.compress(b"[" * 50_000_000)  # 50 MB inflated, about 50 kB sent
    assert len(bomb) < 100_000
    for content in (gzip.compress(bodies(model_dir)[path]), bomb):
        for coding in ("gzip", "GZIP", "br", "deflate, gzip"):
            headers = {**JSON, "Content-Encoding": coding}
            answer = client.post(path, content=content, headers=headers)
            assert answer.status_code == 415, answer.text
            message = answer.json()["error" if path == INFER else "detail"]
            assert "is not supported: send the JSON uncompressed" in message
    # Uncompressed, with the header saying so: as without it.
    plain = {**JSON, "Content-Encoding": "identity"}
    answer = client.post(path, content=bodies(model_dir)[path], headers=plain)
    assert answer.status_code == 200


def test_the_400_of_malformed_json_says_where_not_at_position_body(client: TestClient) -> None:
    """Before: "malformed JSON: EOF while parsing a value at line 1 column 0 at position
    body" (pydantic's error has no position; the handler added the field's name)."""
    for text in ["", "{", '{"records": [}', "x" * 1000]:
        answer = post_text(client, text)
        assert answer.status_code == 400
        detail = answer.json()["detail"]
        assert detail.startswith("malformed JSON: ") and "position body" not in detail
        assert "line 1 column" in detail


def _texts(model_dir: Path) -> dict[str, bytes]:
    """Bodies that are not JSON, or JSON no parser should choke on, for every route."""
    deep = b"[" * 10_000 + b"]" * 10_000
    return {
        "deep list": deep,
        "deep in a value": b'{"records": [{"a": ' + deep + b"}]}",
        "deep object": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        "a string": b'"records"',
        "a list": b"[1, 2]",
        "null": b"null",
        "lone surrogate": b'{"records": [{"\\ud800": "\\udc00"}]}',
        "invalid UTF-8": b'{"records": [{"a": "\xff\xfe"}]}',
        "NUL bytes": b'{"records": [{"a\\u0000b": "\\u0000"}]}',
        "UTF-8 BOM": b"\xef\xbb\xbf" + bodies(model_dir)["/predict"],
        "UTF-16": bodies(model_dir)["/predict"].decode().encode("utf-16"),
        "a huge integer": b'{"records": [{"a": ' + b"9" * 5000 + b"}]}",
    }


@pytest.mark.parametrize("path", ["/predict", INFER, "/feedback"])
def test_bodies_no_parser_should_choke_on_are_a_4xx_naming_the_problem(
    client: TestClient, model_dir: Path, path: str
) -> None:
    for name, text in _texts(model_dir).items():
        answer = client.post(path, content=text, headers=JSON)
        assert answer.status_code in (400, 422), (name, answer.status_code, answer.text[:200])
        message = answer.json()["error" if path == INFER else "detail"]
        assert message, name
        assert len(answer.text) < 10_000, name  # nothing of a 10,000-level body comes back


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/predict", "POST"),
        ("/feedback", "POST"),
        (INFER, "POST"),
        ("/health", "GET, HEAD"),
        ("/ready", "GET, HEAD"),
        ("/model", "GET"),
        ("/metrics", "GET"),
        ("/v2/models/model", "GET"),
    ],
)
def test_other_methods_are_405_naming_the_allowed_one(
    client: TestClient, path: str, allowed: str
) -> None:
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"):
        if method in allowed.split(", "):
            continue
        answer = client.request(method, path)
        assert answer.status_code == 405, (method, answer.status_code)
        assert allowed.split(", ")[0] in answer.headers["allow"]
        if method != "HEAD":  # a HEAD answer has no body
            assert "Method Not Allowed" in answer.text


@pytest.mark.parametrize("path", ["/health", "/ready"])
def test_the_probes_answer_head_as_get_without_a_body(client: TestClient, path: str) -> None:
    """Before: 405 (uptime checkers probe with HEAD by default and read it as "down")."""
    get, head = client.get(path), client.head(path)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert path in client.app.openapi()["paths"]  # type: ignore[attr-defined]
    assert set(client.app.openapi()["paths"][path]) == {"get"}  # type: ignore[attr-defined]
