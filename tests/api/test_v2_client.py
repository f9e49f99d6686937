"""The Open Inference Protocol against a real server process, with an official client of the
protocol (Triton's `tritonclient[http]`) and with the `curl` commands of docs/serving.md.

Each server is `python -m api` (gunicorn, one uvicorn worker) on 127.0.0.1, shared by the
tests of this module and stopped after them.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from api.state import read_card
from tests.support.processes import Server, run_api
from tests.support.shell import ROOT, require_tool

pytestmark = pytest.mark.slow

NUMPY = {"FP64": np.float64, "BYTES": np.object_, "BOOL": np.bool_}


def serve(model_dir: Path, factory: pytest.TempPathFactory) -> Iterator[Server]:
    with run_api(model_dir, factory.mktemp("api"), workers=1) as server:
        yield server


@pytest.fixture(scope="module")
def mixed_server(mixed_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from serve(mixed_dir, tmp_path_factory)


@pytest.fixture(scope="module")
def default_server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from serve(model_dir, tmp_path_factory)


def complete_rows(model_dir: Path) -> list[dict[str, Any]]:
    """Test-split rows without missing values (tritonclient can't send null), and an unknown
    category."""
    frame = pd.read_parquet(model_dir.parent / "data" / "processed" / "test.parquet")
    names = [f.name for f in read_card(model_dir).features]
    frame = frame[names].dropna()
    rows = [
        {"size": float(r.size), "color": str(r.color), "flag": bool(r.flag)}
        for r in frame.itertuples(index=False)
    ]
    rows[0]["color"] = "never-seen"
    return rows


def inputs_for(metadata: dict[str, Any], rows: list[dict[str, Any]]) -> list[Any]:
    """One InferInput per input the metadata lists, its column as a numpy array (JSON data)."""
    inputs = []
    for tensor in metadata["inputs"]:
        column = np.array([r[tensor["name"]] for r in rows], dtype=NUMPY[tensor["datatype"]])
        one = httpclient.InferInput(tensor["name"], [len(rows)], tensor["datatype"])
        one.set_data_from_numpy(column, binary_data=False)
        inputs.append(one)
    return inputs


def test_tritonclient_reads_health_metadata_and_answers(
    mixed_server: Server, mixed_dir: Path
) -> None:
    card = read_card(mixed_dir)
    client = httpclient.InferenceServerClient(mixed_server.address)
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("model") and client.is_model_ready("model", card.version)
    assert not client.is_model_ready("other") and not client.is_model_ready("model", "0")
    assert client.get_server_metadata()["extensions"] == []
    metadata = client.get_model_metadata("model")
    assert [(t["name"], t["datatype"]) for t in metadata["inputs"]] == [
        ("size", "FP64"),
        ("color", "BYTES"),
        ("flag", "BOOL"),
    ]
    rows = complete_rows(mixed_dir)
    result = client.infer("model", inputs_for(metadata, rows), request_id="r-1")
    assert result.get_response()["id"] == "r-1"
    predicted = httpx.post(f"{mixed_server.url}/predict", json={"records": rows}).json()
    expected = predicted["predictions"]
    assert result.as_numpy("label").tolist() == [p["prediction"] for p in expected]
    probabilities = result.as_numpy("probabilities")
    assert probabilities.shape == (len(rows), len(card.classes))
    wanted = [[p["probabilities"][c] for c in card.classes] for p in expected]
    np.testing.assert_allclose(probabilities, wanted, rtol=0, atol=1e-12)
    only = httpclient.InferRequestedOutput("probabilities", binary_data=False)
    versioned = client.infer(
        "model", inputs_for(metadata, rows[:3]), model_version=card.version, outputs=[only]
    )
    assert [o["name"] for o in versioned.get_response()["outputs"]] == ["probabilities"]
    assert versioned.as_numpy("label") is None


def test_a_prediction_id_from_tritonclient_is_accepted_by_feedback(
    mixed_server: Server, mixed_dir: Path
) -> None:
    """The `prediction_id` output, read by the official client, is what /feedback takes."""
    card = read_card(mixed_dir)
    client = httpclient.InferenceServerClient(mixed_server.address)
    metadata = client.get_model_metadata("model")
    assert {"name": "prediction_id", "datatype": "BYTES", "shape": [-1]} in metadata["outputs"]
    rows = complete_rows(mixed_dir)[:3]
    result = client.infer("model", inputs_for(metadata, rows))
    ids = [i.decode() if isinstance(i, bytes) else i for i in result.as_numpy("prediction_id")]
    labels = [str(label) for label in result.as_numpy("label").tolist()]
    assert len(set(ids)) == len(rows)
    wrong = next(c for c in card.classes if c != labels[0])
    items = [{"id": ids[0], "label": wrong}, {"id": ids[1], "label": labels[1]}]
    before = labelled(mixed_server, card.version)
    answer = httpx.post(f"{mixed_server.url}/feedback", json={"feedback": items})
    assert answer.status_code == 200 and answer.json() == {"accepted": 2, "refused": []}
    assert labelled(mixed_server, card.version) == (before[0] + 1, before[1] + 1)
    tail = "AAAA" if not ids[2].endswith("AAAA") else "BBBB"  # the last bytes of the tag
    forged = {"id": ids[2][:-4] + tail, "label": wrong}
    refused = httpx.post(f"{mixed_server.url}/feedback", json={"feedback": [forged]}).json()
    assert [r["reason"] for r in refused["refused"]] == ["bad_signature"]


def labelled(server: Server, version: str) -> tuple[float, float]:
    """model_feedback_labels_total of the served version: (correct, wrong)."""
    text = httpx.get(f"{server.url}/metrics").text
    counts = []
    for outcome in ("correct", "wrong"):
        found = re.search(
            rf'^model_feedback_labels_total\{{(?=[^}}]*outcome="{outcome}")'
            rf'(?=[^}}]*version="{re.escape(version)}")[^}}]*\}} (\S+)$',
            text,
            re.M,
        )
        counts.append(float(found.group(1)) if found else 0.0)
    return counts[0], counts[1]


def error_of(call: Any) -> InferenceServerException:
    with pytest.raises(InferenceServerException) as caught:
        call()
    return caught.value


def test_tritonclient_gets_the_4xx_and_its_reason(mixed_server: Server, mixed_dir: Path) -> None:
    client = httpclient.InferenceServerClient(mixed_server.address)
    metadata = client.get_model_metadata("model")
    rows = complete_rows(mixed_dir)[:2]
    inputs = inputs_for(metadata, rows)
    unknown = error_of(lambda: client.infer("other", inputs))
    assert unknown.status() == "404" and "unknown model 'other'" in unknown.message()
    assert error_of(lambda: client.get_model_metadata("model", "0")).status() == "404"
    wrong = httpclient.InferInput("size", [2], "BYTES")
    wrong.set_data_from_numpy(np.array(["1", "2"], dtype=np.object_), binary_data=False)
    bad = error_of(lambda: client.infer("model", [wrong, *inputs[1:]]))
    assert bad.status() == "400" and "input 'size': datatype 'BYTES'" in bad.message()
    binary = inputs_for(metadata, rows)
    binary[0].set_data_from_numpy(np.array([1.0, 2.0]))  # tritonclient's default: binary
    refused = error_of(lambda: client.infer("model", binary))
    assert refused.status() == "400" and "binary_data=False" in refused.message()
    nan = inputs_for(metadata, rows)
    nan[0].set_data_from_numpy(np.array([np.nan, 1.0]), binary_data=False)
    not_json = error_of(lambda: client.infer("model", nan))
    assert not_json.status() == "400" and "NaN" in not_json.message()
    for algorithm in ("gzip", "deflate"):  # tritonclient compresses on request: never inflated
        compressed = error_of(
            lambda: client.infer("model", inputs, request_compression_algorithm=algorithm)
        )
        assert compressed.status() == "415" and "uncompressed" in compressed.message()
    for name, version in (("..", None), ("model", ".."), ("m" * 5000, None)):
        named = error_of(lambda: client.infer(name, inputs, model_version=version or ""))
        assert named.status() == "404" and len(named.message()) < 200


def test_tritonclient_writes_none_as_a_string(mixed_server: Server, mixed_dir: Path) -> None:
    """What docs/serving.md warns about: None in a BYTES tensor arrives as "None" (an
    unknown category, counted), not as a missing value."""
    client = httpclient.InferenceServerClient(mixed_server.address)
    metadata = client.get_model_metadata("model")
    rows = complete_rows(mixed_dir)[1:2]
    inputs = inputs_for(metadata, rows)
    inputs[1].set_data_from_numpy(np.array([None], dtype=np.object_), binary_data=False)
    before = unknown_colors(mixed_server)
    client.infer("model", inputs)
    assert unknown_colors(mixed_server) == before + 1


def unknown_colors(server: Server) -> float:
    text = httpx.get(f"{server.url}/metrics").text
    found = re.search(r'^model_unknown_categories_total\{feature="color"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


DOCS = (ROOT / "docs" / "serving.md").read_text()
EXAMPLES = re.findall(
    r"```bash\n(curl [^\n]*http://127\.0\.0\.1:8000/v2[^\n]*)\n```\n(?:\n```json\n([^\n]*)\n```)?",
    DOCS,
)


def test_every_v2_curl_of_the_docs_works_as_written(default_server: Server) -> None:
    curl = require_tool("curl")
    assert len(EXAMPLES) >= 4
    for command, shown in EXAMPLES:
        argv = shlex.split(command.replace("http://127.0.0.1:8000", default_server.url))
        argv += ["--fail-with-body", "--max-time", "10"]
        done = subprocess.run([curl, *argv[1:]], capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{command[:120]}…: {done.stdout[:300]} {done.stderr}"
        answer = json.loads(done.stdout)
        if shown:
            assert same_but_fresh_ids(answer, json.loads(shown)), command[:120]
        else:
            assert answer["inputs"] and answer["outputs"]


def same_but_fresh_ids(answer: Any, shown: Any) -> bool:
    """`answer` is what the docs show, except that prediction ids are fresh (the docs show
    them abbreviated): each real one a string of an id's length, the rest equal."""

    def blanked(body: Any, real: bool) -> Any:
        if not isinstance(body, dict) or "outputs" not in body:
            return body
        outputs = []
        for tensor in body["outputs"]:
            if tensor["name"] == "prediction_id":
                if real:
                    assert all(isinstance(i, str) and len(i) > 40 for i in tensor["data"])
                tensor = {**tensor, "data": ["…"] * len(tensor["data"])}
            outputs.append(tensor)
        return {**body, "outputs": outputs}

    return bool(blanked(answer, True) == blanked(shown, False))
