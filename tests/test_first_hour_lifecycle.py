"""Issue 18, the lifecycle's part: the placeholder status URL warned of and movable (item 7),
dates for time options (10), fetch without the key and each command's own help (12), a missing
key file that says how to make one and one name for the status URL (15)."""

from __future__ import annotations

import argparse
import json
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from vccore import Ed25519Key, Issuer, KeyFormatError, PlaceholderStatusUrlWarning, load_key, open_store
from vccore.cli import main
from vccore.cli._home import _issuer
from vccore.entities import bundled_entity_types
from vccore.store import LifecycleError, SQLiteStore
from vccore.verify import Verifier

KEY = Ed25519Key.from_seed(bytes(range(32)))
AT = datetime(2024, 1, 1, tzinfo=UTC)
OLD = "https://old.example/status/"
NEW = "https://new.example/lists/"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def payload(tmp_path: Path) -> Path:
    """HealthProfessional's example without its certificateId (each certify makes a new one)."""
    example = dict(bundled_entity_types()["HealthProfessional"].example or {})
    del example["certificateId"]
    path = tmp_path / "payload.json"
    path.write_text(json.dumps(example))
    return path


def certify(capsys: pytest.CaptureFixture[str], home: Path, file: Path, *more: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = run(capsys, "certify", "HealthProfessional", str(file), "--home", str(home), "--json", *more)
    return code, json.loads(out) if code == 0 else {}, err


def status_urls(credential: dict[str, Any]) -> set[str]:
    entries = credential["credentialStatus"]
    return {e["statusListCredential"] for e in (entries if isinstance(entries, list) else [entries])}


# --- item 7: the placeholder status URL --------------------------------------------------------


def test_the_first_certify_warns_of_the_placeholder_status_url_and_says_how_to_choose(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VCCORE_STATUS_URL", raising=False)
    monkeypatch.delenv("VCCORE_STORE", raising=False)
    file = payload(tmp_path)
    code, first, err = certify(capsys, tmp_path / "home", file)
    assert code == 0
    (url,) = {u.rsplit("/", 2)[0] + "/" for u in status_urls(first["credential"])}
    assert url.startswith("https://status.vccore.invalid/")
    warning = err[err.index("vccore: warning:") :]
    for needed in (url, "signed credentialStatus", "--status-url URL", "$VCCORE_STATUS_URL", "vccore status move"):
        assert needed in warning, needed
    assert "warning" not in certify(capsys, tmp_path / "home", file)[2]  # once: when the store picks it
    assert "warning" not in certify(capsys, tmp_path / "chosen", file, "--status-url", OLD)[2]


def test_python_is_warned_of_the_placeholder_in_its_own_words(tmp_path: Path) -> None:
    with pytest.warns(PlaceholderStatusUrlWarning, match=r"status_url=") as caught:
        store = open_store(tmp_path / "s.db")
    assert store.status_url in str(caught[0].message) and store.picked_status_url
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not open_store(tmp_path / "s.db").picked_status_url  # opened again: no warning
        assert not open_store(tmp_path / "t.db", status_url=OLD).picked_status_url


def _serve_args(home: Path) -> argparse.Namespace:
    return argparse.Namespace(home=home, key=None, store=None, status_url=None, templates=[], vc=None, suite=None)


def test_serve_warns_of_a_placeholder_the_store_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What serve does at start (_issuer with warn_placeholder): held or picked, it is said."""
    monkeypatch.delenv("VCCORE_STATUS_URL", raising=False)
    monkeypatch.delenv("VCCORE_STORE", raising=False)
    _issuer(_serve_args(tmp_path / "home"), make_key=True, warn_placeholder=True)
    assert "placeholder" in capsys.readouterr().err
    issuer = _issuer(_serve_args(tmp_path / "home"), make_key=True, warn_placeholder=True)
    err = capsys.readouterr().err
    assert issuer.store.status_url in err and "vccore status move URL" in err
    _issuer(_serve_args(tmp_path / "home"), make_key=True)  # certify: only when the store picks it
    assert capsys.readouterr().err == ""


def test_moving_the_status_url_keeps_every_list_published(store_location: str, tmp_path: Path) -> None:
    """After a move, new credentials name the new URL; the lists are published under both, so
    what was issued before still verifies with its status; nothing stored is lost (SQLite and
    PostgreSQL)."""
    example = dict(bundled_entity_types()["HealthProfessional"].example or {})
    issuer = Issuer(signer=KEY, store=open_store(store_location, status_url=OLD))
    before = issuer.certify("HealthProfessional", example, now=AT)
    issuer.store.move_status_url(NEW)
    after = issuer.certify("HealthProfessional", {**example, "certificateId": "2"}, now=AT)
    assert all(u.startswith(OLD) for u in status_urls(before.credential))
    assert all(u.startswith(NEW) for u in status_urls(after.credential))
    issuer.revoke(before.certificate_id, now=AT)
    issuer.export_status(tmp_path / "lists", now=AT)
    index = json.loads((tmp_path / "lists" / "index.json").read_text())
    assert status_urls(before.credential) | status_urls(after.credential) <= set(index)
    verifier = Verifier.create(trusted_issuers=[issuer_id(KEY)], status=tmp_path / "lists")
    assert verifier.verify(before.credential, now=AT).status == "REVOKED"
    assert verifier.verify(after.credential, now=AT).status == "VALID"

    again = open_store(store_location)  # the move is stored
    assert again.status_url == NEW and again.earlier_status_urls == (OLD,)
    assert open_store(store_location, status_url=NEW).count() == 2
    with pytest.raises(LifecycleError, match=r"move_status_url"):
        open_store(store_location, status_url=OLD)
    again.move_status_url(OLD)  # and back: both still published
    assert again.status_url == OLD and open_store(store_location).earlier_status_urls == (NEW,)


def issuer_id(key: Ed25519Key) -> str:
    return key.controller


def test_the_cli_refuses_another_status_url_saying_how_to_move_and_moves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VCCORE_STATUS_URL", raising=False)
    monkeypatch.delenv("VCCORE_STORE", raising=False)
    home, file = tmp_path / "home", payload(tmp_path)
    code, first, _ = certify(capsys, home, file)
    code, _, err = certify(capsys, home, file, "--status-url", NEW)
    assert code == 2 and f"vccore status move {NEW}" in err and "vccore update" in err and "Traceback" not in err
    code, out, err = run(capsys, "status", "move", "new.example/lists", "--home", str(home))
    assert code == 2 and "https://" in err
    code, out, _ = run(capsys, "status", "move", NEW, "--home", str(home))
    assert code == 0 and NEW in out and "vccore update" in out
    code, second, _ = certify(capsys, home, file, "--status-url", NEW)
    assert code == 0 and all(u.startswith(NEW) for u in status_urls(second["credential"]))
    code, updated, _ = run(
        capsys,
        "update",
        "HealthProfessional",
        str(_with_id(file, first["certificateId"])),
        "--home",
        str(home),
        "--json",
    )
    assert code == 0 and all(u.startswith(NEW) for u in status_urls(json.loads(updated)["credential"]))
    assert run(capsys, "status", "export", str(tmp_path / "lists"), "--home", str(home))[0] == 0
    index = json.loads((tmp_path / "lists" / "index.json").read_text())
    assert status_urls(first["credential"]) <= set(index)  # the old lists, each in its own file
    assert len(set(index.values())) == len(index) == 8  # 4 lists (with the state list) under each URL


def _with_id(file: Path, certificate_id: str) -> Path:
    out = file.with_name("update.json")
    out.write_text(json.dumps({**json.loads(file.read_text()), "certificateId": certificate_id}))
    return out


# --- item 10: a date for a time option ---------------------------------------------------------


def test_suspend_takes_a_date_for_until_and_now(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    code, made, _ = certify(capsys, home, payload(tmp_path), "--status-url", OLD)
    cid = made["certificateId"]
    code, out, err = run(capsys, "suspend", cid, "--until", "2027-01-01", "--now", "2026-05-01", "--home", str(home))
    assert code == 0, err
    record = json.loads(out)
    assert record["suspendedUntil"] == "2027-01-01T00:00:00Z" and record["updatedAt"] == "2026-05-01T00:00:00Z"
    code, _, err = run(capsys, "suspend", cid, "--until", "2027-02-30", "--home", str(home))
    assert code == 2 and "--until" in err and "2027-02-30" in err
    code, out, _ = run(capsys, "revoke", cid, "--now", "2026-06-01", "--home", str(home))
    assert code == 0 and json.loads(out)["updatedAt"] == "2026-06-01T00:00:00Z"
    assert run(capsys, "status", "export", str(tmp_path / "s"), "--now", "2026-06-02", "--home", str(home))[0] == 0
    listed = json.loads((tmp_path / "s" / "0-revocation.json").read_text())
    assert listed["validFrom"] == "2026-06-02T00:00:00Z"


# --- item 12: fetch reads; each command's own help ---------------------------------------------


def test_fetch_reads_the_store_without_the_issuers_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    code, made, _ = certify(capsys, home, payload(tmp_path), "--status-url", OLD)
    (home / "key.json").unlink()
    code, out, err = run(capsys, "fetch", made["certificateId"], "--home", str(home))
    assert code == 0, err
    assert json.loads(out)["certificateId"] == made["certificateId"]
    code, _, err = run(capsys, "fetch", "1", "--home", str(tmp_path / "typo"))
    assert code == 2 and "no store" in err and not (tmp_path / "typo").exists()


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_each_command_has_its_own_true_help_for_key_and_now(capsys: pytest.CaptureFixture[str]) -> None:
    fetch = _help(capsys, "fetch")
    assert "--key" not in fetch and "--now" not in fetch and "key is not needed" in fetch
    for command in (["revoke"], ["suspend"], ["unsuspend"], ["status", "export"], ["status", "move"]):
        text = _help(capsys, *command)
        assert "made on first use" not in text and "made there on first use" not in text, command
    assert "--now" not in _help(capsys, "serve")  # the server takes each request's own time
    assert "when the lists are signed" in _help(capsys, "status", "export")
    assert "or a date" in _help(capsys, "suspend")


# --- item 15: a missing key file, one name for the status URL ----------------------------------


def test_load_key_of_a_missing_file_says_how_to_make_one(tmp_path: Path) -> None:
    path = tmp_path / ".vccore" / "key.json"
    with pytest.raises(KeyFormatError) as caught:
        load_key(path)
    message = caught.value.message
    assert str(path) in message and "Ed25519Key.generate().write(" in message and "vccore keygen --out" in message
    Ed25519Key.generate().write(path)  # what it says works in a fresh folder
    assert load_key(path).controller.startswith("did:key:")


def test_the_cli_names_a_missing_key_file_and_how_to_make_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "certify", "HealthProfessional", str(payload(tmp_path)), "--key", str(tmp_path / "k.json")
    )
    assert code == 2 and "--key" in err and "vccore keygen --out" in err and "Traceback" not in err


def test_status_url_is_the_python_name_and_status_base_url_still_works(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert open_store(tmp_path / "a.db", status_url=OLD).status_url == OLD
        assert SQLiteStore(tmp_path / "b.db", status_url=NEW).status_url == NEW
    with pytest.deprecated_call(match="status_url"):
        old_name = open_store(tmp_path / "c.db", status_base_url=OLD)
    assert old_name.status_url == old_name.status_base_url == OLD
    with pytest.deprecated_call(), pytest.raises(TypeError, match="not both"):
        SQLiteStore(tmp_path / "d.db", status_url=OLD, status_base_url=NEW)
