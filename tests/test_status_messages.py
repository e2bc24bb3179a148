"""Multi-bit status entries (Bitstring Status List section 2.1, statusSize and statusMessage):
vccore's two-bit state list, written, read by vccore's verifier and by Digital Bazaar's
vc-bitstring-status-list, and issued through the VC API (issue #24, point 2)."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsinterop import JS_DIR, available, requires_js

from vccore import Ed25519Key, Verifier, canonicalize, sign
from vccore.issuer import issuer_of
from vccore.status import (
    MIN_LIST_LENGTH,
    STATE_MESSAGES,
    STATE_REFERENCE,
    STATUS_CONTEXT,
    Bitstring,
    add_lifecycle,
    list_set_credentials,
    state_entry,
    state_lists,
    status_list_credential,
)

KEY = Ed25519Key.from_seed(bytes(range(32)))
ISSUER = issuer_of(KEY)
BASE = "https://issuer.example/status/"
STATE = f"{BASE}0/state"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
LATER = T0 + timedelta(hours=1)
SIGNING: dict[str, Any] = {
    "issuer": ISSUER,
    "signer": KEY,
    "suite": "eddsa-rdfc-2022",
    "contexts": None,
    "now": T0,
    "valid_for": timedelta(days=7),
}
# index -> (the store's state, suspended until): one of each state vccore records
ROWS = [
    (7, "VALID", None),
    (8, "REVOKED", None),
    (9, "SUSPENDED", "2024-01-03T00:00:00Z"),
    (10, "SUPERSEDED", None),
    (11, "SUSPENDED", None),
]
EXPECTED = {7: 0, 8: 2, 9: 1, 10: 3, 11: 1}


def one_bit_lists(rows: Sequence[tuple[int, str, str | None]] = ROWS) -> dict[str, dict[str, Any]]:
    return list_set_credentials(rows, 0, base_url=BASE, list_size=MIN_LIST_LENGTH, **SIGNING)


def all_lists(rows: Sequence[tuple[int, str, str | None]] = ROWS) -> dict[str, dict[str, Any]]:
    lists = one_bit_lists(rows)
    return {**lists, **state_lists(lists, **SIGNING)}


def unsigned(index: int, lists: tuple[str, ...]) -> dict[str, Any]:
    """A VC 2.0 credential with entries at ``index`` of list set 0 in ``lists``, not signed."""
    document: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": ISSUER,
        "validFrom": "2024-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:subject"},
    }
    add_lifecycle(document, "2.0", BASE, 0, index, None, lists)
    return document


def credential(index: int, lists: tuple[str, ...] = ("state",), **entry: Any) -> dict[str, Any]:
    """A VC 2.0 credential with entries at ``index`` of list set 0, the state entry changed by
    ``entry`` (None: left out), signed by the lists' issuer."""
    document = unsigned(index, lists)
    for status in document["credentialStatus"]:
        if status["statusListCredential"] == STATE:
            status.update(entry)
            for name in [k for k, v in entry.items() if v is None]:
                del status[name]
    return sign(document, KEY, created=T0)


def verdict(signed: dict[str, Any], lists: dict[str, Any], now: datetime = LATER) -> tuple[str, list[str]]:
    result = Verifier.create(status=lists).verify(signed, now=now)
    return str(result.status), [str(p.code) for p in (*result.problems, *result.warnings)]


# --- the entry and the list --------------------------------------------------------------------


def test_the_state_entry_is_the_specs_multi_bit_entry() -> None:
    """statusPurpose message, statusSize 2, one message for each of the 2**2 values, and a
    statusReference; every term defined, under VC 2.0 and under VC 1.1 with the status context."""
    entry = state_entry(STATE, 42)
    assert entry == {
        "id": f"{STATE}#42",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "message",
        "statusListIndex": "42",
        "statusListCredential": STATE,
        "statusSize": 2,
        "statusMessage": [
            {"status": "0x0", "message": "valid"},
            {"status": "0x1", "message": "suspended"},
            {"status": "0x2", "message": "revoked"},
            {"status": "0x3", "message": "superseded"},
        ],
        "statusReference": STATE_REFERENCE,
    }
    assert len(entry["statusMessage"]) == 2 ** entry["statusSize"]
    assert [(m["status"], m["message"]) for m in entry["statusMessage"]] == list(STATE_MESSAGES)
    v2 = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": "VerifiableCredential",
        "credentialStatus": entry,
    }
    nquads = canonicalize(v2, safe=True)
    assert '<https://www.w3.org/ns/credentials/status#statusSize> "2"^^' in nquads
    assert f"<https://www.w3.org/ns/credentials/status#statusReference> <{STATE_REFERENCE}>" in nquads
    assert nquads.count("<https://www.w3.org/ns/credentials/status#statusMessage>") == 4
    v11 = {
        "@context": ["https://www.w3.org/2018/credentials/v1", STATUS_CONTEXT],
        "type": "VerifiableCredential",
        "credentialStatus": entry,
    }
    assert canonicalize(v11, safe=True).count("<https://www.w3.org/ns/credentials/status#message>") == 4


