"""Prediction ids: what a replica with the key can read back, and what an attacker can't do."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.feedback.ids import IdError, Signer

KEY, OTHER = b"k" * 32, b"o" * 32


def test_a_classification_id_says_what_was_served() -> None:
    signer = Signer([KEY], "a7976a471756", ["benign", "malignant"])
    ids = signer.issue(np.array([0, 1, 1]), None, now_ms=1_700_000_000_123)
    assert len(set(ids)) == 3 and len({len(i) for i in ids}) == 1
    read = [signer.read(i) for i in ids]
    assert [r.label for r in read] == ["benign", "malignant", "malignant"]
    assert {r.version for r in read} == {"a7976a471756"}
    assert read[0].served_ms == 1_700_000_000_123 and read[0].value is None


def test_a_regression_id_carries_the_exact_value() -> None:
    signer = Signer([KEY], "v1", [])
    values = np.array([0.1, -3.5e9, 151.0000001])
    read = [signer.read(i) for i in signer.issue(None, values)]
    assert [r.value for r in read] == values.tolist()
    assert {r.label for r in read} == {None}


def test_another_replica_with_the_same_key_reads_it_and_with_another_key_refuses() -> None:
    token = Signer([KEY], "v1", ["a", "b"]).issue(np.array([1]), None)[0]
    assert Signer([KEY], "v2", ["a", "b"]).read(token).label == "b"  # any model version
    with pytest.raises(IdError) as refused:
        Signer([OTHER], "v1", ["a", "b"]).read(token)
    assert refused.value.reason == "bad_signature"


def test_a_rotated_key_still_verifies_old_ids_and_signs_with_the_new_one() -> None:
    old = Signer([OTHER], "v1", ["a", "b"]).issue(np.array([0]), None)[0]
    rotated = Signer([KEY, OTHER], "v1", ["a", "b"])
    assert rotated.read(old).label == "a"
    new = rotated.issue(np.array([0]), None)[0]
    with pytest.raises(IdError):
        Signer([OTHER], "v1", ["a", "b"]).read(new)


def test_changing_the_served_class_inside_a_signed_id_is_detected() -> None:
    """The attack: take a real id, rewrite the class it carries (so 'correct' labels of the
    attacker's choice count), keep the tag."""
    signer = Signer([KEY], "v1", ["benign", "malignant"])
    token = signer.issue(np.array([0]), None)[0]
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[17:23] = b"malign"  # same width, other text
    forged = base64.urlsafe_b64encode(bytes(raw)).decode()
    with pytest.raises(IdError) as refused:
        signer.read(forged)
    assert refused.value.reason == "bad_signature"


@pytest.mark.parametrize(
    "token", ["", "abc", "!!!!" * 20, "A" * 4000, 12, None, "AAAA" * 18, {"id": 1}]
)
def test_garbage_is_malformed_never_an_exception(token: object) -> None:
    with pytest.raises(IdError) as refused:
        Signer([KEY], "v1", ["a"]).read(token)
    assert refused.value.reason in ("malformed_id", "bad_signature")


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=0, max_size=120))
def test_random_bytes_are_never_accepted(blob: bytes) -> None:
    token = base64.urlsafe_b64encode(blob).decode()
    with pytest.raises(IdError):
        Signer([KEY], "v1", ["a", "b"]).read(token)


def test_long_class_names_and_versions_round_trip() -> None:
    classes = ["x", "ü" * 100, "a|b`c"]
    signer = Signer([KEY], "version-" + "9" * 200, classes)
    assert [signer.read(i).label for i in signer.issue(np.array([1, 2, 0]), None)] == [
        classes[1],
        classes[2],
        classes[0],
    ]
