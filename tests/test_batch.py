"""Batches: Issuer.certify_batch, `vccore issue --batch` (resumable after a kill) and
`vccore verify --batch`."""

from __future__ import annotations

import functools
import gc
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import raw_rows

from vccore import Ed25519Key, Verifier, bundled_entity_types
from vccore.batch import MAX_LINE_BYTES
from vccore.cli import main
from vccore.issuer import Certified, Issuer
from vccore.payloads import PayloadError
from vccore.store import LifecycleError, SQLiteStore, look_up, open_store

ENTITY = bundled_entity_types()["HealthProfessional"]
NOW = "2024-01-01T00:00:00Z"
AT = datetime(2024, 1, 1, tzinfo=UTC)


def payload(i: int) -> dict[str, Any]:
    assert ENTITY.example is not None
    return {**ENTITY.example, "name": f"Dr. Batch {i}", "certificateId": f"{i:012d}"}


def write_input(path: Path, count: int) -> tuple[list[int], dict[int, str]]:
    """``count`` lines, some bad: (the good lines' numbers, {bad line number: the code expected})."""
    good: list[int] = []
    bad: dict[int, str] = {}
    with path.open("w", encoding="utf-8") as stream:
        for line in range(1, count + 1):
            if line % 53 == 0:
                stream.write('{"name": 3}\n')
                bad[line] = "INVALID_PAYLOAD"
            elif line % 89 == 0:
                stream.write("{not json\n")
                bad[line] = "INVALID_LINE"
            elif line % 97 == 0:
                stream.write("\n")  # blank: skipped, but counted
            else:
                stream.write(json.dumps(payload(line), ensure_ascii=False) + "\n")
                good.append(line)
    return good, bad


@pytest.fixture
def issuer(store_location: str) -> Issuer:
    """An issuer on a new store: every test that takes it runs on SQLite and on PostgreSQL."""
    return Issuer(signer=Ed25519Key.from_seed(bytes(32)), store=open_store(store_location))


# --- the library -----------------------------------------------------------------------------------


def test_certify_batch_issues_each_payload_or_says_why_not(issuer: Issuer) -> None:
    payloads: list[Any] = [payload(i) for i in range(6)]
    payloads[1] = {"name": 3}
    payloads[3] = dict(payloads[2])  # the same certificateId twice in one batch
    payloads[4] = "not an object"
    results = issuer.certify_batch(ENTITY, payloads, now=AT)
    assert [type(r).__name__ for r in results] == [
        "Certified",
        "PayloadError",
        "Certified",
        "LifecycleError",
        "PayloadError",
        "Certified",
    ]
    assert isinstance(results[3], LifecycleError) and results[3].code == "DUPLICATE_CERTIFICATE_ID"
    assert issuer.store.count() == 3
    verifier = Verifier.create()
    for result in results:
        if isinstance(result, Certified):
            assert verifier.verify(result.credential, now=AT).verified
            stored = issuer.store.get(result.certificate_id)
            assert stored is not None and stored.credential == result.credential
    # against the store: a certificateId issued before is refused, as certify refuses it
    again = issuer.certify_batch(ENTITY, [payload(0)], now=AT)
    assert isinstance(again[0], LifecycleError) and again[0].code == "DUPLICATE_CERTIFICATE_ID"


