"""Issue 18, the verifier's part: hints in the words of whoever meets them (items 6), what `sign`,
`render` will make of a credential that cannot verify (item 11), and a page that shows its
credential's state (item 14). Each test failed on main before the fix."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from conftest import CUSTOM_CONTEXT, TEMPLATES, custom_type_folder

from vccore import Ed25519Key, Verifier, issue, load_entity_types, render
from vccore.cli import main
from vccore.codes import ProblemCode

KEY = Ed25519Key.from_seed(bytes(range(32)))
ISSUED = datetime(2024, 1, 1, tzinfo=UTC)
AT = "2024-01-02T00:00:00Z"
AFTER = "2030-01-01T00:00:00Z"  # past every example's validUntil
PYTHON_NAMES = ("with_contexts", "ContextLoader", "status=", "verification_methods=", "entity_types=", "()")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def types_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return custom_type_folder(tmp_path_factory.mktemp("types"))


@pytest.fixture(scope="module")
def custom(types_folder: Path) -> dict[str, Any]:
    """A credential of a type vccore does not ship, its context pinned at a URL vccore does not bundle."""
    trainee = load_entity_types(types_folder)["Trainee"]
    assert trainee.example is not None
    return issue(trainee, trainee.example, signer=KEY, now=ISSUED)


@pytest.fixture
def home(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """An issuer's folder holding one certified HealthProfessional credential (cred.json beside it)."""
    folder = tmp_path / "home"
    payload = TEMPLATES / "HealthProfessional" / "example-payload.json"
    code, _, err = run(
        capsys, "certify", "HealthProfessional", str(payload), "--home", str(folder), "-o", str(tmp_path / "cred.json"),
        "--now", "2023-09-10T00:00:00Z",
    )  # fmt: skip
    assert code == 0, err
    return folder


def forged_from(path: Path) -> Path:
    credential = json.loads(path.read_text())
    credential["credentialSubject"]["name"] = "Mallory"
    forged = path.with_name("forged.json")
    forged.write_text(json.dumps(credential))
    return forged


# --- item 6: hints in the words of whoever meets them ------------------------------------------