def test_the_one_bit_entries_stay_the_default() -> None:
    """Credentials already issued, and those issued without asking, keep the three one-bit entries."""
    document: dict[str, Any] = {"@context": ["https://www.w3.org/ns/credentials/v2"]}
    add_lifecycle(document, "2.0", BASE, 0, 5, None)
    assert [
        (e["statusPurpose"], e["statusListCredential"], e.get("statusSize")) for e in document["credentialStatus"]
    ] == [
        ("revocation", f"{BASE}0/revocation", None),
        ("suspension", f"{BASE}0/suspension", None),
        ("message", f"{BASE}0/message", 1),
    ]
    assert set(one_bit_lists()) == {f"{BASE}0/revocation", f"{BASE}0/suspension", f"{BASE}0/message"}


def test_the_state_list_is_read_off_the_one_bit_lists() -> None:
    """Two bits an entry, at 2*index: 0x0 valid, 0x1 suspended, 0x2 revoked, 0x3 superseded; a
    message list of 2 x 131,072 bits (131,072 entries, the spec's minimum), with the suspension
    list's end dates; the three one-bit lists unchanged."""
    lists = one_bit_lists()
    before = copy.deepcopy(lists)
    made = state_lists(lists, **SIGNING)
    assert lists == before and list(made) == [STATE]
    state = made[STATE]
    subject = state["credentialSubject"]
    assert (state["id"], subject["statusPurpose"], subject["type"]) == (STATE, "message", "BitstringStatusList")
    assert subject["suspensions"] == [
        {"type": "Suspension", "statusListIndex": "9", "suspendedUntil": "2024-01-03T00:00:00Z"}
    ]
    bits = Bitstring.decode(subject["encodedList"])
    assert bits.length == 2 * MIN_LIST_LENGTH
    assert {i: bits.get(i, 2) for i in EXPECTED} == EXPECTED
    assert bits.set_indices(2) == sorted(i for i, v in EXPECTED.items() if v)
    # the high bit of each entry is the revocation list's bit
    revoked = Bitstring.decode(lists[f"{BASE}0/revocation"]["credentialSubject"]["encodedList"])
    assert all(bits.get(2 * i) == revoked.get(i) for i in EXPECTED)
    assert state_lists({**lists, **made}, **SIGNING) == {}  # a set that has one is passed over


@settings(max_examples=25, deadline=None)
@given(
    st.dictionaries(
        st.integers(0, MIN_LIST_LENGTH - 1),
        st.sampled_from(["VALID", "REVOKED", "SUSPENDED", "SUPERSEDED"]),
        max_size=12,
    )
)
def test_each_state_reads_back_from_its_entry(states: dict[int, str]) -> None:
    """Whatever the states, each entry of the state list holds its own (differential, against the
    store's states)."""
    rows = [(i, s, None) for i, s in states.items()]
    lists = one_bit_lists(rows)
    bits = Bitstring.decode(state_lists(lists, **SIGNING)[STATE]["credentialSubject"]["encodedList"])
    code = {"VALID": 0, "SUSPENDED": 1, "REVOKED": 2, "SUPERSEDED": 3}
    assert {i: bits.get(i, 2) for i in states} == {i: code[s] for i, s in states.items()}
    assert set(bits.set_indices(2)) == {i for i, s in states.items() if s != "VALID"}


# --- vccore's verifier -------------------------------------------------------------------------


def test_the_verifier_reads_each_state_from_the_signed_state_list() -> None:
    lists = all_lists()
    found = {index: verdict(credential(index), lists) for index in EXPECTED}
    assert found == {
        7: ("VALID", []),
        8: ("REVOKED", ["REVOKED"]),
        9: ("SUSPENDED", ["SUSPENDED"]),
        10: ("SUPERSEDED", ["SUPERSEDED"]),
        11: ("SUSPENDED", ["SUSPENDED"]),
    }
    # a suspension with an end lapses at the verifier's clock, from the state list alone
    assert verdict(credential(9), lists, now=T0 + timedelta(days=3)) == ("VALID", [])
    assert verdict(credential(11), lists, now=T0 + timedelta(days=3))[0] == "SUSPENDED"
    # beside the one-bit entries, one verdict
    both = credential(10, ("revocation", "suspension", "message", "state"))
    assert verdict(both, lists) == ("SUPERSEDED", ["SUPERSEDED"])


