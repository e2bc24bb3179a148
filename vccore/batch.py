"""Batches: issue or verify a JSON Lines file, in several processes, in constant memory.

:func:`issue_batch` reads one payload per line and writes one credential per line (in input
order; a rejected line goes, with its line number and the reasons, to an errors file instead).
It can be killed at any moment and run again with the same arguments: it continues where it
stopped, with no credential issued twice and none missing, because

- every credential is recorded in the store together with an idempotency key, the batch's id and
  the line number (:meth:`vccore.issuer.Issuer.certify_batch`): a line issued before the kill is
  given back from the store, never issued again;
- a progress file next to the output (``OUT.progress``) records, at checkpoints, how far the
  input was read, how long the output and errors files were then, and a digest of the input read
  so far. A re-run cuts both files back to those lengths (whatever was written after the last
  checkpoint is written again) and refuses to go on if the input is not the one it started on.

:func:`verify_batch` reads one credential per line and writes one result per line.

Both stream: the parent process reads the input a chunk of lines at a time, hands at most two
chunks per worker out at once and writes the results in order as they come back, so memory
does not grow with the input. A line longer than :data:`MAX_LINE_BYTES` is refused, not read.
"""

from __future__ import annotations

import gc
import hashlib
import json
import multiprocessing
import multiprocessing.util
import os
import shutil
import signal
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, TypeVar

from . import _datetime, _json
from ._threads import end_idle as end_idle_threads
from .codes import CredentialStatus, ErrorCode, ProblemCode
from .errors import BatchError, VccoreError
from .issuer import Certified, Issuer
from .results import VerificationResult
from .verify import Verifier

__all__ = ["MAX_LINE_BYTES", "BatchError", "BatchReport", "check_json_lines", "issue_batch", "verify_batch"]

MAX_LINE_BYTES = 1 << 20
"""The longest line a batch reads (1 MiB): a payload or credential is a few KiB."""

CHUNK_LINES = 500
"""Lines per chunk: a worker's unit of work, and one store transaction. Per chunk, a worker waits
for its task and hands its result back through pipes, and takes the store's lock twice; with
two workers, chunks of 200 lost about 4% of the workers' time between chunks."""
CHUNK_BYTES = 2 << 20
"""A chunk ends early once its lines hold this many bytes, so that the chunks in flight (two
per worker) stay small whatever the lines' length."""
CHECKPOINT_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class BatchReport:
    """What a batch did. ``done``: credentials written (issued, or given back from the store on a
    re-run) or credentials verified; ``rejected``: lines refused (or not verified);
    ``resumed_at``: the first line this run read (1 for a fresh run).
    """

    lines: int
    done: int
    rejected: int
    resumed_at: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "lines": self.lines,
            "done": self.done,
            "rejected": self.rejected,
            "resumedAt": self.resumed_at,
            "seconds": self.seconds,
        }


# --- reading -------------------------------------------------------------------------------------

Line = tuple[int, bytes | str]
"""(line number, its bytes), or (line number, why it was not read)."""


def _chunks(stream: IO[bytes], first_line: int, digest: Any) -> Iterator[tuple[list[Line], int, int, str]]:
    """Chunks of the non-blank lines of ``stream``: (lines, offset after them, line number after
    them, hex digest of the input up to there). ``digest`` takes in every byte read.
    """
    number = first_line
    offset = stream.tell()
    chunk: list[Line] = []
    size = 0
    yielded = None
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            break
        digest.update(raw)
        offset += len(raw)
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # skip the rest of the line, unread
                raw = stream.readline(MAX_LINE_BYTES)
                digest.update(raw)
                offset += len(raw)
            chunk.append((number, f"line longer than {MAX_LINE_BYTES} bytes"))
        elif raw.strip():
            chunk.append((number, raw))
            size += len(raw)
        number += 1
        if len(chunk) >= CHUNK_LINES or size >= CHUNK_BYTES:
            yield chunk, offset, number, digest.hexdigest()
            chunk, size, yielded = [], 0, number
    if chunk or yielded != number:  # the last lines, or only blank ones: their end is progress too
        yield chunk, offset, number, digest.hexdigest()


class _NoDigest:
    """What :func:`_chunks` takes for a digest, for a run that resumes nothing (verify): none made."""

    def update(self, data: bytes) -> None:
        pass

    def hexdigest(self) -> str:
        return ""


