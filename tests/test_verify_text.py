"""Verifier.verify of a credential given as JSON text (a batch's line, a file, a request's
body): a text of a shape met before is read by that shape's text, without parsing the JSON;
the verdict and every problem are those of the parsed JSON, for any values, any tampering, any
spacing or order of members; a hostile text is read in time linear in its length."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_verify_fast import PAYLOAD as README_PAYLOAD
from test_verify_fast import TEXT as README_TEXT

import vccore
from vccore import _json

KEY = vccore.Ed25519Key.generate()
NOW = datetime(2024, 6, 1, tzinfo=UTC)
PAYLOAD = {k: v for k, v in README_PAYLOAD.items() if k != "certificateId"}  # each credential gets its own
TEXT = st.one_of(README_TEXT, st.text(st.sampled_from(["\x7f", "/", "#", '"', "0"]), min_size=1))


class World:
    """An issuer with a store, its status lists exported, and a verifier of them that has met
    (and learned the text of) its credentials."""

    def __init__(self, folder: Path) -> None:
        self.store = vccore.open_store(str(folder / "s.db"), status_url="https://issuer.example/status/")
        self.issuer = vccore.Issuer(signer=KEY, store=self.store)
        self.count = 0
        self.texts = [self.text() for _ in range(3)]
        self.issuer.export_status(folder / "status", now=NOW)
        self.verifier = vccore.Verifier.create(status=str(folder / "status"))
        for text in self.texts:
            assert self.verifier.verify(text, now=NOW).verified

    def text(self, **values: str) -> str:
        self.count += 1
        payload = {**PAYLOAD, "certificateId": str(700000000000 + self.count), **values}
        return self.issuer.certify("HealthProfessional", payload).credential_json()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    made = World(tmp_path_factory.mktemp("text"))
    yield made
    made.store.close()


def result(verifier: vccore.Verifier, credential: Any) -> dict[str, Any]:
    return verifier.verify(credential, now=NOW).to_dict()


def test_a_credential_text_of_a_shape_met_is_read_without_parsing_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: every text was parsed (12-16 us of a 220 us verification), then walked and its
    shape found again."""
    texts = world.texts[1:]  # met, and issued by the same shape

    def not_parsed(text: Any) -> Any:
        raise AssertionError("parsed")

    monkeypatch.setattr(_json, "loads", not_parsed)
    for text in texts:
        assert world.verifier.verify(text, now=NOW).verified
        assert world.verifier.verify(text.encode() + b"\n", now=NOW).verified  # a batch's line
        assert world.verifier.verify(f" \r\n{text}\t", now=NOW).verified


def test_what_the_text_reads_is_the_parsed_json(world: World) -> None:
    for text in world.texts:
        known = world.verifier._shapes.read_text(text)
        assert known is not None and known[0] == json.loads(text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=TEXT, university=TEXT)
def test_any_values_verify_alike_from_the_text_and_from_the_json(world: World, name: str, university: str) -> None:
    """Values JSON writes with escapes, or that the reference path judges, are read the long way."""
    try:
        text = world.text(name=name, university=university)
    except vccore.VccoreError:
        return  # a payload the schema refuses
    assert result(world.verifier, text) == result(world.verifier, _json.loads(text))
    assert world.verifier.verify(text, now=NOW).verified


def _tampered(text: str, how: str, where: int, what: str) -> str:
    if how == "replace":
        return text[:where] + what + text[where + 1 :]
    if how == "insert":
        return text[:where] + what + text[where:]
    if how == "spaces":
        return text.replace(",", ", ", 1 + where % 5)
    if how == "order":
        return json.dumps(dict(reversed(json.loads(text).items())), ensure_ascii=False, separators=(",", ":"))
    if how == "duplicate":
        return text[:-1] + ',"name":"x"}'
    return text.replace('"proof":{', '"proof":{"created":"2020-01-01T00:00:00Z",', 1)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    how=st.sampled_from(["replace", "insert", "spaces", "order", "duplicate", "proof"]),
    where=st.integers(0, 10_000),
    what=st.one_of(st.sampled_from(['"', "\\", "1", "a", "}", ",", "/", "#", "\\u0041", " "]), TEXT),
)
def test_a_tampered_text_gets_the_verdict_of_its_json(world: World, how: str, where: int, what: str) -> None:
    original = world.texts[1]
    text = _tampered(original, how, where % len(original), what)
    try:
        parsed = _json.loads(text)
    except ValueError:
        got = world.verifier.verify(text, now=NOW)
        assert not got.verified and got.problems[0].code == vccore.ProblemCode.PARSING_ERROR
        return
    assert result(world.verifier, text) == result(world.verifier, parsed)
    assert result(world.verifier, text.encode()) == result(world.verifier, parsed)


def test_a_text_read_another_way_verifies_the_same(world: World) -> None:
    """Other spacing, order or escapes: not the shape's text, so parsed; the verdict stands."""
    original = json.loads(world.texts[2])
    for text in (
        json.dumps(original),  # spaces, \\u escapes
        json.dumps(original, sort_keys=True, separators=(",", ":")),
        json.dumps(original, indent=2, ensure_ascii=False),
    ):
        assert world.verifier.verify(text, now=NOW).verified


def test_a_hostile_text_is_read_in_linear_time(world: World) -> None:
    """A status entry's id with its list set and index made of what the pattern splits on: the
    slots inside a string take digits only, so no text splits two ways (backtracking)."""
    original = world.texts[1]
    entry = original.index("/revocation#")
    start = original.rindex("/", 0, entry)  # .../<list>/revocation#<index>
    end = original.index('"', entry)
    for filler in ("/revocation#1" * 4000, "1" * 50_000, "/" * 50_000):
        text = original[:start] + "/0" + filler + original[end:]
        began = time.monotonic()
        got = world.verifier.verify(text, now=NOW)
        assert not got.verified
        assert time.monotonic() - began < 5  # seconds: quadratic splitting took minutes


def test_a_text_asked_about_then_verified_is_matched_once(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server asks knows_text of a body, then verifies that body: one match, not two."""
    shapes = world.verifier._shapes
    looked: list[int] = []
    real = type(shapes)._match_anew

    def counted(self: Any, text: Any) -> Any:
        looked.append(1)
        return real(self, text)

    monkeypatch.setattr(type(shapes), "_match_anew", counted)
    body = world.texts[1].encode()
    assert world.verifier.knows_text(body) and world.verifier.verify(body, now=NOW).verified
    assert len(looked) == 1
    other = world.texts[2].encode()  # another text is matched anew
    assert world.verifier.verify(other, now=NOW).verified and len(looked) == 2
