"""The vccore command: keygen, sign, verify, canonicalize, contexts export, demo."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import VECTORS, load_json, load_text

from vccore import ContextLoader
from vccore.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def keyfile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    code, out, _ = run(capsys, "keygen", "--out", str(tmp_path / "keys"))
    assert code == 0 and "did:key:z6Mk" in out
    return tmp_path / "keys" / "key.json"


def unsigned_for(keyfile: Path, tmp_path: Path) -> Path:
    key = json.loads(keyfile.read_text())
    credential = load_json("vc-di-eddsa/TestVectors/unsigned.json")
    credential["issuer"] = key["controller"]
    path = tmp_path / "unsigned.json"
    path.write_text(json.dumps(credential))
    return path


def test_keygen_writes_a_private_multikey(keyfile: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert stat.S_IMODE(os.stat(keyfile).st_mode) == 0o600
    key = json.loads(keyfile.read_text())
    assert key["publicKeyMultibase"].startswith("z6Mk") and key["secretKeyMultibase"].startswith("z3u2")
    assert key["controller"] == "did:key:" + key["publicKeyMultibase"]
    code, _, err = run(capsys, "keygen", "--out", str(keyfile.parent))
    assert code == 2 and "does not overwrite" in err


@pytest.mark.parametrize("suite", ["eddsa-rdfc-2022", "Ed25519Signature2020"])
def test_sign_then_verify(suite: str, keyfile: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    unsigned = unsigned_for(keyfile, tmp_path)
    out_file = tmp_path / "signed.json"
    code, _, _ = run(
        capsys,
        "sign",
        str(unsigned),
        "--key",
        str(keyfile),
        "--suite",
        suite,
        "--created",
        "2024-05-06T07:08:09Z",
        "-o",
        str(out_file),
    )
    assert code == 0
    signed = json.loads(out_file.read_text())
    assert signed["proof"]["created"] == "2024-05-06T07:08:09Z"
    code, out, _ = run(capsys, "verify", str(out_file), "--now", "2024-06-01T00:00:00Z")
    assert code == 0 and out.startswith("verified")
    code, out, _ = run(capsys, "verify", str(out_file), "--json", "--now", "2024-06-01T00:00:00Z")
    assert code == 0 and json.loads(out)["verified"] is True

    signed["credentialSubject"]["alumniOf"] = "Another School"
    out_file.write_text(json.dumps(signed))
    code, out, _ = run(capsys, "verify", str(out_file), "--json", "--now", "2024-06-01T00:00:00Z")
    result = json.loads(out)
    assert code == 1 and result["verified"] is False
    assert result["problems"][0]["code"] == "PROOF_VERIFICATION_ERROR" and result["problems"][0]["detail"]


def test_sign_to_stdout_reproduces_the_w3c_vector(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pair = load_json("vc-di-eddsa/TestVectors/keyPair.json")
    keyfile = tmp_path / "key.json"
    keyfile.write_text(
        json.dumps(
            {"publicKeyMultibase": pair["publicKeyMultibase"], "secretKeyMultibase": pair["privateKeyMultibase"]}
        )
    )
    code, out, _ = run(
        capsys,
        "sign",
        str(VECTORS / "vc-di-eddsa/TestVectors/unsigned.json"),
        "--key",
        str(keyfile),
        "--created",
        "2023-02-24T23:36:38Z",
        "--force",  # the vector's issuer is not the key's controller (issue 18, item 11)
    )
    assert code == 0
    assert json.loads(out) == load_json("vc-di-eddsa/TestVectors/eddsa-rdfc-2022/signedDataInt.json")


def test_sign_refuses_undefined_terms(keyfile: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vector = load_json("ld-suites-digitalbazaar/eddsa-rdfc-2022-vc11.json")["unsignedCredential"]
    vector["undefinedTerm"] = "foo"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(vector))
    code, out, err = run(capsys, "sign", str(path), "--key", str(keyfile))
    assert code == 1 and out == ""
    assert "UNDEFINED_TERM" in err and "undefinedTerm" in err
    # JCS signs the JSON as written, but the verifier reads every credential in safe mode: what
    # it would refuse is not signed with JCS either
    code, out, err = run(capsys, "sign", str(path), "--key", str(keyfile), "--suite", "eddsa-jcs-2022")
    assert code == 1 and out == "" and "UNDEFINED_TERM" in err


def test_verify_exit_codes_for_unusable_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "verify", str(tmp_path / "missing.json"))[0] == 2
    (tmp_path / "junk.json").write_text("{nope")
    assert run(capsys, "verify", str(tmp_path / "junk.json"))[0] == 2
    (tmp_path / "array.json").write_text("[]")
    code, out, _ = run(capsys, "verify", str(tmp_path / "array.json"))
    assert code == 1 and "PARSING_ERROR" in out
    assert run(capsys, "verify", str(tmp_path / "array.json"), "--now", "soon")[0] == 2


def test_verify_with_pinned_context_and_trust(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vector = load_json("ld-suites-digitalbazaar/ed25519-signature-2020-vc11.json")
    pair = vector["keyPair"]
    from vccore import Ed25519Key, sign

    key = Ed25519Key.from_multibase(
        pair["publicKeyMultibase"], pair["privateKeyMultibase"], id=pair["id"], controller=pair["controller"]
    )
    context_url = "https://contexts.example/alumni/v1"
    context_file = tmp_path / "alumni.jsonld"
    context_file.write_text(json.dumps({"@context": vector["unsignedCredential"]["@context"][1]}))
    credential = dict(vector["unsignedCredential"])
    credential["@context"] = [credential["@context"][0], context_url, credential["@context"][2]]
    loader = ContextLoader.from_directory(Path(__file__).resolve().parent.parent / "contexts").with_contexts(
        {context_url: context_file.read_bytes()}
    )
    signed_file = tmp_path / "signed.json"
    signed_file.write_text(json.dumps(sign(credential, key, suite="Ed25519Signature2020", contexts=loader)))
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps({"verificationMethods": [vector["verificationMethodDocument"]]}))

    # The verification method is read from what the proof signs, which the unknown context keeps
    # unreadable: the context is what is missing first.
    code, out, _ = run(capsys, "verify", str(signed_file), "--json")
    assert code == 1 and [p["reason"] for p in json.loads(out)["problems"]] == ["UNKNOWN_CONTEXT"]
    code, out, _ = run(capsys, "verify", str(signed_file), "--context", f"{context_url}={context_file}", "--json")
    problems = json.loads(out)["problems"]
    assert code == 1 and [p["code"] for p in problems] == ["UNKNOWN_VERIFICATION_METHOD"]
    assert pair["id"] in problems[0]["detail"]
    code, out, _ = run(capsys, "verify", str(signed_file), "--trust", str(trust), "--json")
    assert code == 1 and [p["reason"] for p in json.loads(out)["problems"]] == ["UNKNOWN_CONTEXT"]
    code, out, _ = run(
        capsys, "verify", str(signed_file), "--trust", str(trust), "--context", f"{context_url}={context_file}"
    )
    assert code == 0, out
    code, out, _ = run(
        capsys,
        "verify",
        str(signed_file),
        "--trust",
        str(trust),
        "--context",
        f"{context_url}={context_file}",
        "--suite",
        "eddsa-rdfc-2022",
    )
    assert code == 1 and "UNSUPPORTED_SUITE" in out


@pytest.mark.parametrize("name", ["test060", "test022"])
def test_canonicalize_nquads(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "canonicalize", str(VECTORS / f"rdf-canon/rdfc10/{name}-in.nq"))
    assert code == 0 and out == load_text(f"rdf-canon/rdfc10/{name}-rdfc10.nq")


def test_canonicalize_jsonld(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "canonicalize", str(VECTORS / "vc-di-eddsa/TestVectors/unsigned.json"))
    assert code == 0 and out == load_text("vc-di-eddsa/TestVectors/eddsa-rdfc-2022/canonDocDataInt.txt")
    code, out, _ = run(
        capsys, "canonicalize", "--from", "jsonld", str(VECTORS / "vc-di-eddsa/TestVectors/unsigned.json")
    )
    assert code == 0


def test_contexts_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(capsys, "contexts", "export", str(tmp_path / "ctx"))
    assert code == 0
    index = json.loads((tmp_path / "ctx" / "index.json").read_text())
    assert "https://www.w3.org/ns/credentials/v2" in index
    assert (
        index["https://www.w3.org/ns/credentials/v2"]["sha256"]
        == "59955ced6697d61e03f2b2556febe5308ab16842846f5b586d7f1f7adec92734"
    )
    loader = ContextLoader.from_directory(tmp_path / "ctx")
    for url in index:
        loader.read_bytes(url)
    # the entity types' contexts too, each in a file of its own
    assert {
        "https://vccore.dev/credentials/health-professional/v1",
        "https://divoc.dev/credentials/vaccination/v1",
    } <= set(index)
    assert len({entry["file"] for entry in index.values()}) == len(index)


def test_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "demo", "--home", str(tmp_path / "demo"))
    assert code == 0
    # issue 18, blocker 3: the demo ended "today: not verified: EXPIRED" (the seed's validTill had
    # passed) and said nothing of what it had made or what to do next
    assert out.count(": verified") == 2 and "NOT verified" not in out and "EXPIRED" not in out, out
    assert "made a new issuing key" in err and (tmp_path / "demo" / "key.json").exists()
    payload = json.loads((tmp_path / "demo" / "payload.json").read_text())
    credential = json.loads((tmp_path / "demo" / "credential.json").read_text())
    assert payload["validTill"] == credential["validUntil"] > payload["validFrom"] == credential["validFrom"]
    assert (tmp_path / "demo" / "credential-vc1.1.json").is_file() and "try next" in out
    code, out, err = run(capsys, "demo", "--home", str(tmp_path / "demo"))
    assert code == 0 and err == ""


def test_issue_and_entities(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from vccore.entities import bundled_entity_types

    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps(bundled_entity_types()["HealthProfessional"].example))
    monkeypatch.setenv("VCCORE_HOME", str(tmp_path / "home"))
    out_file = tmp_path / "cred.json"
    code, _, err = run(
        capsys,
        "issue",
        "HealthProfessional",
        str(payload),
        "--vc",
        "1.1",
        "--suite",
        "Ed25519Signature2020",
        "-o",
        str(out_file),
    )
    assert code == 0 and "made a new issuing key" in err
    assert (tmp_path / "home" / "key.json").exists()
    code, out, _ = run(capsys, "verify", str(out_file), "--now", "2024-01-01T00:00:00Z", "--json")
    assert code == 0, out
    # bad payloads: every problem, on standard error, exit 1, nothing written
    payload.write_text(json.dumps({"name": 5, "dob": "1991-13-01", "unknown": 1}))
    code, out, err = run(capsys, "issue", "HealthProfessional", str(payload))
    assert code == 1 and out == ""
    for words in ("/name: WRONG_TYPE", "/dob: BAD_DATE", "/unknown: UNKNOWN_FIELD", "/certificateId: MISSING"):
        assert words in err
    code, _, err = run(capsys, "issue", "NoSuchType", str(payload))
    assert code == 2 and "UNKNOWN_ENTITY_TYPE" in err  # unusable input, as every usage error (issue 18, item 13)
    code, out, _ = run(capsys, "entities")
    assert "HealthProfessional" in out and "registrationCouncil" in out and "VaccinationCertificate" in out
    code, out, _ = run(capsys, "entities", "--json")
    listing = json.loads(out)
    assert listing["HealthProfessional"]["vcVersions"] == ["1.1", "2.0"]


def test_did_web_key_and_its_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from vccore.entities import bundled_entity_types

    code, out, _ = run(capsys, "keygen", "--out", str(tmp_path / "k"), "--did-web", "issuer.example.org:8443/hp")
    assert code == 0 and "did:web:issuer.example.org%3A8443:hp" in out
    document = json.loads((tmp_path / "k" / "did.json").read_text())
    assert document["id"] == "did:web:issuer.example.org%3A8443:hp"
    assert document["assertionMethod"] == [document["verificationMethod"][0]["id"]]
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps(bundled_entity_types()["HealthProfessional"].example))
    cred = tmp_path / "cred.json"
    assert (
        run(
            capsys,
            "issue",
            "HealthProfessional",
            str(payload),
            "--key",
            str(tmp_path / "k" / "key.json"),
            "-o",
            str(cred),
        )[0]
        == 0
    )
    assert json.loads(cred.read_text())["issuer"]["id"] == document["id"]
    code, out, _ = run(capsys, "verify", str(cred), "--now", "2024-01-01T00:00:00Z")
    assert code == 1 and "UNKNOWN_VERIFICATION_METHOD" in out  # did:web is never fetched
    code, out, _ = run(
        capsys, "verify", str(cred), "--now", "2024-01-01T00:00:00Z", "--trust", str(tmp_path / "k" / "did.json")
    )
    assert code == 0, out


def test_console_script_is_installed() -> None:
    exe = shutil.which("vccore", path=os.path.dirname(sys.executable))
    assert exe is not None
    done = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("vccore ")


def test_certificate_lifecycle_commands(
    tmp_path: Path, store_location: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every lifecycle command, on the store named by $VCCORE_STORE (SQLite and PostgreSQL)."""
    from vccore.entities import bundled_entity_types

    monkeypatch.setenv("VCCORE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VCCORE_STORE", store_location)
    example = dict(bundled_entity_types()["HealthProfessional"].example or {})
    del example["certificateId"]
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps(example))
    at = ["--now", "2024-01-01T00:00:00Z"]
    code, out, err = run(
        capsys,
        "certify",
        "HealthProfessional",
        str(payload),
        "--status-url",
        "https://issuer.example/status/",
        "--json",
        *at,
    )
    assert code == 0 and "transactionId" in err
    first = json.loads(out)
    payload.write_text(json.dumps({**example, "certificateId": first["certificateId"]}))
    code, out, _ = run(capsys, "update", "HealthProfessional", str(payload), "--json", *at)
    second = json.loads(out)
    assert code == 0 and second["replaces"] == first["certificateId"]
    code, out, _ = run(capsys, "suspend", second["certificateId"], "--until", "2024-02-01T00:00:00Z", *at)
    assert code == 0 and json.loads(out)["state"] == "SUSPENDED"
    code, _, err = run(capsys, "revoke", first["certificateId"], *at)
    assert code == 1 and "INVALID_TRANSITION" in err and second["certificateId"] in err
    assert run(capsys, "status", "export", str(tmp_path / "status"), "--valid-for", "60", *at)[0] == 0

    def status_of(credential: dict[str, Any], now: str) -> dict[str, Any]:
        file = tmp_path / "c.json"
        file.write_text(json.dumps(credential))
        return json.loads(
            run(capsys, "verify", str(file), "--status-dir", str(tmp_path / "status"), "--now", now, "--json")[1]
        )

    assert status_of(first["credential"], "2024-01-01T00:00:00Z")["status"] == "SUPERSEDED"
    superseded = status_of(first["credential"], "2024-01-01T00:00:00Z")  # the store (read only) names the successor
    assert [p.get("successor") for p in superseded["problems"]] == [second["certificateId"]]
    suspended = status_of(second["credential"], "2024-01-01T00:00:00Z")
    assert suspended["status"] == "SUSPENDED" and suspended["problems"][0]["until"] == "2024-02-01T00:00:00Z"
    assert status_of(second["credential"], "2024-02-02T00:00:00Z")["status"] == "VALID"
    assert run(capsys, "unsuspend", second["certificateId"], *at)[0] == 0
    code, out, _ = run(capsys, "fetch", first["transactionId"])
    fetched = json.loads(out)
    assert code == 0 and fetched["certificateId"] == second["certificateId"] and fetched["state"] == "VALID"
    assert [c["certificateId"] for c in fetched["chain"]] == [first["certificateId"], second["certificateId"]]
    code, _, err = run(capsys, "fetch", "nope")
    assert code == 1 and "UNKNOWN_CERTIFICATE" in err
    assert (
        not (tmp_path / "home" / "vccore.db").exists() or "://" not in store_location
    )  # the store named, not the home's