def _parse_object(raw: bytes | str, what: str) -> dict[str, Any]:
    """A line's JSON object; BatchError says why not."""
    if isinstance(raw, str):
        raise BatchError(raw, code=ErrorCode.INVALID_LINE)
    try:
        value = _json.loads(raw)
    except ValueError as exc:
        raise BatchError(f"not JSON: {exc}", code=ErrorCode.INVALID_LINE) from None
    if not isinstance(value, dict):
        raise BatchError(f"a {what} is a JSON object, not {type(value).__name__}", code=ErrorCode.INVALID_LINE)
    return value


# --- the workers ---------------------------------------------------------------------------------

T = TypeVar("T")
_WORKER: Any = None  # what the worker initializer built: an Issuer or a Verifier


def _init_worker(factory: Callable[[], Any], parent: int | None = None) -> None:
    global _WORKER  # noqa: PLW0603 (a pool initializer's one way to hand its worker what it built)
    # Ctrl-C reaches the terminal's whole process group: the command stops the batch, and its
    # workers finish the chunk in hand (each a transaction) rather than each print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER = factory()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
        # A pool worker ends in os._exit, which runs no destructor: without this its SQLite
        # connection stays open to the end, and the last one out cannot fold the WAL back in.
        multiprocessing.util.Finalize(None, _close_worker, exitpriority=0)


def _close_worker() -> None:
    global _WORKER
    worker, _WORKER = _WORKER, None
    _close_store_of(worker)


def _close_store_of(worker: Issuer | Verifier | None) -> None:
    store = getattr(worker, "store", None)
    if store is not None:
        store.close()


