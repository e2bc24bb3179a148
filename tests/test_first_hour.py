"""The first hour (issue 18), scripted: a newcomer in a fresh folder with only the README.

The README's quickstart is read off the README itself and run command by command (``make demo``
as the ``vccore demo`` it runs), each held to what its comment says; then a custom entity type is
served, certified and verified over HTTP by a real ``vccore serve``; the bundled
VaccinationCertificate goes through the command line, Python and HTTP on defaults; and the bad
inputs a newcomer meets first each give exit 2 and a message that names the fix.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import custom_type_folder

import vccore

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
TOKEN = "first-hour-token-0123456789abcdef"
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("VCCORE_")}


def vccore_command(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``vccore ARGS`` as a user runs it: a process of its own, in ``folder``, no standard input."""
    return subprocess.run(
        [sys.executable, "-m", "vccore", *args],
        cwd=folder,
        env=CLEAN_ENV,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def quickstart_section() -> str:
    start = README.index("## Quickstart")
    return README[start : README.index("\n## ", start + 1)]


def shell_lines() -> list[tuple[str, str]]:
    """Each command of the quickstart's shell blocks, with its comment."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", quickstart_section(), re.DOTALL):
        for line in block.splitlines():
            command, _, comment = line.partition("  #")
            if command.strip():
                lines.append((command.strip(), comment.strip()))
    return lines


def make_demo_command() -> list[str]:
    """What `make demo` runs once its venv is installed (``make -n``: printed, not run)."""
    import shutil

    if shutil.which("make") is None:
        pytest.skip("make is not on this machine")
    # not as a sub-make of `make test` (which would print "make[1]: Leaving directory ...")
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    printed = subprocess.run(
        ["make", "-n", "--no-print-directory", "-W", "pyproject.toml", "demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    commands = [line for line in printed.strip().splitlines() if not line.startswith("make")]
    return shlex.split(commands[-1])


def test_the_quickstart_runs_as_written_and_each_command_says_what_it_made(tmp_path: Path) -> None:
    # `make demo` ends by running `vccore demo` from the venv: the walkthrough runs the same
    program, *args = make_demo_command()
    assert program.endswith("/vccore") and args == ["demo"], (program, args)
    lines = shell_lines()
    assert lines[0][0] == "make demo" and len([c for c, _ in lines if c.startswith("vccore")]) >= 4
    for command, comment in lines:
        if command.startswith(". "):  # activating the venv: here, `python -m vccore` of this interpreter
            continue
        args = ["demo"] if command == "make demo" else shlex.split(command)[1:]
        assert command == "make demo" or command.startswith("vccore "), command
        ran = vccore_command(tmp_path, *args)
        said = ran.stdout + ran.stderr
        assert "Traceback" not in said, (command, said)
        expected = 1 if "exit 1" in comment else 0
        assert ran.returncode == expected, (command, ran.returncode, said)
        if comment.startswith("verified"):
            assert ran.stdout.startswith("verified"), (command, said)
        if comment.startswith("not verified"):
            word = re.search(r"\((\w+)\)", comment)
            assert word is not None and ran.stdout.startswith("not verified") and word[1] in ran.stdout, (command, said)
        if "-o" in args:  # the file it made, and it says so
            made = args[args.index("-o") + 1]
            assert (tmp_path / made).is_file() and made in said, (command, said)
        if command == "make demo":
            assert "made:" in ran.stdout and "try next" in ran.stdout and "NOT verified" not in ran.stdout, said
            for name in ("key.json", "payload.json", "credential.json", "credential.png", "credential.html"):
                assert f".vccore-demo/{name}" in ran.stdout and (tmp_path / ".vccore-demo" / name).is_file(), name
            assert "read back and verified" in ran.stdout, ran.stdout


def test_the_quickstarts_python_prints_what_its_comments_say(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (code,) = re.findall(r"```python\n(.*?)```", quickstart_section(), re.DOTALL)
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {})  # noqa: S102 (the README's own code, as a user runs it)
    first, second = printed.getvalue().splitlines()[:2]
    assert first == "True VALID"
    assert "/dob" in second, second


@contextlib.contextmanager
def serving(home: Path, *options: str) -> Iterator[str]:
    """A real `vccore serve` as a newcomer starts it (no --status-url): its base URL."""
    from served import ServedProcess

    server = ServedProcess(home, None, *options, token=TOKEN, status_url=None)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def test_a_custom_type_and_the_vaccination_certificate_served_certified_and_verified_over_http(
    tmp_path: Path,
) -> None:
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("starlette")
    types = custom_type_folder(tmp_path)
    trainee = vccore.load_entity_types(types)["Trainee"].example
    vaccination = vccore.bundled_entity_types()["VaccinationCertificate"].example
    assert trainee is not None and vaccination is not None
    with serving(tmp_path / "home", "--templates", str(types)) as url:
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        for entity, payload in (
            ("Trainee", {**trainee, "validTill": "2099-01-01T00:00:00Z"}),
            ("VaccinationCertificate", vaccination),
        ):
            answer = client.post(f"/vc-certification/v1/certify/{entity}", json=payload)
            assert answer.status_code == 200, (entity, answer.text)
            certificate_id = answer.json()["certificateId"]
            credential = client.get(f"/vc-certification/v1/certificate/{entity}/{certificate_id}").json()
            divoc = client.post("/vc-certification/v1/certificate/verify", json=credential)
            assert divoc.status_code == 200, (entity, divoc.text)
            assert "VALID" in json.dumps(divoc.json()) and "INVALID" not in json.dumps(divoc.json()), divoc.text
            vc_api = client.post("/credentials/verify", json={"verifiableCredential": credential})
            assert vc_api.status_code == 200 and vc_api.json()["verified"] is True, (entity, vc_api.text)


def test_the_vaccination_certificate_on_defaults_from_the_command_line_and_python(tmp_path: Path) -> None:
    example = ROOT / "templates" / "VaccinationCertificate" / "example-payload.json"
    issued = vccore_command(tmp_path, "issue", "VaccinationCertificate", str(example), "-o", "vaccination.json")
    assert issued.returncode == 0, issued.stderr
    credential = json.loads((tmp_path / "vaccination.json").read_text())
    assert credential["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    verified = vccore_command(tmp_path, "verify", "vaccination.json")
    assert verified.returncode == 0 and verified.stdout.startswith("verified"), verified.stdout + verified.stderr
    key = vccore.Ed25519Key.generate()
    payload = json.loads(example.read_text())
    from_python = vccore.issue("VaccinationCertificate", payload, signer=key)
    assert vccore.verify(from_python, trusted_issuers=[key.controller]).verified


def _png_of_text(text: str, path: Path) -> Path:
    """A QR code of any text (a URL, say), as a PNG."""
    import segno

    segno.make(text, micro=False).save(str(path), scale=8)
    return path


def test_the_first_bad_inputs_give_exit_2_and_name_the_fix(tmp_path: Path) -> None:
    pytest.importorskip("zxingcpp")  # reading QR images: the images extra
    example = str(ROOT / "templates" / "HealthProfessional" / "example-payload.json")
    (tmp_path / "empty").mkdir()
    (tmp_path / "hello.txt").write_text("hello\n")
    _png_of_text("https://example.com", tmp_path / "url.png")
    made = vccore_command(tmp_path, "demo")
    assert made.returncode == 0, made.stderr
    svg = vccore_command(tmp_path, "qr", "encode", ".vccore-demo/credential.json", "-o", "cert.svg")
    assert svg.returncode == 0, svg.stderr
    cases = [
        (("entities", "--templates", "nope"), ("nope", "--templates")),
        (("issue", "HealthProfessional", example, "--templates", "nope"), ("nope", "--templates")),
        (("verify", ".vccore-demo/credential.json", "--templates", "nope"), ("nope", "--templates")),
        (("render", ".vccore-demo/credential.json", "-o", "x.html", "--templates", "nope"), ("nope", "--templates")),
        (("entities", "--templates", "empty"), ("empty", "entity.json")),
        (("verify", "hello.txt"), ("hello.txt",)),
        (("verify", "url.png"), ("https://example.com",)),
        (("qr", "decode", "url.png"), ("https://example.com",)),
        (("verify", "cert.svg"), ("SVG", "PNG")),
        (("qr", "decode", "cert.svg"), ("SVG", "PNG")),
        (("issue", "NoSuchType", example), ("NoSuchType", "vccore entities")),
    ]
    for args, words in cases:
        ran = vccore_command(tmp_path, *args)
        said = ran.stdout + ran.stderr
        assert ran.returncode == 2, (args, ran.returncode, said)
        assert "Traceback" not in said, (args, said)
        for word in words:
            assert word in ran.stderr, (args, word, ran.stderr)


# --- siblings found while putting the first hour together -----------------------------------------


def test_update_in_a_folder_without_an_issuer_makes_nothing(tmp_path: Path) -> None:
    example = str(ROOT / "templates" / "HealthProfessional" / "example-payload.json")
    ran = vccore_command(tmp_path, "update", "HealthProfessional", example)
    assert ran.returncode == 2 and "no issuing key" in ran.stderr, ran.stderr
    assert not (tmp_path / ".vccore").exists()  # update made a key and a store before


def test_every_time_option_takes_a_date(tmp_path: Path) -> None:
    example = str(ROOT / "templates" / "HealthProfessional" / "example-payload.json")
    issued = vccore_command(tmp_path, "issue", "HealthProfessional", example, "--now", "2024-01-02", "-o", "c.json")
    assert issued.returncode == 0, issued.stderr
    assert json.loads((tmp_path / "c.json").read_text())["proof"]["created"] == "2024-01-02T00:00:00Z"
    verified = vccore_command(tmp_path, "verify", "c.json", "--now", "2024-06-01")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    wrong = vccore_command(tmp_path, "verify", "c.json", "--now", "2024-02-30")
    assert wrong.returncode == 2 and "--now: 2024-02-30 is not a date of the calendar" in wrong.stderr, wrong.stderr


def test_a_credential_naming_the_status_url_before_a_move_still_names_its_successor(tmp_path: Path) -> None:
    payload = json.loads((ROOT / "templates" / "HealthProfessional" / "example-payload.json").read_text())
    (tmp_path / "p.json").write_text(json.dumps({**payload, "validTill": "2099-01-01T00:00:00Z"}))
    old = ("--status-url", "https://old.example/status/")
    assert vccore_command(tmp_path, "certify", "HealthProfessional", "p.json", "-o", "old.json", *old).returncode == 0
    moved = vccore_command(tmp_path, "status", "move", "https://new.example/status/")
    assert moved.returncode == 0, moved.stderr
    assert vccore_command(tmp_path, "update", "HealthProfessional", "p.json", "-o", "new.json").returncode == 0
    assert vccore_command(tmp_path, "status", "export", "status").returncode == 0
    ran = vccore_command(tmp_path, "verify", "old.json", "--status-dir", "status", "--home", ".vccore")
    assert ran.returncode == 1 and "SUPERSEDED" in ran.stdout, ran.stdout + ran.stderr
    successor = json.loads((tmp_path / "new.json").read_text())["evidence"]["certificateId"]
    assert successor in ran.stdout, ran.stdout  # the verifier found it under the URL the credential names


def test_a_suspension_that_ends_in_the_past_is_refused_for_its_end_not_the_certificates_state(
    tmp_path: Path,
) -> None:
    store = vccore.open_store(tmp_path / "v.db", status_url="https://issuer.example/status/")
    issuer = vccore.Issuer(signer=vccore.Ed25519Key.generate(), store=store)
    example = vccore.bundled_entity_types()["HealthProfessional"].example
    assert example is not None
    issuer.certify("HealthProfessional", example)
    with pytest.raises(vccore.LifecycleError) as refused:
        issuer.suspend(example["certificateId"], "2000-01-01T00:00:00Z")
    # it was INVALID_TRANSITION with state VALID, whatever the certificate's state
    assert refused.value.code == vccore.ErrorCode.INVALID_ARGUMENT and refused.value.details["field"] == "until"
    assert issuer.store.get(example["certificateId"]).state == "VALID"  # type: ignore[union-attr]


def test_a_server_whose_store_moved_its_status_url_still_answers_for_what_it_issued_before(tmp_path: Path) -> None:
    """After `vccore status move`, `vccore serve` refused every credential issued before the move
    (406 INVALID, STATUS_RETRIEVAL_ERROR: its status cache knew the new URL only) and did not
    serve the lists under the old URL."""
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from vccore.http import create_app
    from vccore.http.auth import StaticTokenAuthorizer

    key = vccore.Ed25519Key.generate()
    store = vccore.open_store(tmp_path / "s.db", status_url="https://issuer.example/old/")
    example = vccore.bundled_entity_types()["HealthProfessional"].example
    assert example is not None
    payload = {**example, "validTill": "2099-01-01T00:00:00Z"}
    before = vccore.Issuer(signer=key, store=store).certify("HealthProfessional", payload).credential
    store.move_status_url("https://issuer.example/new/")
    issuer = vccore.Issuer(signer=key, store=store)
    after = issuer.certify("HealthProfessional", {**payload, "certificateId": "after-1"}).credential
    client = TestClient(create_app(issuer, authorizer=StaticTokenAuthorizer(TOKEN)), base_url="https://issuer.example")
    for credential in (before, after):
        answer = client.post("/vc-certification/v1/certificate/verify", json=credential)
        assert answer.status_code == 200 and answer.json()["status"]["certificateStatus"] == "VALID", answer.text
    old_list = client.get("/old/0/revocation")
    assert old_list.status_code == 200 and old_list.json()["id"] == "https://issuer.example/old/0/revocation"
    assert client.get("/new/0/revocation").json()["id"] == "https://issuer.example/new/0/revocation"
    client.post(
        "/vc-certification/v1/certificate/revoke",
        json={"certificateId": example["certificateId"], "entityName": "HealthProfessional"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    revoked = client.post("/vc-certification/v1/certificate/verify", json=before).json()
    assert revoked["status"]["certificateStatus"] == "REVOKED", revoked


def test_a_mistyped_entity_type_or_an_output_with_no_folder_changes_nothing(tmp_path: Path) -> None:
    """Found trying the quickstart with mistakes: `certify HealthProfessionl ...` made a key and a
    store (which picked a placeholder status URL for good) before saying the type was unknown, and
    `certify ... -o out/cert.json` recorded the certificate and then could not write it (the retry
    was DUPLICATE_CERTIFICATE_ID)."""
    example = str(ROOT / "templates" / "HealthProfessional" / "example-payload.json")
    for command in ("certify", "issue"):
        typo = vccore_command(tmp_path, command, "HealthProfessionl", example)
        assert typo.returncode == 2 and "HealthProfessional" in typo.stderr, typo.stderr
        assert not (tmp_path / ".vccore").exists(), command
    nowhere = vccore_command(tmp_path, "certify", "HealthProfessional", example, "-o", "out/cert.json")
    assert nowhere.returncode == 2 and "the folder out does not exist" in nowhere.stderr, nowhere.stderr
    assert not (tmp_path / ".vccore").exists()
    batch = vccore_command(tmp_path, "issue", "HealthProfessional", "--batch", example, "-o", "out/c.jsonl")
    assert batch.returncode == 2 and "the folder out does not exist" in batch.stderr, batch.stderr
    assert not (tmp_path / ".vccore").exists()
    made = vccore_command(tmp_path, "certify", "HealthProfessional", example, "-o", "cert.json")
    assert made.returncode == 0 and (tmp_path / "cert.json").is_file(), made.stderr
    later = vccore_command(tmp_path, "suspend", "614894628867", "--until", "tomorrow")
    assert later.returncode == 2 and "neither a date (2027-01-01" in later.stderr, later.stderr


def test_every_command_that_takes_templates_or_contexts_takes_them_one_way() -> None:
    """`--templates a b` was refused by sign (and, before, by verify, render and serve): each
    command declared the option again. Every command now takes them through one declaration."""
    import argparse

    from vccore.cli import _parser

    def commands(
        parser: argparse.ArgumentParser, path: str = "vccore"
    ) -> Iterator[tuple[str, argparse.ArgumentParser]]:
        yield path, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from commands(sub, f"{path} {name}")

    seen = {"--templates": 0, "--context": 0}
    for path, parser in commands(_parser()):
        for action in parser._actions:
            if "--templates" in action.option_strings:
                seen["--templates"] += 1
                assert (action.nargs, type(action).__name__) == ("+", "_ExtendAction"), path
            if "--context" in action.option_strings:
                seen["--context"] += 1
                assert action.help == "pin an extra context (repeatable)", path
    assert seen["--templates"] >= 8 and seen["--context"] >= 5, seen