def test_an_unknown_context_tells_a_cli_user_the_cli_options(
    custom: dict[str, Any], types_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # main printed "pin it with ContextLoader.with_contexts() or the CLI's --context URL=FILE"
    path = tmp_path / "trainee.json"
    path.write_text(json.dumps(custom))
    code, out, _ = run(capsys, "verify", str(path), "--now", AT)
    assert code == 1 and CUSTOM_CONTEXT in out
    assert "--templates DIR" in out and "--context URL=FILE" in out
    assert not any(name in out for name in PYTHON_NAMES), out
    code, out, _ = run(capsys, "verify", str(path), "--now", AT, "--json")
    problem = json.loads(out)["problems"][0]
    assert problem["reason"] == "UNKNOWN_CONTEXT" and "--templates DIR" in problem["hint"]
    code, out, _ = run(capsys, "verify", str(path), "--now", AT, "--templates", str(types_folder))
    assert code == 0 and out.startswith("verified")


def test_an_unknown_context_tells_a_python_user_the_python_names(custom: dict[str, Any]) -> None:
    result = Verifier.create().verify(custom, now=datetime(2024, 1, 2, tzinfo=UTC))
    problem = result.problems[0]
    assert problem.code == ProblemCode.PROOF_TRANSFORMATION_ERROR and problem.reason == "UNKNOWN_CONTEXT"
    assert problem.hint is not None and "with_contexts" in problem.hint and "entity_types=" in problem.hint
    assert "--" not in problem.detail and "--" not in problem.hint and CUSTOM_CONTEXT in problem.detail
    assert "hint" not in problem.to_dict()  # the wire form goes to whoever presented it


def test_status_not_checked_names_status_dir_on_the_cli_and_status_in_python(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cred = tmp_path / "cred.json"
    code, out, _ = run(capsys, "verify", str(cred), "--now", "2023-09-11T00:00:00Z")
    assert code == 0 and "STATUS_NOT_CHECKED" in out and "--status-dir DIR" in out
    assert "resolver" not in out and not any(name in out for name in PYTHON_NAMES), out
    warning = Verifier.create().verify(json.loads(cred.read_text()), now=datetime(2023, 9, 11, tzinfo=UTC)).warnings[0]
    assert warning.code == ProblemCode.STATUS_NOT_CHECKED
    assert warning.hint is not None and "status=" in warning.hint and "--status-dir" not in warning.hint


def test_a_forged_credential_gets_no_status_warning_and_is_invalid_not_expired(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # main: "not verified (EXPIRED)" and "warning: STATUS_NOT_CHECKED" for a credential whose
    # signature does not match: neither its dates nor its status are the issuer's
    forged = forged_from(tmp_path / "cred.json")
    code, out, _ = run(capsys, "verify", str(forged), "--now", AFTER)
    assert code == 1 and "PROOF_VERIFICATION_ERROR" in out
    assert "STATUS_NOT_CHECKED" not in out and out.startswith("not verified (INVALID)")
    result = Verifier.create().verify(forged.read_text(), now=datetime(2030, 1, 1, tzinfo=UTC))
    assert result.warnings == () and result.status == "INVALID" and not result.authentic
    # the genuine one, expired, is EXPIRED and still says its status was not checked
    genuine = Verifier.create().verify((tmp_path / "cred.json").read_text(), now=datetime(2030, 1, 1, tzinfo=UTC))
    assert genuine.status == "EXPIRED" and genuine.authentic
    assert [w.code for w in genuine.warnings] == ["STATUS_NOT_CHECKED"]


def test_an_unknown_verification_method_names_trust(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    credential = json.loads((tmp_path / "cred.json").read_text())
    credential["proof"]["verificationMethod"] = "did:web:issuer.example#key-1"
    path = tmp_path / "web.json"
    path.write_text(json.dumps(credential))
    code, out, _ = run(capsys, "verify", str(path), "--now", "2023-09-11T00:00:00Z")
    assert code == 1 and "UNKNOWN_VERIFICATION_METHOD" in out and "--trust FILE" in out
    assert "verification_methods" not in out
    problem = Verifier.create().verify(credential, now=datetime(2023, 9, 11, tzinfo=UTC)).problems[0]
    assert problem.hint is not None and "verification_methods=" in problem.hint


def test_problem_details_show_no_python_reprs_or_type_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # main: "a credential is a JSON object, not list"
    path = tmp_path / "array.json"
    path.write_text("[1]")
    code, out, _ = run(capsys, "verify", str(path))
    assert code == 1 and "not an array" in out and "list" not in out
    assert Verifier.create().verify("true").problems[0].detail.endswith("not a boolean")  # main: "not bool"


def test_every_cli_hint_names_options_not_python() -> None:
    from vccore.cli._verifying import CLI_HINTS

    for code, hint in CLI_HINTS.items():
        assert "--" in hint, code
        assert not any(name in hint for name in PYTHON_NAMES), (code, hint)


# --- item 11: nothing signed or printed that cannot verify, unless asked -------------------------


def test_sign_refuses_an_issuer_the_key_does_not_control(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keyfile = tmp_path / "key.json"
    KEY.write(keyfile)
    credential = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": {"id": "did:example:someone-else"},
        "credentialSubject": {"id": "did:example:subject"},
    }
    path = tmp_path / "unsigned.json"
    path.write_text(json.dumps(credential))
    out_file = tmp_path / "signed.json"
    code, _, err = run(capsys, "sign", str(path), "--key", str(keyfile), "-o", str(out_file))
    assert code == 1 and not out_file.exists()
    assert "did:example:someone-else" in err and KEY.controller in err and "--force" in err
    code, _, err = run(capsys, "sign", str(path), "--key", str(keyfile), "-o", str(out_file), "--force")
    assert code == 0 and out_file.exists()
    # the issuer as a string, and the key's own: signed, and it verifies
    credential["issuer"] = KEY.controller
    path.write_text(json.dumps(credential))
    code, _, err = run(capsys, "sign", str(path), "--key", str(keyfile), "-o", str(out_file))
    assert code == 0, err
    assert run(capsys, "verify", str(out_file))[0] == 0


def test_sign_names_its_own_option_for_an_unknown_context(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keyfile = tmp_path / "key.json"
    KEY.write(keyfile)
    credential = {
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://example.org/unpinned/v1"],
        "type": ["VerifiableCredential"],
        "issuer": KEY.controller,
        "credentialSubject": {"id": "did:example:subject"},
    }
    path = tmp_path / "unsigned.json"
    path.write_text(json.dumps(credential))
    code, _, err = run(capsys, "sign", str(path), "--key", str(keyfile))
    assert code == 1 and "UNKNOWN_CONTEXT" in err and "https://example.org/unpinned/v1" in err
    assert "--context URL=FILE" in err and "--templates DIR" in err  # the hint of vccore's main
    assert not any(name in err for name in PYTHON_NAMES), err


@pytest.mark.parametrize("suffix", [".html", ".svg"])
def test_render_refuses_a_credential_that_does_not_verify(
    suffix: str, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    forged = forged_from(tmp_path / "cred.json")
    page = tmp_path / f"page{suffix}"
    code, _, err = run(capsys, "render", str(forged), "-o", str(page), "--now", AT)
    assert code == 1 and not page.exists()
    assert "PROOF_VERIFICATION_ERROR" in err and "--unverified" in err
    unsigned = json.loads(forged.read_text())
    del unsigned["proof"]
    forged.write_text(json.dumps(unsigned))
    code, _, err = run(capsys, "render", str(forged), "-o", str(page), "--now", AT)
    assert code == 1 and not page.exists() and "has no proof" in err
    # asked for, it is written, and the page says it is not verified: no invitation to scan
    code, _, err = run(capsys, "render", str(forged), "-o", str(page), "--now", AT, "--unverified")
    assert code == 0 and "NOT VERIFIED" in err
    text = page.read_text()
    assert "NOT VERIFIED" in text and "Scan to verify" not in text


def test_render_verifies_with_the_options_verify_takes(
    custom: dict[str, Any], types_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "trainee.json"
    path.write_text(json.dumps(custom))
    page = tmp_path / "page.html"
    code, _, err = run(capsys, "render", str(path), "-o", str(page), "--now", AT)
    assert code == 1 and "--templates DIR" in err and not page.exists()
    code, _, err = run(capsys, "render", str(path), "-o", str(page), "--now", AT, "--templates", str(types_folder))
    assert code == 0, err
    assert "Scan to verify" in page.read_text() and "NOT VERIFIED" not in page.read_text()


def test_the_print_check_is_one_function_a_qr_command_can_share(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from vccore.cli._verifying import add_print_options, printable

    parser = argparse.ArgumentParser()
    parser.add_argument("credential", type=Path)
    add_print_options(parser)
    forged = forged_from(tmp_path / "cred.json")
    args = parser.parse_args([str(forged), "--now", AT])
    assert printable(json.loads(forged.read_text()), args, command="qr encode") is None
    assert "vccore: qr encode:" in capsys.readouterr().err
    args = parser.parse_args([str(tmp_path / "cred.json"), "--now", AT])
    result = printable(json.loads((tmp_path / "cred.json").read_text()), args, command="qr encode")
    assert result is not None and result.verified


# --- item 14: the page says who issued it and what state it is in --------------------------------


def test_the_svg_page_says_who_issued_it_and_its_number(home: Path, tmp_path: Path) -> None:
    credential = json.loads((tmp_path / "cred.json").read_text())
    svg = render.certificate_svg(credential, now=datetime(2024, 1, 1, tzinfo=UTC))
    ET.fromstring(svg)
    number = credential["evidence"]["certificateId"]
    assert f"Issued by {credential['issuer']['id']} \u00b7 certificate {number}" in svg
    html = render.certificate_html(credential, now=datetime(2024, 1, 1, tzinfo=UTC))
    assert "Issued by" in html and number in html


def test_an_expired_credential_is_rendered_and_its_page_says_expired(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cred = tmp_path / "cred.json"
    until = json.loads(cred.read_text())["validUntil"]
    for suffix in (".html", ".svg"):
        page = tmp_path / f"page{suffix}"
        code, _, err = run(capsys, "render", str(cred), "-o", str(page), "--now", AFTER)
        assert code == 0 and "EXPIRED" in err
        text = page.read_text()
        assert f"EXPIRED: valid until {until}" in text and "Scan to verify" in text
        code, _, _ = run(capsys, "render", str(cred), "-o", str(page), "--now", AT)
        assert code == 0 and "EXPIRED" not in page.read_text()
    # the library, without a verification, reads the dates
    credential = json.loads(cred.read_text())
    assert "EXPIRED" in render.certificate_html(credential, now=datetime(2030, 1, 1, tzinfo=UTC))
    assert "EXPIRED" not in render.certificate_svg(credential, now=datetime(2024, 1, 1, tzinfo=UTC))


def test_a_revoked_credential_page_says_revoked_from_status_lists_or_the_store(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cred = tmp_path / "cred.json"
    number = json.loads(cred.read_text())["evidence"]["certificateId"]
    assert run(capsys, "revoke", number, "--home", str(home), "--now", "2023-09-11T00:00:00Z")[0] == 0
    lists = tmp_path / "lists"
    code, _, err = run(capsys, "status", "export", "--home", str(home), str(lists), "--now", "2023-09-12T00:00:00Z")
    assert code == 0, err
    page = tmp_path / "page.html"
    when = "2023-09-13T00:00:00Z"
    code, _, _ = run(capsys, "render", str(cred), "-o", str(page), "--now", when)
    assert code == 0 and "REVOKED" not in page.read_text()  # nothing says so: nothing is shown
    code, _, err = run(capsys, "render", str(cred), "-o", str(page), "--now", when, "--status-dir", str(lists))
    assert code == 0 and "REVOKED" in err and "REVOKED: the issuer has revoked" in page.read_text()
    svg = tmp_path / "page.svg"
    code, _, err = run(capsys, "render", str(cred), "-o", str(svg), "--now", when, "--home", str(home))
    assert code == 0 and "REVOKED: the issuer has revoked" in svg.read_text()
    ET.fromstring(svg.read_text())


def test_the_page_of_a_forged_credential_says_not_verified(home: Path, tmp_path: Path) -> None:
    forged = json.loads(forged_from(tmp_path / "cred.json").read_text())
    result = Verifier.create().verify(forged, now=datetime(2024, 1, 1, tzinfo=UTC))
    scannable, lines = render.page_state(forged, result)
    assert not scannable and lines[0].startswith("NOT VERIFIED") and "PROOF_VERIFICATION_ERROR" in lines[0]
    svg = render.certificate_svg(forged, verification=result)
    assert "Scan to verify" not in svg and "NOT VERIFIED" in svg
    assert "NOT VERIFIED" not in render.certificate_svg(forged)  # the library alone knows only the dates