def _exit_with(parent: int) -> None:
    """A worker whose parent was killed exits too (it would otherwise wait for work forever)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


START_METHODS = ("spawn", "fork")
_IDLE_THREADS_WAIT = 2.0  # seconds a fork waits for vccore's idle threads to end (see vccore._threads)


def _ordered(
    work: Callable[[Any, Any], T],
    tasks: Iterator[tuple[Any, Any]],
    factory: Callable[[], Any],
    workers: int,
    start_method: str,
) -> Iterator[tuple[Any, T]]:
    """(context, work(task, None)) for each (context, task), in order; ``workers`` processes
    (1: this one, with its own issuer or verifier passed to ``work``, so that batches in several
    threads do not share one), at most two tasks per worker in flight.
    """
    if workers <= 1:
        worker = factory()
        try:
            for context, task in tasks:
                yield context, work(task, worker)
        finally:
            _close_store_of(worker)
        return
    # "spawn" by default: a forked worker would inherit this process's open SQLite connections,
    # and SQLite's own documentation forbids using (or even closing) one across a fork; we saw it
    # corrupt a store ("database disk image is malformed") when a child closed its inherited copy.
    # "fork" is for callers that hold no connection (the command line closes its own first): the
    # workers then start without importing vccore again (0.6 s each, in series after this
    # process's own import, which was 3% of a 100,000-line run with two workers).
    mp_context = multiprocessing.get_context(start_method)
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=mp_context, initializer=_init_worker, initargs=(factory, os.getpid())
    ) as pool:
        pending: deque[tuple[Any, Future[T]]] = deque()
        # A forked worker must never collect (and so close) an object it inherited, such as a
        # connection its parent left to the garbage collector: what is frozen at the fork is never
        # collected in the copy. A fork pool forks all its workers at the first submit.
        # (Objects the caller froze itself stay frozen: unfreezing is all or nothing.)
        frozen = start_method == "fork"
        caller_froze = gc.get_freeze_count() > 0
        try:
            if frozen:
                gc.freeze()
            for context, task in tasks:
                pending.append((context, pool.submit(work, task, None)))
                if frozen:
                    frozen = False
                    if not caller_froze:
                        gc.unfreeze()
                if len(pending) >= 2 * workers:
                    done, future = pending.popleft()
                    yield done, future.result()
        finally:
            if frozen and not caller_froze:
                gc.unfreeze()
        while pending:
            context, future = pending.popleft()
            yield context, future.result()


def _check_start_method(start_method: str, workers: int) -> None:
    if start_method not in START_METHODS or start_method not in multiprocessing.get_all_start_methods():
        available = [m for m in START_METHODS if m in multiprocessing.get_all_start_methods()]
        raise BatchError(
            f"start_method {start_method!r} is not one of {available} on this system", code=ErrorCode.INVALID_ARGUMENT
        )
    if start_method == "fork" and workers > 1:
        end_idle_threads(_IDLE_THREADS_WAIT)  # a server app's idle threads in this process, say
    others = [t for t in threading.enumerate() if t is not threading.current_thread()]
    if start_method == "fork" and workers > 1 and not all(getattr(t, "vccore_fork_safe", False) for t in others):
        # A thread holding a lock at the fork leaves that lock held forever in the copy (the
        # PostgreSQL store's watchdog is made safe to fork beside, and says so).
        raise BatchError(
            "start_method 'fork' needs a process with no other thread running: use 'spawn'",
            code=ErrorCode.INVALID_ARGUMENT,
        )


def _issue_chunk(
    task: tuple[str, str, str | None, list[Line], str | None], issuer: Issuer | None = None
) -> tuple[bytes | _Spooled, bytes, int, int]:
    """Issue one chunk (with ``issuer``, else this worker process's): (the credential lines, the
    error lines, how many of each), in line order (joined here, so that the parent only writes).
    With a spool file named in the task, the credential lines go there (see :class:`_Spool`).
    """
    batch_id, entity, now_text, lines, spool_file = task
    issuer = issuer if issuer is not None else _WORKER
    assert issuer is not None
    texts: dict[int, tuple[str, bool]] = {}
    payloads: list[dict[str, Any]] = []
    numbers: list[int] = []
    for number, raw in lines:
        try:
            payloads.append(_parse_object(raw, "payload"))
            numbers.append(number)
        except BatchError as exc:
            texts[number] = (_error_line(number, exc), False)
    now = _datetime.parse(now_text) if now_text else None
    results = (
        issuer.certify_batch(entity, payloads, keys=[f"{batch_id}:{n}" for n in numbers], now=now) if payloads else []
    )
    for number, result in zip(numbers, results, strict=True):
        if isinstance(result, Certified):
            texts[number] = (result.credential_json(), True)
        else:
            texts[number] = (_error_line(number, result), False)
    issued = [texts[n][0] for n, _ in lines if texts[n][1]]
    rejected = [texts[n][0] for n, _ in lines if not texts[n][1]]
    return _Spool.put(spool_file, _joined(issued)), _joined(rejected), len(issued), len(rejected)


def _verify_chunk(task: tuple[str | None, list[Line]], verifier: Verifier | None = None) -> tuple[bytes, int, int]:
    """Verify one chunk (with ``verifier``, else this worker process's): (the result lines, how
    many verified, how many not).
    """
    now_text, lines = task
    verifier = verifier if verifier is not None else _WORKER
    assert verifier is not None
    now = _datetime.parse(now_text) if now_text else None
    out: list[str] = []
    verified = 0
    # Results alike (most of a batch: verified, by one key) are written once each; a result whose
    # problems carry data is not hashable, and is written every time.
    written: dict[VerificationResult, str] = {}
    for number, raw in lines:
        if isinstance(raw, str):
            result: dict[str, Any] = {
                "verified": False,
                "status": CredentialStatus.INVALID,
                "problems": [{"code": ProblemCode.PARSING_ERROR, "detail": raw}],
            }
            out.append(_json.compact({"line": number, **result}))
            continue
        verdict = verifier.verify(raw, now=now)
        verified += verdict.verified
        try:
            text = written.get(verdict)
        except TypeError:
            out.append(_json.compact({"line": number, **verdict.to_dict()}))
            continue
        if text is None:
            text = written[verdict] = _json.compact(verdict.to_dict())[1:]  # what follows {"line":N,
        out.append(f'{{"line":{number},{text}')
    return _joined(out), verified, len(out) - verified


@dataclass(frozen=True, slots=True)
class _Spooled:
    """A chunk's credential lines, written to a spool file by the worker that issued them."""

    path: str
    length: int


