"""The command line a newcomer meets in the first hour (issue 18): what a wrong folder, file or QR
code says, the exit codes (one rule, the table in docs/cli.md), what each write says, the entity
type warnings, and the messages a payload gets.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import segno
from conftest import custom_type_folder
from PIL import Image

from vccore import EntityTypeError, load_entity_types, qr
from vccore.cli import main
from vccore.entities import bundled_entity_types
from vccore.payloads import schema_validator, validate_payload

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
PAYLOAD = TEMPLATES / "HealthProfessional" / "example-payload.json"
VCCORE = Path(sys.executable).parent / "vccore"
NOW = "2025-01-01T00:00:00Z"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def badge_type(parent: Path, *, certificate_id: bool = False) -> Path:
    """A folder holding one small entity type of a newcomer's own (Badge), with or without a
    certificateId field.
    """
    folder = parent / "Badge"
    folder.mkdir(parents=True)
    context = json.dumps(
        {
            "@context": {
                "@version": 1.1,
                "@protected": True,
                "BadgeCredential": "https://example.org/badge#BadgeCredential",
                "holderName": "https://example.org/badge#holderName",
                "badgeId": "https://example.org/badge#badgeId",
            }
        }
    ).encode()
    (folder / "context.jsonld").write_bytes(context)
    properties: dict[str, Any] = {"holderName": {"type": "string", "minLength": 1, "examples": ["Asha"]}}
    subject: dict[str, Any] = {"holderName": "{{holderName}}"}
    if certificate_id:
        properties["certificateId"] = {"type": "string", "examples": ["123"]}
        subject["badgeId"] = "{{certificateId}}"
    schema = {"type": "object", "additionalProperties": False, "required": ["holderName"], "properties": properties}
    (folder / "schema.json").write_text(json.dumps(schema))
    template = {
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://example.org/contexts/badge/v1"],
        "type": ["VerifiableCredential", "BadgeCredential"],
        "issuer": "{{$issuer}}",
        "validFrom": "{{$now}}",
        "credentialSubject": subject,
    }
    (folder / "credential-v2.json").write_text(json.dumps(template))
    manifest = {
        "name": "Badge",
        "description": "A badge",
        "schema": "schema.json",
        "templates": {"2.0": "credential-v2.json"},
        "contexts": [
            {
                "url": "https://example.org/contexts/badge/v1",
                "file": "context.jsonld",
                "sha256": hashlib.sha256(context).hexdigest(),
            }
        ],
    }
    (folder / "entity.json").write_text(json.dumps(manifest))
    return parent


@pytest.fixture
def credential(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    out = tmp_path / "cred.json"
    code, _, _ = run(
        capsys, "issue", "HealthProfessional", str(PAYLOAD), "--home", str(tmp_path / "home"), "-o", str(out)
    )
    assert code == 0
    return out


# --- item 4: a wrong --templates folder -----------------------------------------------------------


def test_a_templates_folder_that_is_missing_or_empty_is_an_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], credential: Path
) -> None:
    with pytest.raises(EntityTypeError) as missing:
        load_entity_types(tmp_path / "nope")
    assert str(tmp_path / "nope") in missing.value.message and "entity.json" in missing.value.message
    (tmp_path / "empty").mkdir()
    with pytest.raises(EntityTypeError) as empty:
        load_entity_types(tmp_path / "empty")
    assert "holds no entity type" in empty.value.message
    for folder in ("nope", "empty"):
        given = str(tmp_path / folder)
        for argv in (
            ["entities", "--templates", given],
            ["issue", "HealthProfessional", str(PAYLOAD), "--home", str(tmp_path / "home"), "--templates", given],
            ["verify", str(credential), "--templates", given],
            ["render", str(credential), "-o", str(tmp_path / "c.html"), "--templates", given],
        ):
            code, _, err = run(capsys, *argv)
            assert code == 2, argv
            assert "--templates" in err and given in err and "entity.json" in err and "Traceback" not in err


def test_a_type_defined_twice_names_both_folders_and_one_folder_given_twice_loads_once(tmp_path: Path) -> None:
    first, second = badge_type(tmp_path / "a"), badge_type(tmp_path / "b")
    with pytest.raises(EntityTypeError) as twice:
        load_entity_types(first, second)
    assert str(first / "Badge") in twice.value.message and str(second / "Badge") in twice.value.message
    assert set(load_entity_types(first, first, TEMPLATES)) == {"Badge", *bundled_entity_types()}


def test_templates_takes_several_folders_after_one_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    badge = badge_type(tmp_path / "a", certificate_id=True)
    trainee = custom_type_folder(tmp_path / "b")
    code, out, err = run(capsys, "entities", "--json", "--templates", str(badge), str(trainee))
    assert code == 0, err
    assert {"Badge", "Trainee"} <= set(json.loads(out))
    code, out, err = run(capsys, "entities", "--json", "--templates", str(badge), "--templates", str(trainee))
    assert code == 0 and {"Badge", "Trainee"} <= set(json.loads(out))


# --- item 5: input that is not a credential -------------------------------------------------------


@pytest.fixture
def bad_inputs(tmp_path: Path, credential: Path) -> dict[str, tuple[Path, str]]:
    """Files a newcomer gives verify and qr decode, each with what its message must say."""
    hello = tmp_path / "hello.txt"
    hello.write_text("hello\n")
    svg = tmp_path / "qr.svg"
    assert main(["qr", "encode", str(credential), "-o", str(svg)]) == 0
    url = tmp_path / "url.png"
    segno.make("https://example.com/verify").save(str(url), scale=5)
    blank = tmp_path / "blank.png"
    Image.new("L", (120, 120), 255).save(blank)
    return {
        "text": (hello, "neither JSON nor QR text"),
        "svg": (svg, "give a PNG"),
        "url": (url, "holds a URL (https://example.com/verify)"),
        "blank": (blank, "no QR code"),
    }


@pytest.mark.parametrize("kind", ["text", "svg", "url", "blank"])
def test_verify_and_qr_decode_say_what_the_input_is_and_exit_2(
    kind: str, bad_inputs: dict[str, tuple[Path, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, said = bad_inputs[kind]
    capsys.readouterr()
    commands = [["verify", str(path)]]
    if kind != "text":
        commands.append(["qr", "decode", str(path)])
    for argv in commands:
        code, _, err = run(capsys, *argv)
        assert code == 2, (argv, err)
        assert said in err and str(path) in err and "not JSON text" not in err
    code, out, err = run(capsys, "verify", "--json", str(path))
    assert code == 2
    result = json.loads(out)
    assert result["verified"] is False and result["status"] == "INVALID" and result["exitStatus"] == 2
    assert said in result["problems"][0]["detail"] and result["problems"][0]["reason"].startswith("QR_")


def test_qr_text_that_is_a_url_or_plain_text_says_so() -> None:
    with pytest.raises(qr.QRError) as url:
        qr.decode_text("https://example.com")
    assert url.value.code == "QR_FORMAT_UNSUPPORTED" and "holds a URL (https://example.com)" in url.value.message
    with pytest.raises(qr.QRError) as text:
        qr.decode_text("hello")
    assert "plain text (hello)" in text.value.message


def test_reading_an_svg_says_svg_and_what_to_give(tmp_path: Path, credential: Path) -> None:
    svg = tmp_path / "q.svg"
    qr.make(json.loads(credential.read_text())).save(svg)
    with pytest.raises(qr.QRError) as caught:
        qr.read_image(svg)
    assert caught.value.code == "QR_IMAGE_UNREADABLE" and "SVG" in caught.value.message
    assert "Symbol.save('qr.png')" in caught.value.message


# --- item 14: qr decode -o ------------------------------------------------------------------------


def test_qr_decode_writes_the_credential_indented_and_says_so(
    tmp_path: Path, credential: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "q.png"
    assert main(["qr", "encode", str(credential), "-o", str(image)]) == 0
    out = tmp_path / "back.json"
    code, _, err = run(capsys, "qr", "decode", str(image), "-o", str(out))
    assert code == 0 and f"wrote {out}" in err
    text = out.read_text()
    assert text.startswith('{\n  "') and json.loads(text) == json.loads(credential.read_text())
    code, raw, _ = run(capsys, "qr", "decode", str(image), "--raw")
    assert code == 0 and raw == qr.decode_text(qr.read_image(image)).text + "\n"


# --- item 6: messages ---------------------------------------------------------------------------------


def test_payload_problems_show_json_values_not_python_reprs() -> None:
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "code": {"type": "string", "pattern": "^[0-9]+$"},
            "kind": {"enum": ["a", None, True]},
            "level": {"type": "integer", "minimum": 3},
            "flag": {"const": False},
        },
    }
    problems = validate_payload(
        {"name": "", "code": "x'y", "kind": "b", "level": 1, "flag": True},
        entity="T",
        validator=lambda: schema_validator(schema),
        quick_check=None,
    )
    details = {p.pointer: p.detail for p in problems}
    assert details["/name"].startswith("is an empty string")
    assert details["/code"] == '"x\'y" does not match the pattern "^[0-9]+$"'
    assert details["/kind"] == '"b" is not one of "a", null, true'
    assert details["/level"] == "1 is less than the minimum, 3"
    assert details["/flag"] == "true is not false"
    for detail in details.values():
        assert not re.search(r"\bNone\b|\bTrue\b|\bFalse\b|''|should be non-empty", detail), detail


# --- item 8: certificateId ----------------------------------------------------------------------------


def test_a_type_without_certificate_id_warns_when_it_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    types = badge_type(tmp_path)
    (entity,) = (e for name, e in load_entity_types(types).items() if name == "Badge")
    assert entity.warnings and "never updated" in entity.warnings[0]
    code, out, _ = run(capsys, "entities", "--templates", str(types))
    assert code == 0 and "warning: Badge has no certificateId field" in out
    payload = tmp_path / "badge.json"
    payload.write_text(json.dumps({"holderName": "Asha"}))
    home = str(tmp_path / "home")
    code, _, err = run(capsys, "certify", "Badge", str(payload), "--templates", str(types), "--home", home)
    assert code == 0 and "never updated" in err
    assert not bundled_entity_types()["HealthProfessional"].warnings
    with_id = badge_type(tmp_path / "with-id", certificate_id=True)
    assert not load_entity_types(with_id, bundled=False)["Badge"].warnings


# --- item 13: pipes, writes, batches, one rule for exit codes -----------------------------------------


def test_a_closed_pipe_ends_quietly() -> None:
    process = subprocess.Popen(
        [str(VCCORE), "entities", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before a byte is written, as `| head -c0` would be
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141
    assert "Traceback" not in err and "BrokenPipeError" not in err


@pytest.mark.slow
def test_ctrl_c_stops_a_batch_in_one_line_and_it_goes_on(tmp_path: Path) -> None:
    """Ctrl-C reaches the whole process group, as from a terminal: the command says so in one
    line (130), its workers print nothing, no spool is left, and the same command finishes it."""
    import os
    import signal
    import time

    payload = json.loads(PAYLOAD.read_text())
    lines = 40_000
    with (tmp_path / "in.jsonl").open("w") as stream:
        for i in range(lines):
            stream.write(json.dumps({**payload, "certificateId": f"{i:012d}", "name": f"P {i}"}) + "\n")
    argv = [str(VCCORE), "issue", "HealthProfessional", "--batch", str(tmp_path / "in.jsonl")]
    argv += ["-o", str(tmp_path / "out.jsonl"), "--home", str(tmp_path / "home"), "--workers", "2"]
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    progress = tmp_path / "out.jsonl.progress"
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:  # a checkpoint past the start
        if progress.exists() and json.loads(progress.read_text() or "{}").get("line", 1) > 1:
            break
        time.sleep(0.02)
    assert process.poll() is None, "finished before it could be interrupted"
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err.decode()
    assert (
        err.decode().strip().splitlines()[-1] == "vccore: interrupted: run the same command again to continue a batch"
    )
    assert "Traceback" not in err.decode() and "KeyboardInterrupt" not in err.decode()
    assert not (tmp_path / "out.jsonl.spool").exists()
    done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
    assert done.returncode == 0 and b"continued at line" in done.stderr, done.stderr.decode()
    names = [json.loads(line)["credentialSubject"]["name"] for line in (tmp_path / "out.jsonl").open()]
    assert names == [f"P {i}" for i in range(lines)]


def test_every_command_that_writes_a_file_says_what_it_wrote(
    tmp_path: Path, credential: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    key = home / "key.json"
    unsigned = json.loads(credential.read_text())
    del unsigned["proof"]
    (tmp_path / "unsigned.json").write_text(json.dumps(unsigned))
    writes: list[tuple[list[str], Path]] = [
        (
            ["issue", "HealthProfessional", str(PAYLOAD), "--home", str(home), "-o", str(tmp_path / "i.json")],
            tmp_path / "i.json",
        ),
        (
            ["certify", "HealthProfessional", str(PAYLOAD), "--home", str(home), "-o", str(tmp_path / "c.json")],
            tmp_path / "c.json",
        ),
        (
            ["sign", str(tmp_path / "unsigned.json"), "--key", str(key), "-o", str(tmp_path / "s.json")],
            tmp_path / "s.json",
        ),
        (["qr", "encode", str(credential), "-o", str(tmp_path / "q.png")], tmp_path / "q.png"),
        (["qr", "decode", str(tmp_path / "q.png"), "-o", str(tmp_path / "d.json")], tmp_path / "d.json"),
        (["render", str(credential), "-o", str(tmp_path / "r.html")], tmp_path / "r.html"),
        (["keygen", "--out", str(tmp_path / "k")], tmp_path / "k" / "key.json"),
        (["contexts", "export", str(tmp_path / "ctx")], tmp_path / "ctx"),
    ]
    for argv, written in writes:
        code, _, err = run(capsys, *argv)
        assert code == 0 and written.exists(), (argv, err)
        assert str(written) in err, (argv, err)


def test_an_output_into_a_missing_folder_is_exit_2_naming_it(
    tmp_path: Path, credential: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-folder"
    for argv in (
        ["issue", "HealthProfessional", str(PAYLOAD), "--home", str(tmp_path / "home"), "-o", str(missing / "x.json")],
        ["qr", "encode", str(credential), "-o", str(missing / "x.png")],
        ["qr", "decode", "--text", qr.encode_text(json.loads(credential.read_text())), "-o", str(missing / "x.json")],
        ["render", str(credential), "-o", str(missing / "x.html")],
    ):
        code, _, err = run(capsys, *argv)
        assert code == 2 and str(missing) in err and "Traceback" not in err, (argv, err)


def test_issue_batch_with_rejected_lines_exits_1_and_counts_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = json.loads(PAYLOAD.read_text())
    payload.pop("certificateId", None)
    lines = tmp_path / "in.jsonl"
    lines.write_text(json.dumps(payload) + "\n" + json.dumps({**payload, "name": ""}) + "\nnot json\n")
    out = tmp_path / "out.jsonl"
    code, _, err = run(
        capsys, "issue", "HealthProfessional", "--batch", str(lines), "-o", str(out), "--home", str(tmp_path / "h")
    )
    assert code == 1 and "2 lines rejected" in err and "out.errors.jsonl" in err


# --- what it must show 3: the exit code table of docs/cli.md, held to the command -------------------


def _table() -> dict[str, int]:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    section = text[text.index("## Exit codes") :]
    return {family: int(code) for code, family in re.findall(r"^\| (\d+) \| `([a-z-]+)` \|", section, re.MULTILINE)}


Case = Callable[[Path], tuple[list[str], str]]


def _unsigned_with_undefined_term(tmp: Path) -> Path:
    credential = json.loads((tmp / "cred.json").read_text() if (tmp / "cred.json").exists() else "{}")
    credential.pop("proof", None)
    credential["credentialSubject"]["favouriteColour"] = "green"
    path = tmp / "undefined.json"
    path.write_text(json.dumps(credential))
    return path


def _batch_with_a_bad_line(tmp: Path) -> Path:
    path = tmp / "in.jsonl"
    path.write_text("not json\n")
    return path


def _text_file(tmp: Path) -> Path:
    path = tmp / "hello.txt"
    path.write_text("hello\n")
    return path


def _not_json(tmp: Path) -> Path:
    path = tmp / "broken.json"
    path.write_text("{broken")
    return path


# family -> (the command, given a folder holding cred.json and home/; what its messages must say)
CASES: dict[str, Case] = {
    "done": lambda t: (["verify", str(t / "cred.json"), "--now", NOW], "verified"),
    "not-verified": lambda t: (["verify", str(t / "cred.json"), "--now", "2099-01-01T00:00:00Z"], "EXPIRED"),
    "payload-refused": lambda t: (
        ["issue", "HealthProfessional", str(_not_a_payload(t)), "--home", str(t / "home")],
        "/name",
    ),
    "document-refused": lambda t: (
        ["sign", str(_unsigned_with_undefined_term(t)), "--key", str(t / "home" / "key.json")],
        "define the term",
    ),
    "state-refused": lambda t: (["revoke", "000000000000", "--home", str(t / "home")], "check the id"),
    "batch-rejections": lambda t: (
        [
            "issue",
            "HealthProfessional",
            "--batch",
            str(_batch_with_a_bad_line(t)),
            "-o",
            str(t / "o.jsonl"),
            "--home",
            str(t / "home"),
        ],
        "o.errors.jsonl",
    ),
    "usage": lambda t: (["verify", "--no-such-option"], "usage:"),
    "bad-value": lambda t: (["verify", str(t / "cred.json"), "--now", "yesterday"], "--now"),
    "unknown-entity-type": lambda t: (["issue", "Nope", str(PAYLOAD), "--home", str(t / "home")], "vccore entities"),
    "templates-folder": lambda t: (["entities", "--templates", str(t / "nope")], "--templates"),
    "unreadable-file": lambda t: (
        ["issue", "HealthProfessional", str(_not_json(t)), "--home", str(t / "home")],
        "broken.json",
    ),
    "unreadable-qr": lambda t: (["verify", str(_text_file(t))], "neither JSON nor QR text"),
    "cannot-write": lambda t: (
        ["sign", str(t / "cred.json"), "--key", str(t / "home" / "key.json"), "-o", str(t / "nope" / "s.json")],
        "does not exist",
    ),
    "key-or-store": lambda t: (["revoke", "000000000000", "--home", str(t / "empty-home")], "--home"),
    "pipe-closed": lambda t: ([], ""),  # driven by test_a_closed_pipe_ends_quietly
    "interrupted": lambda t: ([], ""),  # driven by test_ctrl_c_stops_a_batch_in_one_line_and_it_goes_on
}


def _not_a_payload(tmp: Path) -> Path:
    path = tmp / "bad-payload.json"
    payload = json.loads(PAYLOAD.read_text())
    payload["name"] = ""
    path.write_text(json.dumps(payload))
    return path


def test_the_exit_code_table_lists_every_family_once() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| \d+ \| `([a-z-]+)` \|", text[text.index("## Exit codes") :], re.MULTILINE)
    assert len(rows) == len(set(rows))
    assert set(_table()) == set(CASES)


@pytest.mark.parametrize("family", sorted(CASES))
def test_each_family_of_the_exit_code_table_gives_its_exit_and_names_the_fix(
    family: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = _table()[family]
    if family == "pipe-closed":
        assert expected == 141  # the case itself: test_a_closed_pipe_ends_quietly
        return
    if family == "interrupted":
        assert expected == 130  # the case itself: test_ctrl_c_stops_a_batch_in_one_line_and_it_goes_on
        return
    home = tmp_path / "home"
    assert (
        main(["certify", "HealthProfessional", str(PAYLOAD), "--home", str(home), "-o", str(tmp_path / "cred.json")])
        == 0
    )
    capsys.readouterr()
    argv, said = CASES[family](tmp_path)
    if family == "usage":
        with pytest.raises(SystemExit) as stopped:
            main(argv)
        code, captured = stopped.value.code, capsys.readouterr()
        out, err = captured.out, captured.err
    else:
        code, out, err = run(capsys, *argv)
    assert code == expected, (family, argv, out, err)
    assert said in out + err, (family, out, err)
    assert "Traceback" not in err
    if expected == 2 and family != "usage":
        assert err.startswith("vccore: ") and len(err.strip().splitlines()) == 1, err