def test_the_verdict_comes_from_the_signed_list_only() -> None:
    """A state list whose bits were changed after signing (a revoked entry made 0x0) is refused,
    not read."""
    lists = all_lists()
    forged = copy.deepcopy(lists[STATE])
    forged["credentialSubject"]["encodedList"] = Bitstring.zeros(2 * MIN_LIST_LENGTH).encode()
    assert verdict(credential(8), {**lists, STATE: forged}) == ("INVALID", ["STATUS_VERIFICATION_ERROR"])


@pytest.mark.parametrize(
    ("change", "code"),
    [
        # the number of messages is the number of values: 2**2, not 2 (nor statusSize)
        (
            {"statusMessage": [{"status": "0x0", "message": "valid"}, {"status": "0x1", "message": "x"}]},
            "MALFORMED_VALUE_ERROR",
        ),
        ({"statusMessage": None}, "MALFORMED_VALUE_ERROR"),  # statusSize 2 needs statusMessage
        # four messages, but not one for each value
        (
            {"statusMessage": [{"status": s, "message": s} for s in ("0x0", "0x1", "0x2", "0x4")]},
            "MALFORMED_VALUE_ERROR",
        ),
        ({"statusMessage": [{"status": s, "message": s} for s in ("0", "1", "2", "3")]}, "MALFORMED_VALUE_ERROR"),
        ({"statusSize": 0}, "MALFORMED_VALUE_ERROR"),
        # three bits an entry: 2 x 131,072 bits hold fewer than the minimum of 131,072 entries
        (
            {"statusSize": 3, "statusMessage": [{"status": hex(v), "message": str(v)} for v in range(8)]},
            "STATUS_LIST_LENGTH_ERROR",
        ),
    ],
)
def test_malformed_multi_bit_entries_are_refused(change: dict[str, Any], code: str) -> None:
    assert verdict(credential(8, **change), all_lists()) == ("INVALID", [code])


def test_a_one_bit_entry_with_messages_needs_two_of_them() -> None:
    """statusMessage, when present, has 2**statusSize elements even for statusSize 1."""
    document = unsigned(7, ("message",))
    document["credentialStatus"][0]["statusMessage"] = [{"status": "0x0", "message": "not superseded"}]
    assert verdict(sign(document, KEY, created=T0), all_lists()) == ("INVALID", ["MALFORMED_VALUE_ERROR"])


def test_the_index_is_bounded_by_index_times_size() -> None:
    """Entry 131,071 of a two-bit list is its last two bits; entry 131,072 is past its end, though
    bit 131,072 is inside the list."""
    lists = all_lists([(MIN_LIST_LENGTH - 1, "REVOKED", None)])
    assert verdict(credential(MIN_LIST_LENGTH - 1), lists) == ("REVOKED", ["REVOKED"])
    assert verdict(credential(MIN_LIST_LENGTH), lists) == ("INVALID", ["RANGE_ERROR"])


# The credentials/v2 context has no term for a status list's own statusSize (the spec asks a
# message list to state it); a list whose context defines the spec's IRI can say it.
_SIZE_TERM = {
    "statusSize": {
        "@id": "https://www.w3.org/ns/credentials/status#statusSize",
        "@type": "http://www.w3.org/2001/XMLSchema#integer",
    }
}


def _list_saying_size(size: int, values: dict[int, int]) -> dict[str, Any]:
    unsigned = status_list_credential(
        STATE,
        issuer=ISSUER,
        purpose="message",
        bits=Bitstring.zeros(2 * MIN_LIST_LENGTH).with_values(values, 2),
        valid_from="2024-01-01T00:00:00Z",
    )
    unsigned["@context"] = [*unsigned["@context"], _SIZE_TERM]
    unsigned["credentialSubject"]["statusSize"] = size
    return sign(unsigned, KEY, created=T0)