class _Spool:
    """Where the workers of a batch with several leave the credential lines of each chunk: a file
    per chunk in ``OUT.spool/``, which the command's own process copies into the output in order
    (``copy_file_range``: in the kernel, where the system has it) and deletes. Handed back through
    the pool's pipe instead, 1.25 MB a chunk, they held each worker until the command's process,
    which has no core of its own beside two workers, read them (a 100,000-line batch with two
    workers: 7.14-7.44 s against 7.38-7.54 s, the command's CPU 0.52 s against 0.62 s). The folder
    is made anew by each run (what a killed run left is removed), and removed at the end; the files
    are named by the run, so a file written late by a killed run's worker is never read.
    """

    def __init__(self, output: Path) -> None:
        self.folder = self.check_place(output)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir()
        self.run = uuid.uuid4().hex[:12]
        self.made = 0

    @staticmethod
    def check_place(output: Path) -> Path:
        """The spool folder of ``output``; BatchError when something else is in its place."""
        folder = output.with_name(output.name + ".spool")
        if folder.exists() and not folder.is_dir():
            raise BatchError(
                f"{folder} is in the way: a batch with several workers keeps its spool folder there",
                path=str(folder),
            )
        return folder

    def next_file(self) -> str:
        """The file for the next chunk."""
        self.made += 1
        return str(self.folder / f"{self.run}-{self.made}.jsonl")

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    @staticmethod
    def put(path: str | None, text: bytes) -> bytes | _Spooled:
        """``text`` as the worker hands it back: itself, or written to ``path`` (when given)."""
        if path is None or not text:
            return text
        with open(path, "xb") as part:
            part.write(text)
        return _Spooled(path, len(text))

    @staticmethod
    def append(out: IO[bytes], text: bytes | _Spooled) -> None:
        """Write a chunk's credential lines at the end of ``out`` (its position: where they end)."""
        if isinstance(text, bytes):
            out.write(text)
            return
        out.flush()
        start = out.tell()
        with open(text.path, "rb") as part:
            copied = 0
            try:
                while copied < text.length:
                    step = os.copy_file_range(part.fileno(), out.fileno(), text.length - copied, copied, start + copied)
                    if step == 0:
                        break
                    copied += step
            except (AttributeError, OSError):  # no copy_file_range here, or not between these files
                copied = 0
            if copied != text.length:
                part.seek(0)
                out.seek(start)
                shutil.copyfileobj(part, out)
                out.flush()
        if os.fstat(out.fileno()).st_size < start + text.length:
            raise BatchError(f"{text.path} was cut short: the batch's output would miss lines", path=text.path)
        out.seek(start + text.length)
        os.unlink(text.path)


def _joined(texts: list[str]) -> bytes:
    # not "".join(text + "\n" ...): that copies each 2.5 KB line once more (0.21 against 0.13 ms a chunk)
    return ("\n".join(texts) + "\n").encode() if texts else b""


def _error_line(number: int, exc: VccoreError) -> str:
    return _json.compact({"line": number, **exc.to_dict()})


# --- issuing -------------------------------------------------------------------------------------