def test_lifecycle_commands_do_not_make_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["revoke", "1"], ["fetch", "1"], ["status", "export", str(tmp_path / "s")]):
        code, _, err = run(capsys, *argv, "--home", str(tmp_path / "typo"))
        # fetch only reads the store (issue 18, item 12): it names the store it did not find
        assert code == 2 and ("no store" if argv[0] == "fetch" else "no issuing key") in err, (argv, err)
    assert not (tmp_path / "typo").exists()


def test_times_beyond_the_calendar_in_utc_are_refused_by_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """9999-12-31T23:59:59-01:00 is a year 10000 in UTC: the option is named, no traceback."""
    from vccore.entities import bundled_entity_types

    home = ["--home", str(tmp_path / "home")]
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps(bundled_entity_types()["HealthProfessional"].example))
    assert run(capsys, "certify", "HealthProfessional", str(payload), *home, "--json")[0] == 0
    for moment in ("9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"):
        code, _, err = run(capsys, "suspend", "614894628867", "--until", moment, *home)
        assert code == 2 and "--until" in err and moment in err, err
        code, _, err = run(capsys, "suspend", "614894628867", "--now", moment, *home)
        assert code == 2 and "--now" in err, err


def test_home_folders_vccore_makes_are_private(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    previous = os.umask(0o022)
    try:
        payload = tmp_path / "payload.json"
        from vccore.entities import bundled_entity_types

        payload.write_text(json.dumps(bundled_entity_types()["HealthProfessional"].example))
        assert run(capsys, "certify", "HealthProfessional", str(payload), "--home", str(tmp_path / "home"))[0] == 0
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "home").stat().st_mode) == 0o700
    for name in ("key.json", "vccore.db"):
        assert stat.S_IMODE((tmp_path / "home" / name).stat().st_mode) == 0o600, name