def test_the_lists_own_status_size_must_be_the_entrys() -> None:
    lists = all_lists()
    assert verdict(credential(8), {**lists, STATE: _list_saying_size(2, {8: 2})}) == ("REVOKED", ["REVOKED"])
    assert verdict(credential(8), {**lists, STATE: _list_saying_size(1, {8: 2})}) == (
        "INVALID",
        ["STATUS_VERIFICATION_ERROR"],
    )
    # a one-bit entry on a list that says two bits: refused (a list that says nothing cannot tell)
    one_bit = credential(8, statusSize=None, statusMessage=None)
    assert verdict(one_bit, {**lists, STATE: _list_saying_size(2, {8: 2})}) == (
        "INVALID",
        ["STATUS_VERIFICATION_ERROR"],
    )


def test_another_issuers_multi_bit_messages_are_reported_not_judged() -> None:
    """A message entry whose messages are not vccore's states: the message of the value read, as
    a warning (section 3.2 returns it); the credential stays VALID."""
    messages = [{"status": f"0x{v:x}", "message": m} for v, m in enumerate(["pending", "accepted", "rejected", "x"])]
    answer = Verifier.create(status=all_lists()).verify(credential(8, statusMessage=messages), now=LATER)
    assert answer.status == "VALID" and [(w.code, w.detail) for w in answer.warnings] == [
        ("STATUS_MESSAGE", "status message 0x2: rejected")
    ]


# --- Digital Bazaar's vc-bitstring-status-list ------------------------------------------------------

_MISSING = available()


@requires_js()
def test_digital_bazaars_library_reads_the_state_list() -> None:
    """The state list vccore writes, decoded by @digitalbazaar/vc-bitstring-status-list 2.0.1
    (``decodeList``, ``getStatus``) in a node subprocess: read two bits at 2*index, each entry holds
    the state vccore reads. Its own ``checkStatus`` ignores statusSize and reads bit ``index``
    (its known fault), which is the high or low bit of entry ``index // 2``: shown, not relied on."""
    if _MISSING is not None:
        pytest.fail(f"VCCORE_REQUIRE_INTEROP is set but the JS stack is unavailable: {_MISSING}")
    lists = all_lists()
    encoded = lists[STATE]["credentialSubject"]["encodedList"]
    bits = Bitstring.decode(encoded)
    indexes = [*EXPECTED, 4, 5]  # 4 and 5: entries 2 and 2.5 to a reader of single bits, both 0 here
    node = shutil.which("node")
    assert node is not None
    request = {"lists": [{"encodedList": encoded, "reads": [[i, 2] for i in indexes]}]}
    ran = subprocess.run(
        [node, str(JS_DIR / "status.mjs")],
        cwd=JS_DIR,
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    answer = json.loads(ran.stdout)
    assert answer["version"] == "2.0.1"
    (theirs,) = answer["results"]
    assert theirs["length"] == bits.length == 2 * MIN_LIST_LENGTH
    assert theirs["values"] == [bits.get(i, 2) for i in indexes] == [*EXPECTED.values(), 0, 0]
    assert theirs["atIndex"] == [bool(bits.get(i)) for i in indexes]
    # its reading of entry 8 (revoked) is bit 8, the high bit of entry 4: 0, so it would say "not set"
    assert theirs["atIndex"][list(EXPECTED).index(8)] is False


@requires_js()
def test_digital_bazaars_check_status_verifies_the_state_list_and_misreads_its_entries() -> None:
    """Digital Bazaar's whole ``checkStatus`` (through interop/js/vcjs.mjs): the signed state list
    verifies there (proof, issuer, type, purpose ``message``), and the value it answers for each
    entry is bit ``statusListIndex``, not the entry's two bits: what a verifier using it must know."""
    from jsinterop import JsInterop

    if _MISSING is not None:
        pytest.fail(f"VCCORE_REQUIRE_INTEROP is set but the JS stack is unavailable: {_MISSING}")
    # the library judges the lists at the machine's clock: make them last
    lasting = {**SIGNING, "valid_for": timedelta(days=36500)}
    lists = one_bit_lists()
    lists = {**lists, **state_lists(lists, **lasting)}
    bits = Bitstring.decode(lists[STATE]["credentialSubject"]["encodedList"])
    theirs: dict[int, bool] = {}
    with JsInterop() as js:
        for index, value in EXPECTED.items():
            answer = js.call({"op": "verify", "credential": credential(index), "documents": lists, "checkStatus": True})
            assert answer["statusResult"]["verified"] is True, answer  # the state list verified
            (result,) = answer["statusResult"]["results"]
            assert result["credentialStatus"]["statusSize"] == 2
            assert result["status"] == bool(bits.get(index)), (index, value)
            theirs[index] = result["status"]
    # bits 7 to 11 belong to entries 3 to 5, all 0 here: revoked, suspended, superseded all read "unset"
    assert theirs == dict.fromkeys(EXPECTED, False) and any(EXPECTED.values())


# --- the VC API ----------------------------------------------------------------------------------


@pytest.fixture
def api(tmp_path: Any) -> Any:
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from vccore import open_store
    from vccore.http import create_app
    from vccore.http.auth import StaticTokenAuthorizer
    from vccore.issuer import Issuer

    token = "static-token-for-tests-0123456789"
    issuer = Issuer(signer=KEY, store=open_store(str(tmp_path / "vccore.db"), status_url=BASE))
    app = create_app(issuer, authorizer=StaticTokenAuthorizer(token))
    return TestClient(app, headers={"Authorization": f"Bearer {token}"}), TestClient(app)


def _unsigned() -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": ISSUER,
        "validFrom": "2024-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:1", "name": "x"},
    }