def issue_batch(
    make_issuer: Callable[[], Issuer],
    entity: str,
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    errors: str | os.PathLike[str] | None = None,
    workers: int = 1,
    now: datetime | None = None,
    progress: bool | None = None,
    start_method: str = "spawn",
) -> BatchReport:
    """Issue a credential for every payload line of ``source`` into ``output`` (see the module's
    documentation). ``make_issuer`` builds each worker's :class:`Issuer` (for ``workers`` > 1 it
    must be picklable when spawned: a module-level function or a :func:`functools.partial` of
    one; a forked worker opens its own connections even from a store it inherited). ``errors``
    defaults to ``OUT.errors.jsonl`` beside the output. ``progress``: a progress bar on standard
    error (default: when it is a terminal). ``start_method``: how ``workers`` > 1 start,
    ``"spawn"`` (a new interpreter each) or ``"fork"`` (a copy of this process, which starts
    sooner; only from a process with no store or database connection open and no other thread
    running; the command line forks).
    """
    _check_start_method(start_method, workers)
    source_path, output_path = Path(source), Path(output)
    errors_path = Path(errors) if errors is not None else output_path.with_name(output_path.stem + ".errors.jsonl")
    state_path = output_path.with_name(output_path.name + ".progress")
    if workers > 1:
        _Spool.check_place(output_path)  # before anything is written
    state = _start(state_path, source_path, output_path, errors_path, entity)
    if state.get("complete"):
        return BatchReport(state["line"] - 1, state["done"], state["rejected"], state["line"], 0.0)
    with open(source_path, "rb") as stream, open(output_path, "r+b") as out, open(errors_path, "r+b") as err:
        digest = _check_input(stream, state, source_path)
        out.truncate(state["output"])
        err.truncate(state["errors"])
        out.seek(state["output"])
        err.seek(state["errors"])
        now_text = _datetime.format(now) if now is not None else None
        resumed_at = state["line"]
        # The reading runs ahead of the writing (chunks in flight): each chunk carries where it ends.
        spool = _Spool(output_path) if workers > 1 else None
        tasks = (
            (
                (offset, next_line, sha256),
                (state["batch"], entity, now_text, lines, spool.next_file() if spool is not None else None),
            )
            for lines, offset, next_line, sha256 in _chunks(stream, state["line"], digest)
        )
        meter = _Meter(progress, source_path, "issued")
        last = time.monotonic()
        try:
            for (offset, next_line, sha256), results in _ordered(
                _issue_chunk, tasks, make_issuer, workers, start_method
            ):
                issued, rejected, done_here, rejected_here = results
                _Spool.append(out, issued)
                err.write(rejected)
                state["done"] += done_here
                state["rejected"] += rejected_here
                state.update(line=next_line, input=offset, sha256=sha256)
                if time.monotonic() - last >= CHECKPOINT_SECONDS:
                    _checkpoint(state_path, state, out, err)
                    last = time.monotonic()
                meter.show(state["done"], state["rejected"], offset, next_line)
        finally:
            if spool is not None:
                spool.close()
        state["complete"] = True
        _checkpoint(state_path, state, out, err)
        meter.close(state["done"], state["rejected"])
    return BatchReport(state["line"] - 1, state["done"], state["rejected"], resumed_at, meter.seconds())