def test_certify_batch_reserves_the_next_calls_positions_in_its_own_commit(
    issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch's chunks after the first take their status positions from what the chunk before
    reserved in its commit: one transaction per chunk, not a second one to reserve positions
    (in SQLite, each a commit and an fsync); and never a position twice."""
    transactions = 0
    begin = issuer.store.transaction

    def counted() -> Any:
        nonlocal transactions
        transactions += 1
        return begin()

    monkeypatch.setattr(issuer.store, "transaction", counted)
    made: list[Certified] = []
    counts = []
    for chunk in range(6):
        before = transactions
        results = issuer.certify_batch(ENTITY, [payload(300 * chunk + i) for i in range(300)], now=AT)
        made.extend(r for r in results if isinstance(r, Certified))
        counts.append(transactions - before)
    assert counts[1:] == [1] * 5, counts
    assert len(made) == 1800
    positions = [
        (
            c.credential["credentialStatus"][0]["statusListCredential"],
            c.credential["credentialStatus"][0]["statusListIndex"],
        )
        for c in made
    ]
    assert len(set(positions)) == 1800


def test_certify_batch_generates_certificate_ids_as_certify_does(issuer: Issuer) -> None:
    """A payload without a certificateId gets 12 random digits, in the credential and the record
    (the schema requires one: it is checked with the id it will have)."""
    bare = {k: v for k, v in payload(0).items() if k != "certificateId"}
    results = issuer.certify_batch(ENTITY, [bare, bare, {**bare, "name": 3}], now=AT)
    made = [r for r in results if isinstance(r, Certified)]
    assert len(made) == 2 and isinstance(results[2], PayloadError)
    for result in made:
        assert len(result.certificate_id) == 12 and result.certificate_id.isdigit()
        assert result.credential["evidence"]["certificateId"] == result.certificate_id
    assert made[0].certificate_id != made[1].certificate_id and issuer.store.count() == 2


def test_certify_batch_keys_give_back_what_they_made(issuer: Issuer) -> None:
    payloads = [payload(i) for i in range(5)]
    keys = [f"run-1:{i}" for i in range(5)]
    first = issuer.certify_batch(ENTITY, payloads, keys=keys, now=AT)
    second = issuer.certify_batch(ENTITY, payloads, keys=keys, now=AT)
    assert all(isinstance(r, Certified) for r in first + second)
    assert [r.credential for r in first if isinstance(r, Certified)] == [
        r.credential for r in second if isinstance(r, Certified)
    ]
    assert issuer.store.count() == 5
    # a key that made a certificate is taken, whatever payload comes with it next time
    third = issuer.certify_batch(ENTITY, [payload(9)], keys=keys[:1], now=AT)
    assert isinstance(third[0], Certified) and third[0].certificate_id == f"{0:012d}"
    with pytest.raises(ValueError, match="2 keys for 1 payloads"):
        issuer.certify_batch(ENTITY, [payload(1)], keys=["a", "b"])


def test_certify_batch_told_what_the_store_holds_still_gives_back_what_keys_made(
    issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``known`` (the server's group commit: the keys and ids it looked up in one round trip)
    is not asked again. What it missed is still caught: a key recorded since, by the insert
    (another payload, k0: its certificate back); the same payload sent twice, k1, whose id is
    taken: looked up by its key, given back (not a duplicate, which the server would turn into
    an update); an id it did not know taken, refused by the insert. A new key is certified."""
    made = issuer.certify_batch(ENTITY, [payload(0), payload(1)], keys=["k0", "k1"], now=AT)
    asked: list[tuple[str, list[str]]] = []
    real_keys, real_ids = issuer.store.get_by_keys, issuer.store.certificate_ids_taken
    monkeypatch.setattr(issuer.store, "get_by_keys", lambda keys: asked.append(("keys", list(keys))) or real_keys(keys))
    monkeypatch.setattr(
        issuer.store, "certificate_ids_taken", lambda ids: asked.append(("ids", list(ids))) or real_ids(ids)
    )
    again = issuer.certify_batch(
        ENTITY, [payload(7), payload(1), payload(2)], keys=["k0", "k1", "k2"], now=AT, known=({}, {f"{1:012d}"})
    )
    assert asked == [("keys", ["k1"])]
    assert [getattr(r, "replayed", None) for r in again] == [True, True, False]
    assert [r.certificate_id for r in again if isinstance(r, Certified)] == [
        *(r.certificate_id for r in made if isinstance(r, Certified)),
        f"{2:012d}",
    ]
    assert issuer.store.count() == 3
    assert issuer.store.get(f"{7:012d}") is None  # the stale key's payload was signed, then left out
    stale = issuer.certify_batch(ENTITY, [payload(2)], now=AT, known=({}, set()))
    assert isinstance(stale[0], LifecycleError) and stale[0].code == "DUPLICATE_CERTIFICATE_ID"
    assert issuer.store.count() == 3


def test_the_stores_batch_queries_agree_with_its_single_ones(issuer: Issuer) -> None:
    """Many ids and keys in a few statements (SQLite: parts of 500; PostgreSQL: one array): the
    same answers as one question at a time, and an unused key or id is simply not found."""
    count = 1203
    results = issuer.certify_batch(
        ENTITY, [payload(i) for i in range(count)], keys=[f"k{i}" for i in range(count)], now=AT
    )
    made = [r for r in results if isinstance(r, Certified)]
    assert len(made) == count and made[0].credential_json() == json.dumps(
        made[0].credential, ensure_ascii=False, separators=(",", ":")
    )
    ids = [f"{i:012d}" for i in range(0, count + 300, 7)]
    keys = [f"k{i}" for i in range(0, count + 300, 5)]
    with issuer.store.transaction() as tx:
        assert (
            tx.certificate_ids_taken(ids)
            == {i for i in ids if tx.certificate_id_taken(i)}
            == {f"{i:012d}" for i in range(0, count, 7)}
        )
        found = tx.certificates_for_keys(keys)
        assert found == {k: tx.certificate_for_key(k) for k in keys if tx.certificate_for_key(k) is not None}
        assert len(found) == len(range(0, count, 5)) and found["k5"] == f"{5:012d}"
    # both at once (PostgreSQL: one round trip), as each alone; either list empty
    by_keys, taken = look_up(issuer.store, keys, ids)
    assert by_keys == issuer.store.get_by_keys(keys) and taken == issuer.store.certificate_ids_taken(ids)
    assert {k: r.certificate_id for k, r in by_keys.items()} == found
    assert look_up(issuer.store, [], ids) == ({}, taken) and look_up(issuer.store, keys, []) == (by_keys, set())


def test_errors_cross_processes_whole() -> None:
    error = PayloadError("HealthProfessional", [])
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is PayloadError and copy.code == "INVALID_PAYLOAD" and copy.to_dict() == error.to_dict()
    lifecycle = pickle.loads(pickle.dumps(LifecycleError("gone", code="UNKNOWN_CERTIFICATE", certificate_id="1")))
    assert lifecycle.code == "UNKNOWN_CERTIFICATE" and lifecycle.details == {"certificate_id": "1"}


# --- vccore issue --batch ----------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def check_batch_result(
    folder: Path, good: list[int], bad: dict[int, str], location: str | None = None
) -> list[dict[str, Any]]:
    """The output holds exactly one credential per good line, in order, each the one the store
    (by default the home folder's) holds; the errors file exactly the bad lines; the store
    nothing else."""
    credentials = [json.loads(line) for line in (folder / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [c["credentialSubject"]["name"] for c in credentials] == [f"Dr. Batch {n}" for n in good]
    errors = [json.loads(line) for line in (folder / "out.errors.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {e["line"]: e["code"] for e in errors} == bad and [e["line"] for e in errors] == sorted(bad)
    store = open_store(location or folder / "home" / "vccore.db", read_only=True)
    assert store.count() == len(good)
    for number, credential in zip(good, credentials, strict=True):
        record = store.get(f"{number:012d}")
        assert record is not None and record.credential == credential
    return credentials


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_issue_batch_with_two_workers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, start_method: str
) -> None:
    """Both ways of starting workers (the command line forks on Linux when it can)."""
    import vccore.cli._common

    monkeypatch.setattr(vccore.cli._common, "_start_method", lambda: start_method)
    collector = (gc.get_threshold(), gc.get_freeze_count())
    good, bad = write_input(tmp_path / "in.jsonl", 700)
    (tmp_path / "out.jsonl.spool").mkdir()  # what a killed run left: removed, never read
    (tmp_path / "out.jsonl.spool" / "0123456789ab-1.jsonl").write_text('{"not": "a credential"}\n')
    argv = [
        "issue",
        "HealthProfessional",
        "--batch",
        str(tmp_path / "in.jsonl"),
        "-o",
        str(tmp_path / "out.jsonl"),
        "--home",
        str(tmp_path / "home"),
        "--workers",
        "2",
        "--now",
        NOW,
    ]
    code, out, err = run(capsys, *argv)
    assert code == 1, err  # lines were rejected (issue 18, item 13)
    assert f"{len(good):,} credentials" in err and f"{len(bad)} lines rejected" in err and out == ""
    assert not (tmp_path / "out.jsonl.spool").exists()
    credentials = check_batch_result(tmp_path, good, bad)
    # every one verifies, through `vccore verify --batch`
    (tmp_path / "results.jsonl").unlink(missing_ok=True)
    code, _, err = run(
        capsys,
        "verify",
        "--batch",
        str(tmp_path / "out.jsonl"),
        "--now",
        "2024-06-01T00:00:00Z",
        "--workers",
        "2",
        "-o",
        str(tmp_path / "results.jsonl"),
    )
    results = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert code == 0 and [r["line"] for r in results] == list(range(1, len(credentials) + 1))
    assert all(r["verified"] for r in results) and f"{len(credentials):,} verified, 0 not verified" in err
    # a finished batch run again changes nothing
    before = (tmp_path / "out.jsonl").read_bytes()
    code, _, err = run(capsys, *argv)
    assert code == 1 and (tmp_path / "out.jsonl").read_bytes() == before  # its rejected lines still are
    assert f"holds {len(good):,} credentials in" in err and "(complete already: nothing issued)" in err, err
    # the commands settle the collector for their batches, and put it back as it was
    assert (gc.get_threshold(), gc.get_freeze_count()) == collector


@pytest.mark.parametrize("kernel_copy", [True, False])
def test_a_workers_chunks_reach_the_output_through_spool_files_whole_and_in_order(
    tmp_path: Path, issuer: Issuer, monkeypatch: pytest.MonkeyPatch, kernel_copy: bool
) -> None:
    """With several workers, a chunk's credential lines go to a spool file, not through the
    pool's pipe, and the command's process copies them into the output (in the kernel where it
    can, else by reading and writing)."""
    from vccore.batch import BatchError, _issue_chunk, _Spool, _Spooled, issue_batch

    if not kernel_copy:
        monkeypatch.delattr(os, "copy_file_range", raising=False)
    spool = _Spool(tmp_path / "out.jsonl")
    lines = [(n, json.dumps(payload(n)).encode()) for n in range(1, 4)]
    spooled, rejected, issued, _ = _issue_chunk(("b", "HealthProfessional", NOW, lines, spool.next_file()), issuer)
    assert isinstance(spooled, _Spooled) and issued == 3 and rejected == b""
    written = Path(spooled.path).read_bytes()
    assert [json.loads(line)["credentialSubject"]["name"] for line in written.splitlines()] == [
        payload(n)["name"] for n in range(1, 4)
    ]
    texts = [written, os.urandom(70_000), b"x", os.urandom(1_300_000)]
    with open(tmp_path / "out.jsonl", "w+b") as out:
        out.write(b"before\n")
        _Spool.append(out, spooled)
        for text in texts[1:]:
            _Spool.append(out, _Spool.put(spool.next_file(), text))
        _Spool.append(out, _Spool.put(None, b"as is\n"))  # (one worker: its bytes, as they came)
        out.write(b"after\n")  # the file object writes on where the copies end
        assert out.tell() == len(b"before\n" + b"".join(texts) + b"as is\nafter\n")
    assert (tmp_path / "out.jsonl").read_bytes() == b"before\n" + b"".join(texts) + b"as is\nafter\n"
    assert list(spool.folder.iterdir()) == []  # each file deleted once copied
    assert _Spool.put(spool.next_file(), b"") == b""  # nothing issued: no file
    short = _Spool.put(spool.next_file(), b"0123456789")
    assert isinstance(short, _Spooled)
    Path(short.path).write_bytes(b"01234")
    with open(tmp_path / "other.jsonl", "w+b") as out, pytest.raises(BatchError, match="cut short"):
        _Spool.append(out, short)
    spool.close()
    assert not spool.folder.exists()
    (tmp_path / "next.jsonl.spool").write_text("a file of the user's")  # not a folder: not removed
    with pytest.raises(BatchError, match="in the way"):
        _Spool(tmp_path / "next.jsonl")
    (tmp_path / "in.jsonl").write_text(json.dumps(payload(1)) + "\n")
    before = sorted(tmp_path.iterdir())
    with pytest.raises(BatchError, match="in the way"):  # refused before the batch writes anything
        issue_batch(lambda: issuer, "HealthProfessional", tmp_path / "in.jsonl", tmp_path / "next.jsonl", workers=2)
    assert sorted(tmp_path.iterdir()) == before
    assert (tmp_path / "next.jsonl.spool").read_text() == "a file of the user's"


def test_batch_start_methods_are_checked_before_anything_is_written(tmp_path: Path) -> None:
    """An unknown start method, or "fork" asked for while another thread runs (a lock it holds
    would stay held forever in the copy), is refused before any file is made."""
    import threading

    from vccore.batch import BatchError, issue_batch, verify_batch

    write_input(tmp_path / "in.jsonl", 3)
    with pytest.raises(BatchError, match="'forkserver' is not one of"):
        issue_batch(
            Issuer,
            "HealthProfessional",
            tmp_path / "in.jsonl",
            tmp_path / "out.jsonl",
            workers=2,
            start_method="forkserver",
        )
    with open(os.devnull, "wb") as sink, pytest.raises(BatchError, match="'threads' is not one of"):
        verify_batch(Verifier.create, tmp_path / "in.jsonl", sink, start_method="threads")
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        with pytest.raises(BatchError, match="no other thread"):
            issue_batch(
                Issuer,
                "HealthProfessional",
                tmp_path / "in.jsonl",
                tmp_path / "out.jsonl",
                workers=2,
                start_method="fork",
            )
    finally:
        stop.set()
        other.join()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_a_forked_batch_handed_an_open_store_opens_its_own_connections(tmp_path: Path, issuer: Issuer) -> None:
    """The workers' factory may hand back the caller's own issuer, its store open and in use:
    forked workers leave the inherited connection alone (SQLite forbids using or closing one
    across a fork) and open their own; the caller's store goes on working, and stays whole."""
    from vccore.batch import issue_batch

    issuer.certify("HealthProfessional", payload(900001), now=AT)  # the connection is open now
    good, bad = write_input(tmp_path / "in.jsonl", 1200)
    report = issue_batch(
        lambda: issuer,
        "HealthProfessional",
        tmp_path / "in.jsonl",
        tmp_path / "out.jsonl",
        workers=2,
        now=AT,
        start_method="fork",
    )
    assert (report.done, report.rejected) == (len(good), len(bad))
    issuer.certify("HealthProfessional", payload(900002), now=AT)  # and still works here
    assert issuer.store.count() == len(good) + 2
    names = [
        json.loads(line)["credentialSubject"]["name"] for line in (tmp_path / "out.jsonl").read_text().splitlines()
    ]
    assert names == [f"Dr. Batch {n}" for n in good]
    if isinstance(issuer.store, SQLiteStore):
        assert raw_rows(str(issuer.store.path), "PRAGMA integrity_check") == [("ok",)]


def test_issue_batch_refuses_to_clobber_or_to_mix_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_input(tmp_path / "in.jsonl", 30)
    (tmp_path / "out.jsonl").write_text("someone's data\n")
    argv = [
        "issue",
        "HealthProfessional",
        "--batch",
        str(tmp_path / "in.jsonl"),
        "-o",
        str(tmp_path / "out.jsonl"),
        "--home",
        str(tmp_path / "home"),
    ]
    code, _, err = run(capsys, *argv)
    assert code == 2 and "exists and is not empty" in err
    assert (tmp_path / "out.jsonl").read_text() == "someone's data\n"
    (tmp_path / "out.jsonl").unlink()
    assert run(capsys, *argv)[0] == 0
    # the input changed under a batch that was (as if) interrupted: refused, nothing touched
    state_file = tmp_path / "out.jsonl.progress"
    state = json.loads(state_file.read_text())
    state_file.write_text(json.dumps({**state, "complete": False}))
    write_input(tmp_path / "in.jsonl", 31)
    (tmp_path / "in.jsonl").write_text((tmp_path / "in.jsonl").read_text().replace('Dr. Batch 1"', 'Dr. Batch X"'))
    before = (tmp_path / "out.jsonl").read_bytes()
    code, _, err = run(capsys, *argv)
    assert code == 2 and "is not the input the batch was started on" in err
    assert (tmp_path / "out.jsonl").read_bytes() == before
    # usage
    assert run(capsys, "issue", "HealthProfessional", "--batch", str(tmp_path / "in.jsonl"))[0] == 2
    code, _, err = run(
        capsys, "issue", "Nobody", "--batch", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "x.jsonl")
    )
    assert code == 2 and 'unknown entity type "Nobody"' in err
    code, _, err = run(capsys, *argv[:-2], "-o", str(tmp_path / "y.jsonl"), "--workers", "0")
    assert code == 2 and "--workers takes 1 to 256" in err


def test_issue_batch_refuses_an_overlong_line_without_reading_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        json.dumps(payload(1)),
        json.dumps({**payload(2), "name": "x" * (MAX_LINE_BYTES + 10)}),
        json.dumps(payload(3)),
    ]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    code, _, err = run(
        capsys,
        "issue",
        "HealthProfessional",
        "--batch",
        str(tmp_path / "in.jsonl"),
        "-o",
        str(tmp_path / "out.jsonl"),
        "--home",
        str(tmp_path / "home"),
        "--now",
        NOW,
    )
    assert code == 1, err
    check_batch_result(tmp_path, [1, 3], {2: "INVALID_LINE"})
    assert "longer than 1048576 bytes" in (tmp_path / "out.errors.jsonl").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_issue_batch_killed_and_run_again_gives_exactly_the_expected_credentials(
    tmp_path: Path, store_location: str, seed: int
) -> None:
    """Killed (SIGKILL) at random moments, with its workers or (seed 3) the parent alone, then
    run again until it finishes: every good line's credential exactly once, in order, and no
    status position given twice."""
    lines = 40000  # enough for two kills midway at ten thousand credentials a second (12,000 were not, 2026-12-01)
    good, bad = write_input(tmp_path / "in.jsonl", lines)
    argv = [
        sys.executable,
        "-m",
        "vccore",
        "issue",
        "HealthProfessional",
        "--batch",
        str(tmp_path / "in.jsonl"),
        "-o",
        str(tmp_path / "out.jsonl"),
        "--home",
        str(tmp_path / "home"),
        "--store",
        store_location,
        "--workers",
        "2",
        "--now",
        NOW,
    ]
    chance = random.Random(seed)
    progress = tmp_path / "out.jsonl.progress"

    def line_reached() -> int:
        try:
            return int(json.loads(progress.read_text())["line"])
        except (OSError, ValueError, KeyError):
            return 0

    kills = midway = 0
    for attempt in range(12):
        reached = line_reached()
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
        if attempt < 4:
            # wait for a checkpoint beyond the last one, then kill at a random moment after it
            deadline = time.monotonic() + 120
            while process.poll() is None and line_reached() <= reached and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(chance.uniform(0.0, 0.3))
            if process.poll() is None:
                if seed == 3:
                    os.kill(process.pid, signal.SIGKILL)  # the parent only: its workers must not go on alone
                else:
                    os.killpg(process.pid, signal.SIGKILL)
                kills += 1
                midway += 1 < line_reached() <= lines
        _, err = process.communicate(timeout=300)
        finished = 1 if bad else 0  # a batch with rejected lines exits 1 (issue 18, item 13)
        if process.returncode == finished:
            break
        assert process.returncode == -signal.SIGKILL, err.decode()
    assert process.returncode == finished and kills >= 2 and midway >= 2, (kills, midway)
    check_batch_result(tmp_path, good, bad, store_location)
    positions = raw_rows(store_location, "SELECT status_list, status_index FROM certificates")
    assert len(set(positions)) == len(positions) == len(good)


# --- vccore verify --batch ---------------------------------------------------------------------------


def test_verify_batch_reports_each_line(tmp_path: Path, issuer: Issuer, capsys: pytest.CaptureFixture[str]) -> None:
    made = [r for r in issuer.certify_batch(ENTITY, [payload(i) for i in range(4)], now=AT) if isinstance(r, Certified)]
    tampered = json.loads(json.dumps(made[1].credential))
    tampered["credentialSubject"]["name"] = "Mallory"
    lines = [
        json.dumps(made[0].credential),
        json.dumps(tampered),
        "[1, 2",
        "",
        '"a string"',
        json.dumps(made[2].credential),
    ]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    code, out, err = run(capsys, "verify", "--batch", str(tmp_path / "in.jsonl"), "--now", "2024-06-01T00:00:00Z")
    results = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and "2 verified, 3 not verified" in err
    assert [(r["line"], r["verified"]) for r in results] == [(1, True), (2, False), (3, False), (5, False), (6, True)]
    assert results[1]["problems"][0]["code"] == "PROOF_VERIFICATION_ERROR"
    assert results[2]["problems"][0]["code"] == results[3]["problems"][0]["code"] == "PARSING_ERROR"


def test_a_pretty_printed_document_is_not_taken_for_json_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A person's first try: --batch given one credential (or payload) written over several lines.
    Each line would be rejected as not JSON; the command says what the file is instead, and
    writes nothing: no output, and no key or store in a home folder it would have made."""
    document = tmp_path / "one.json"
    document.write_text(json.dumps(payload(1), indent=2))
    output = tmp_path / "out.jsonl"
    home = str(tmp_path / "home")
    for argv in (
        ("issue", "HealthProfessional", "--batch", str(document), "-o", str(output), "--home", home),
        ("verify", "--batch", str(document), "-o", str(output)),
    ):
        code, _, err = run(capsys, *argv)
        assert code == 2, err
        assert "holds one JSON document over several lines" in err and "without --batch" in err
        assert not output.exists() and not Path(home).exists()
    # one document on one line is JSON Lines all the same
    document.write_text(json.dumps(payload(1)) + "\n")
    code, _, err = run(
        capsys, "issue", "HealthProfessional", "--batch", str(document), "-o", str(output), "--home", home
    )
    assert code == 0, err


def test_a_batch_forks_in_a_process_whose_server_app_has_gone_idle(tmp_path: Path) -> None:
    """A server app made in this process keeps a thread for its group commit and one for its
    readiness probe, each ending only after 10 s without work: a batch forking its workers
    meanwhile was refused ("needs a process with no other thread running"; a test of the app
    run just before a forking one made that one fail). Idle, they are asked to end at once."""
    pytest.importorskip("starlette")
    import threading

    from starlette.testclient import TestClient

    from vccore.batch import issue_batch
    from vccore.http import create_app
    from vccore.http.auth import StaticTokenAuthorizer

    token = "static-token-for-tests-0123456789"
    server_issuer = _batch_issuer(tmp_path / "server.db")
    client = TestClient(create_app(server_issuer, authorizer=StaticTokenAuthorizer(token)))
    example = bundled_entity_types()["HealthProfessional"].example
    answer = client.post(
        "/vc-certification/v1/certify/HealthProfessional",
        json={**example, "certificateId": "900000000001"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    assert client.get("/ready").status_code == 200
    assert {t.name for t in threading.enumerate()} >= {"vccore-group-commit", "vccore-ready"}
    server_issuer.store.close()
    good, bad = write_input(tmp_path / "in.jsonl", 600)
    report = issue_batch(
        functools.partial(_batch_issuer, tmp_path / "batch.db"),
        "HealthProfessional",
        tmp_path / "in.jsonl",
        tmp_path / "out.jsonl",
        workers=2,
        start_method="fork",
        now=AT,
    )
    assert report.done == len(good) and report.rejected == len(bad)


def _batch_issuer(path: Path) -> Issuer:
    return Issuer(
        signer=Ed25519Key.from_seed(bytes(32)), store=open_store(path, status_url="https://issuer.example/s/")
    )


def test_a_group_commit_thread_ended_idle_starts_again_with_the_next_request(tmp_path: Path) -> None:
    pytest.importorskip("starlette")
    from vccore import _threads
    from vccore.http._group_commit import GroupCommitter

    issuer = _batch_issuer(tmp_path / "s.db")
    committer = GroupCommitter(issuer)
    assert isinstance(committer.certify(ENTITY, payload(1)), Certified)
    thread = committer._thread
    assert thread is not None and thread.is_alive()  # waits 10 s for the next request
    _threads.end_idle(2.0)
    assert not thread.is_alive() and committer._thread is None
    assert isinstance(committer.certify(ENTITY, payload(2)), Certified)
    assert committer._thread is not None and committer._thread.is_alive()
    issuer.store.close()