STATE_OPTION = {"type": "BitstringStatusListEntry", "statusPurpose": "message", "statusSize": 2}


def test_the_vc_api_issues_state_entries_and_serves_their_list(api: Any) -> None:
    client, public = api

    def issue(status: Any) -> Any:
        return client.post(
            "/credentials/issue", json={"credential": _unsigned(), "options": {"credentialStatus": status}}
        )

    signed = issue(STATE_OPTION).json()["verifiableCredential"]
    (entry,) = signed["credentialStatus"]
    assert (entry["statusPurpose"], entry["statusSize"], len(entry["statusMessage"])) == ("message", 2, 4)
    assert entry["statusListCredential"].endswith("/state") and entry["statusReference"] == STATE_REFERENCE
    three = issue([{"type": "BitstringStatusListEntry"}, STATE_OPTION]).json()["verifiableCredential"]
    assert [e["statusPurpose"] for e in three["credentialStatus"]] == ["revocation", "suspension", "message"]

    served = public.get(entry["statusListCredential"].replace("https://issuer.example", ""))
    assert served.status_code == 200 and served.json()["credentialSubject"]["statusPurpose"] == "message"

    def state_of(credential: dict[str, Any]) -> int:
        listed = public.get(
            credential["credentialStatus"][-1]["statusListCredential"].replace("https://issuer.example", "")
        )
        bits = Bitstring.decode(listed.json()["credentialSubject"]["encodedList"])
        return bits.get(int(credential["credentialStatus"][-1]["statusListIndex"]), 2)

    def verdict_of(credential: dict[str, Any]) -> str:
        answer = public.post("/credentials/verify", json={"verifiableCredential": credential})
        return "VALID" if answer.status_code == 200 else str(answer.json()["code"])

    def change(credential: dict[str, Any], purpose: str, value: bool) -> Any:
        body = {
            "credentialId": credential["id"],
            "credentialStatus": {"type": "BitstringStatusListEntry", "statusPurpose": purpose},
            "status": value,
        }
        return client.post("/credentials/status", json=body)

    assert (state_of(signed), verdict_of(signed)) == (0, "VALID")
    assert change(signed, "suspension", True).status_code == 200
    assert (state_of(signed), verdict_of(signed)) == (1, "SUSPENDED")
    assert change(signed, "suspension", False).status_code == 200
    assert change(signed, "revocation", True).status_code == 200
    assert (state_of(signed), verdict_of(signed)) == (2, "REVOKED")
    assert verdict_of(three) == "VALID"


@pytest.mark.parametrize(
    "status",
    [
        {"type": "BitstringStatusListEntry", "statusPurpose": "message"},  # which size: vccore's is 2
        {**STATE_OPTION, "statusSize": 3},
        {**STATE_OPTION, "statusSize": True},
        {**STATE_OPTION, "statusMessage": [{"status": "0x0", "message": "ok"}]},  # vccore's messages only
        {"type": "BitstringStatusListEntry", "statusSize": 2},
        {"type": "BitstringStatusListEntry", "statusPurpose": "refresh"},
        [STATE_OPTION, {"type": "StatusList2021Entry"}],
    ],
)
def test_the_vc_api_refuses_entries_it_cannot_keep(api: Any, status: Any) -> None:
    client, _ = api
    answer = client.post(
        "/credentials/issue", json={"credential": _unsigned(), "options": {"credentialStatus": status}}
    )
    assert answer.status_code == 400 and answer.json()["code"] == "MALFORMED_REQUEST", answer.json()
    assert answer.json()["field"].startswith("options.credentialStatus")