def _start(state_path: Path, source: Path, output: Path, errors: Path, entity: str) -> dict[str, Any]:
    """The progress of an interrupted run, or a new one (written before any work is done, so that
    a kill at any moment leaves a run that can be resumed).
    """
    if state_path.exists():
        try:
            state: dict[str, Any] = json.loads(state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BatchError(f"cannot read the progress file {state_path}: {exc}", path=str(state_path)) from None
        for key, expected in (
            ("source", str(source.resolve())),
            ("entity", entity),
            ("errorsFile", str(errors.resolve())),
        ):
            if state.get(key) != expected:
                raise BatchError(
                    f"{output} belongs to a batch with {key} {state.get(key)!r}, not {expected!r}: "
                    f"give another output, or delete {output} and {state_path} to start over",
                    path=str(output),
                )
        for path, length in ((output, state["output"]), (errors, state["errors"])):
            if not path.exists() or path.stat().st_size < length:
                raise BatchError(
                    f"{path} is shorter than when the batch stopped: it was changed; delete {state_path} to start over",
                    path=str(path),
                )
        return state
    for path in (output, errors):
        if path.exists() and path.stat().st_size > 0:
            raise BatchError(
                f"{path} exists and is not empty (and there is no {state_path.name} to resume from)", path=str(path)
            )
    check_json_lines(source)
    state = {
        "batch": uuid.uuid4().hex,
        "source": str(source.resolve()),
        "entity": entity,
        "errorsFile": str(errors.resolve()),
        "line": 1,
        "input": 0,
        "sha256": hashlib.sha256().hexdigest(),
        "output": 0,
        "errors": 0,
        "done": 0,
        "rejected": 0,
    }
    for path in (output, errors):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    _write_state(state_path, state)
    return state


def _check_input(stream: IO[bytes], state: dict[str, Any], source: Path) -> Any:
    """Read the input up to where the batch stopped; refuse if those bytes changed. Returns the
    running digest, positioned there.
    """
    digest = hashlib.sha256()
    remaining = state["input"]
    while remaining:
        block = stream.read(min(remaining, 1 << 20))
        if not block:
            break
        digest.update(block)
        remaining -= len(block)
    if digest.hexdigest() != state["sha256"]:
        raise BatchError(
            f"{source} is not the input the batch was started on (its first {state['input']} bytes differ)",
            path=str(source),
        )
    return digest


def _checkpoint(state_path: Path, state: dict[str, Any], out: IO[bytes], err: IO[bytes]) -> None:
    """Make the output durable, then record how far it goes."""
    for stream in (out, err):
        stream.flush()
        os.fsync(stream.fileno())
    state["output"], state["errors"] = out.tell(), err.tell()
    _write_state(state_path, state)


def _write_state(path: Path, state: dict[str, Any]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as stream:
        json.dump(state, stream)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, path)


# --- verifying -----------------------------------------------------------------------------------


def verify_batch(
    make_verifier: Callable[[], Verifier],
    source: str | os.PathLike[str],
    output: IO[bytes],
    *,
    workers: int = 1,
    now: datetime | None = None,
    progress: bool | None = None,
    start_method: str = "spawn",
) -> BatchReport:
    """Verify every credential line of ``source``; one result line (``{"line", "verified",
    "status", "problems", ...}``) per credential to ``output``, in input order. ``start_method``:
    as for :func:`issue_batch` (a verifier with a store counts as a connection).
    """
    _check_start_method(start_method, workers)
    source_path = Path(source)
    check_json_lines(source_path)
    now_text = _datetime.format(now) if now is not None else None
    done = rejected = lines = 0
    meter = _Meter(progress, source_path, "verified")
    with open(source_path, "rb") as stream:
        tasks = (
            ((offset, next_line), (now_text, chunk)) for chunk, offset, next_line, _ in _chunks(stream, 1, _NoDigest())
        )
        for (offset, next_line), results in _ordered(_verify_chunk, tasks, make_verifier, workers, start_method):
            text, verified, not_verified = results
            output.write(text)
            done, rejected = done + verified, rejected + not_verified
            lines = next_line - 1
            meter.show(done, rejected, offset, next_line)
    output.flush()
    meter.close(done, rejected)
    return BatchReport(lines, done, rejected, 1, meter.seconds())


def check_json_lines(source: Path) -> None:
    """Refuse a source that cannot be read, or that holds one JSON document written over several
    lines (a pretty-printed credential or array), which a batch would reject line by line.
    """
    if not source.is_file():
        raise BatchError(f"cannot read {source}", path=str(source))
    with open(source, "rb") as stream:
        first = stream.readline()
        if not first.strip() or _parses(first) or source.stat().st_size > _WHOLE_DOCUMENT_CHECK:
            return
        stream.seek(0)
        whole = stream.read()
    if _parses(whole):
        raise BatchError(
            f"{source} holds one JSON document over several lines; a batch reads JSON Lines, one "
            "document on each line: give a single credential or payload without --batch, or write "
            "one per line (jq -c '.[]' for an array)",
            path=str(source),
        )


_WHOLE_DOCUMENT_CHECK = 64 * 1024 * 1024  # a larger file is not read whole to see whether it is one document


def _parses(text: bytes) -> bool:
    try:
        _json.loads(text)
    except ValueError:
        return False
    return True


# --- progress ------------------------------------------------------------------------------------


class _Meter:
    """A one-line progress bar on standard error, when it is a terminal (or when asked)."""

    def __init__(self, enabled: bool | None, source: Path, verb: str) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.size = max(source.stat().st_size, 1)
        self.verb = verb
        self.started = time.monotonic()
        self.shown = 0.0
        self.first_done: int | None = None

    def seconds(self) -> float:
        return time.monotonic() - self.started

    def show(self, done: int, rejected: int, offset: int, line: int) -> None:
        if not self.enabled:
            return
        if self.first_done is None:
            self.first_done = done
        now = time.monotonic()
        if now - self.shown < 0.2:
            return
        self.shown = now
        fraction = min(offset / self.size, 1.0)
        bar = "#" * int(fraction * 30)
        rate = (done - self.first_done) / max(now - self.started, 1e-9)
        sys.stderr.write(
            f"\r[{bar:<30}] {fraction:4.0%}  line {line - 1:,}  {done:,} {self.verb}  {rejected:,} rejected  {rate:,.0f}/s "
        )
        sys.stderr.flush()

    def close(self, done: int, rejected: int) -> None:
        if self.enabled:
            sys.stderr.write(
                f"\r[{'#' * 30}] 100%  {done:,} {self.verb}  {rejected:,} rejected  in {self.seconds():.1f} s\n"
            )
            sys.stderr.flush()
