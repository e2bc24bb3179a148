"""Batch issuing at scale: `vccore issue --batch` on generated HealthProfessional payloads.

0. Against the core (``--against``, 20,000 payloads): `vccore issue --batch` and `vccore verify
   --batch` with 1 worker, start-up included, against ``Issuer.make_credential`` and
   ``Verifier.verify`` in this process and against the plain pyld pipeline, in this run:
   ``--against-rounds`` rounds, the ratios worked out within each round; their medians. With
   SQLite each round also measures the floor under `issue --batch`: its stages, each alone
   (:mod:`benchmarks.floor`).

1. Speed-up: the same ``--sample`` payloads issued with 1 worker and with 2 (fresh stores), and,
   for the machine's own ceiling, the bare signing loop (no store, no files) run in one process
   and in two at once: what two cores give this kind of work here. ``--rounds`` times; the
   medians.
2. Scale: ``--count`` payloads (default 1,000,000) with ``--workers`` workers, the resident memory
   of the command and its workers sampled every half second (peak, and the peak over each tenth
   of the run: flat means constant memory), and the store and output checked at the end.

3. With ``--instructions N``: N payloads issued with 1 worker and with 2 under valgrind's
   callgrind, which counts the instructions each process of the command runs (a forked worker
   from its fork on). Their ratio is the work the second worker adds (pipes, a second start,
   the store's lock), whatever the machine is doing; it does not see time spent waiting, nor
   the PostgreSQL server's own work.

    python -m benchmarks.batch [--count N] [--sample N] [--rounds N] [--workers N] [--instructions N] [--against N] [--against-rounds N] [--against-only] [--store sqlite|postgresql] [--keep]

Writes benchmarks/results/batch.json. Needs disk: about 5 KB per credential (store + output).
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.floor import stage_floors
from benchmarks.stores import STORES, compile_vccore, machine, on_store, write_results
from vccore import bundled_entity_types
from vccore.batch import CHUNK_LINES
from vccore.store import SQLiteStore, open_store


def write_payloads(path: Path, count: int) -> None:
    entity = bundled_entity_types()["HealthProfessional"]
    assert entity.example is not None
    base = dict(entity.example)
    with path.open("w", encoding="utf-8") as stream:
        for i in range(count):
            base.update(
                name=f"Dr. Professional {i}", registrationId=f"KMC-{i:08d}", certificateId=f"{100000000000 + i}"
            )
            stream.write(json.dumps(base, ensure_ascii=False) + "\n")


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _bare_loop(count: int) -> float:
    """Credentials per second of the bare signing loop (Issuer.make_credential) in this process."""
    from datetime import UTC, datetime

    from vccore import Ed25519Key
    from vccore.issuer import Issuer

    entity = bundled_entity_types()["HealthProfessional"]
    issuer = Issuer(
        signer=Ed25519Key.from_seed(bytes(32)),
        store=SQLiteStore(Path(tempfile.mkdtemp()) / "bare.db", status_url="https://issuer.example/status/"),
    )
    now = datetime(2024, 1, 1, tzinfo=UTC)
    assert entity.example is not None
    payloads = [{**entity.example, "name": f"Dr. Professional {i}"} for i in range(count)]
    for i in range(50):
        issuer.make_credential(entity, payloads[i], (0, i), now)
    started = time.perf_counter()
    for i in range(count):
        issuer.make_credential(entity, payloads[i], (0, i), now)
    return count / (time.perf_counter() - started)


def bare_scaling(count: int = 10_000, rounds: int = 1) -> dict[str, float]:
    """The bare loop alone, then two copies at once (spawned processes both times), alternated
    ``rounds`` times; the medians."""
    spawn = multiprocessing.get_context("spawn")
    ones, twos = [], []
    for _ in range(rounds):
        with spawn.Pool(1) as pool:
            ones.append(pool.map(_bare_loop, [count])[0])
        with spawn.Pool(2) as pool:
            twos.append(sum(pool.map(_bare_loop, [count, count])))
    one, two = statistics.median(ones), statistics.median(twos)
    return {"one_per_s": round(one), "two_per_s": round(two), "speedup": round(two / one, 2)}


def _command(folder: Path, source: Path, workers: int, store: str | None) -> list[str]:
    """`vccore issue --batch` on ``source`` into ``folder`` (its home folder there too)."""
    return [
        sys.executable,
        "-m",
        "vccore",
        "issue",
        "HealthProfessional",
        "--batch",
        str(source),
        "-o",
        str(folder / "out.jsonl"),
        "--home",
        str(folder / "home"),
        "--workers",
        str(workers),
        *(["--store", store] if store else []),
    ]


def run_batch(folder: Path, source: Path, workers: int, store: str | None = None) -> dict[str, Any]:
    """Run the command (on the home folder's SQLite store, or on ``store``); its wall time and the
    resident memory of it and of its workers."""
    folder.mkdir(parents=True)
    argv = _command(folder, source, workers, store)
    started = time.perf_counter()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # The end is taken by a thread blocked in waitpid, which returns the moment the command
    # exits. Polling put it late: sleep(0.5) by up to half a second, and wait(timeout=0.5), which
    # polls every 50 ms, by up to 50 ms (2% of a 2.6 s run: four rounds of five gave 2.666 s).
    ended: list[float] = []
    errors: list[bytes] = []

    def wait() -> None:
        errors.append(process.communicate()[1])
        ended.append(time.perf_counter())

    waiter = threading.Thread(target=wait)
    waiter.start()
    samples: list[tuple[float, int, int]] = []  # (seconds, parent KiB, largest worker KiB)
    while waiter.is_alive():
        workers_rss = [_rss_kib(child) for child in _children(process.pid)]
        samples.append((time.perf_counter() - started, _rss_kib(process.pid), max(workers_rss, default=0)))
        waiter.join(timeout=0.5)
    seconds = ended[0] - started
    err = errors[0]
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the command and its workers (it waits for them)
    cpu = sum(getattr(cpu_after, f) - getattr(cpu_before, f) for f in ("ru_utime", "ru_stime"))
    if process.returncode != 0:
        raise SystemExit(f"batch failed ({process.returncode}): {err.decode()}")
    tenths = []
    for tenth in range(10):
        window = [s for s in samples if tenth / 10 <= s[0] / seconds < (tenth + 1) / 10]
        if window:
            tenths.append(max(max(p, w) for _, p, w in window) // 1024)
    return {
        "workers": workers,
        "seconds": round(seconds, 3),  # a rate is worked out from it: 0.1 s was 2% of a 5 s run
        "cpu_seconds": round(cpu, 1),
        "peak_parent_mib": max((p for _, p, _ in samples), default=0) // 1024,
        "peak_worker_mib": max((w for _, _, w in samples), default=0) // 1024,
        "peak_mib_by_tenth": tenths,
        "summary": err.decode().strip().splitlines()[-1],
    }


def count_instructions(folder: Path, source: Path, workers: int, store: str | None = None) -> int:
    """The instructions the command runs under callgrind, summed over its processes. A forked
    worker's count starts at its fork (``--zero-before=PyOS_AfterFork_Child``): without that it
    would also count what its parent ran before the fork."""
    folder.mkdir(parents=True)
    valgrind = [
        "valgrind",
        "--tool=callgrind",
        "--trace-children=yes",
        "--zero-before=PyOS_AfterFork_Child",
        f"--callgrind-out-file={folder}/callgrind.%p",
    ]
    process = subprocess.run(
        valgrind + _command(folder, source, workers, store), stdin=subprocess.DEVNULL, capture_output=True
    )
    if process.returncode != 0:
        raise SystemExit(f"batch under callgrind failed ({process.returncode}): {process.stderr.decode()[-2000:]}")
    total = 0
    for path in folder.glob("callgrind.*"):
        for line in path.read_text(errors="replace").splitlines():
            # "summary:", not "totals:": for a zeroed worker "totals:" came out larger, and
            # "summary:" matched what the worker ran after its fork (measured without zeroing,
            # as the difference between a worker that issued one credential and one that issued none)
            if line.startswith("summary:"):
                total += int(line.split()[1])
    return total


def against_core(folder: Path, count: int, new_store: Callable[[], str | None], rounds: int = 3) -> dict[str, Any]:
    """`vccore issue --batch` and `vccore verify --batch` (1 worker, start-up included) on
    ``count`` payloads, against the core (``Issuer.make_credential``, ``Verifier.verify`` with
    the exported status lists, in this process, on 2,000 of them) and the plain pyld pipeline
    (benchmarks.run's baseline, on 200), all in this run: ``rounds`` times, each round on a new
    store, its ratios worked out within the round; the medians. This machine's speed drifts by
    20-40% from minute to minute: one pass of each, one after the other, gave 9.3x, 9.7x and 11.5x
    for verify --batch over pyld in one hour.
    """
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "against.jsonl"
    write_payloads(source, count)
    per_round = [_against_round(folder / f"round-{n}", source, count, new_store()) for n in range(1, rounds + 1)]
    result: dict[str, Any] = {"count": count, "rounds": len(per_round)}
    for name in per_round[0]:
        median = statistics.median(r[name] for r in per_round)
        if name.endswith("_seconds"):  # the stages' (SQLite: benchmarks.floor)
            result[name] = round(median, 3)
            continue
        result[name] = round(median, 2 if name.endswith("_of_core") else 1 if "_of_" in name else 0)
        if "_of_" not in name:
            result[name] = int(result[name])
    result["by_round"] = per_round
    print(
        f"{count:,} payloads, 1 worker, start-up included, median of {len(per_round)} rounds: issue --batch "
        f"{result['issue_batch_per_s']:,}/s = {result['issue_of_core']:.0%} of the core "
        f"({result['core_issue_per_s']:,}/s), {result['issue_of_pyld']}x plain pyld ({result['pyld_issue_per_s']:,}/s); "
        f"verify --batch {result['verify_batch_per_s']:,}/s = {result['verify_of_core']:.0%} of the core "
        f"({result['core_verify_per_s']:,}/s), {result['verify_of_pyld']}x plain pyld ({result['pyld_verify_per_s']:,}/s)"
        f" (ratios within each round, then their medians)"
    )
    if "floor_of_core" in result:
        print(
            f"the floor under issue --batch, each stage alone (benchmarks.floor, medians): start {result['start_seconds']} s, "
            f"the core {result['core_seconds']} s, the store {result['store_seconds']} s ({result['store_cpu_seconds']} s of CPU), "
            f"reading {result['read_seconds']} s, writing {result['write_seconds']} s ({result['write_cpu_seconds']} s of CPU): "
            f"{result['floor_of_core']:.0%} of the core, {result['floor_cpu_of_core']:.0%} with every wait for the disk hidden"
        )
    return result


def _against_round(folder: Path, source: Path, count: int, store: str | None) -> dict[str, float]:
    """One round of :func:`against_core`: its figures, and the ratios between them."""
    from datetime import UTC, datetime

    from benchmarks import run as run_module
    from benchmarks.run import baseline_sign, baseline_verify, rate
    from vccore import Issuer, Verifier, load_key

    now = "2024-06-01T00:00:00Z"
    issued = run_batch(folder / "against", source, 1, store)
    home, out = folder / "against" / "home", folder / "against" / "out.jsonl"
    stores = ["--store", store] if store else []
    vccore_cli = [sys.executable, "-m", "vccore"]
    subprocess.run(
        [*vccore_cli, "status", "export", "--home", str(home), *stores, "--now", "2024-05-31", str(folder / "status")],
        check=True,
        capture_output=True,
    )
    started = time.perf_counter()
    verified = subprocess.run(
        [
            *vccore_cli,
            *("verify", "--batch", str(out), "--status-dir", str(folder / "status"), "--now", now),
            *("-o", str(folder / "verified.jsonl"), "--workers", "1"),
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )
    verify_seconds = time.perf_counter() - started
    if verified.returncode != 0:
        raise SystemExit(f"verify --batch: {verified.stderr.decode()[-1000:]}")

    key = load_key(home / "key.json")
    entity = bundled_entity_types()["HealthProfessional"]
    moment = datetime(2024, 6, 1, tzinfo=UTC)
    with source.open(encoding="utf-8") as stream:
        payloads = [json.loads(line) for _, line in zip(range(2000), stream, strict=False)]
    with out.open(encoding="utf-8") as stream:
        credentials = [json.loads(line) for _, line in zip(range(2000), stream, strict=False)]
    core_store = SQLiteStore(folder / "core.db", status_url="https://issuer.example/status/")
    issuer = Issuer(signer=key, store=core_store)
    core_issue = rate(
        lambda i: issuer.make_credential(entity, payloads[i], (0, i), moment), list(range(len(payloads))), 3
    )
    core_store.close()
    verifier = Verifier.create(status=str(folder / "status"))
    assert all(verifier.verify(c, now=moment).verified for c in credentials)
    core_verify = rate(lambda c: verifier.verify(c, now=moment), credentials, 3)
    run_module._LOADER = entity.context_loader()  # the baseline's offline loader
    few = credentials[:200]
    unsigned = [{k: v for k, v in c.items() if k != "proof"} for c in few]
    pyld_issue = rate(lambda u: baseline_sign(u, key, "2024-01-01T00:00:00Z"), unsigned, 1)
    pyld_verify = rate(lambda c: baseline_verify(c, key), few, 1)
    issue_per_s, verify_per_s = count / issued["seconds"], count / verify_seconds
    floors: dict[str, float] = {}
    if store is None:
        one_line_runs = itertools.count(1)
        floors = stage_floors(
            folder / "floor",
            source,
            out,
            core_issue,
            lambda path: float(run_batch(folder / f"one-line-{next(one_line_runs)}", path, 1)["seconds"]),
        )
    return {
        **floors,
        "issue_batch_per_s": issue_per_s,
        "verify_batch_per_s": verify_per_s,
        "core_issue_per_s": core_issue,
        "core_verify_per_s": core_verify,
        "pyld_issue_per_s": pyld_issue,
        "pyld_verify_per_s": pyld_verify,
        "issue_of_core": issue_per_s / core_issue,
        "verify_of_core": verify_per_s / core_verify,
        "issue_of_pyld": issue_per_s / pyld_issue,
        "verify_of_pyld": verify_per_s / pyld_verify,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="pairs of sample runs (1 worker, 2 workers)")
    parser.add_argument(
        "--instructions",
        type=int,
        default=0,
        metavar="N",
        help="also count instructions, under valgrind, for N payloads (0: not)",
    )
    parser.add_argument(
        "--against",
        type=int,
        default=20_000,
        metavar="N",
        help="issue and verify N payloads with 1 worker against the core and plain pyld, in this run (0: not)",
    )
    parser.add_argument(
        "--against-rounds",
        type=int,
        default=3,
        metavar="N",
        help="rounds of the comparison with the core (the medians)",
    )
    parser.add_argument(
        "--against-only", action="store_true", help="run only the comparison with the core and pyld (--against N)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    parser.add_argument(
        "--store",
        choices=STORES,
        default="sqlite",
        help="the store: the home folder's SQLite file, or a new database on a throwaway PostgreSQL server "
        "(fsync and synchronous commit on) that the benchmark starts and stops",
    )
    args = parser.parse_args()
    if 0 < args.instructions < 2 * CHUNK_LINES:
        parser.error(
            f"--instructions needs at least {2 * CHUNK_LINES} payloads: with fewer than two chunks one worker does them all"
        )
    compile_vccore()
    if args.against_only:
        on_store(args.store, lambda new_store: measure_against(args, new_store))
    else:
        on_store(args.store, lambda new_store: measure(args, new_store))


def measure_against(args: argparse.Namespace, new_store: Callable[[], str | None]) -> None:
    """Only the comparison with the core and the plain pipeline: benchmarks/results/batch-against.json."""
    folder = Path(tempfile.mkdtemp(prefix="vccore-batch-"))
    try:
        results = {"machine": machine(), "store": args.store}
        results["against_core"] = against_core(folder, args.against, new_store, args.against_rounds)
        write_results("batch-against", args.store, results)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


def measure(args: argparse.Namespace, new_store: Callable[[], str | None]) -> None:
    """The sample (1 worker, then 2) and the scale run, each on a new store from ``new_store``
    (None: the SQLite file in the run's home folder)."""
    folder = Path(tempfile.mkdtemp(prefix="vccore-batch-"))
    results: dict[str, Any] = {"machine": machine()}
    try:
        sample = folder / "sample.jsonl"
        write_payloads(sample, args.sample)
        results["store"] = args.store
        if args.against:
            results["against_core"] = against_core(
                folder / "against-core", args.against, new_store, args.against_rounds
            )
        # One worker, then two, each on a new store, then the bare loop in one process and in two,
        # --rounds times: this machine's speed drifts by 20-40% from minute to minute, and what
        # two processes get of its two cores moved between 1.56x and 2.61x in one day (its vCPUs
        # are not always two whole cores), so each round has its own ceiling, and the medians are kept.
        # The order alternates (1 then 2, 2 then 1), so that a drift in one direction favours
        # neither.
        rounds = []
        for number in range(1, args.rounds + 1):
            if number % 2:
                one = run_batch(folder / f"one-{number}", sample, 1, new_store())
                two = run_batch(folder / f"two-{number}", sample, 2, new_store())
            else:
                two = run_batch(folder / f"two-{number}", sample, 2, new_store())
                one = run_batch(folder / f"one-{number}", sample, 1, new_store())
            bare = bare_scaling(rounds=1)
            speedup = round(one["seconds"] / two["seconds"], 2)
            rounds.append(
                {
                    "one_worker": one,
                    "two_workers": two,
                    "speedup": speedup,
                    "bare_loop": bare,
                    "of_ceiling": round(speedup / bare["speedup"], 2),
                }
            )
            print(
                f"round {number}: {args.sample:,} payloads, 1 worker {one['seconds']} s ({args.sample / one['seconds']:,.0f}/s, "
                f"{one['cpu_seconds']} s of CPU), 2 workers {two['seconds']} s ({args.sample / two['seconds']:,.0f}/s, "
                f"{two['cpu_seconds']} s of CPU): {speedup}x; the bare signing loop (no store, no files) in 2 processes "
                f"against 1: {bare['speedup']}x; the batch got {rounds[-1]['of_ceiling']:.0%} of that"
            )
            shutil.rmtree(folder / f"one-{number}")
            shutil.rmtree(folder / f"two-{number}")
        results["sample"] = {
            "payloads": args.sample,
            "rounds": rounds,
            "speedup": statistics.median(r["speedup"] for r in rounds),
            "bare_speedup": statistics.median(r["bare_loop"]["speedup"] for r in rounds),
            "of_ceiling": statistics.median(r["of_ceiling"] for r in rounds),
        }
        sample_result = results["sample"]
        print(
            f"medians of {args.rounds} rounds: 2 workers against 1 {sample_result['speedup']}x; the bare loop "
            f"{sample_result['bare_speedup']}x (this machine's ceiling for this work); the batch got "
            f"{sample_result['of_ceiling']:.0%} of its ceiling"
        )

        if args.instructions > 0:
            if shutil.which("valgrind") is None:
                print("--instructions: valgrind is not installed; not counted")
            else:
                few = folder / "instructions.jsonl"
                write_payloads(few, args.instructions)
                one_count = count_instructions(folder / "instructions-1", few, 1, new_store())
                two_count = count_instructions(folder / "instructions-2", few, 2, new_store())
                ratio = two_count / one_count
                results["instructions"] = {
                    "payloads": args.instructions,
                    "one_worker": one_count,
                    "two_workers": two_count,
                    "ratio": round(ratio, 4),
                    "speedup_on_two_whole_cores": round(2 / ratio, 2),
                }
                print(
                    f"instructions, {args.instructions:,} payloads: 1 worker {one_count:,}, 2 workers {two_count:,} "
                    f"(all processes): {ratio:.3f}x the work; on two whole cores, with no waiting, at most {2 / ratio:.2f}x"
                )

        if args.count > 0:  # --count 0: the speed-up only
            source = folder / "payloads.jsonl"
            write_payloads(source, args.count)
            location = new_store()
            scale = run_batch(folder / "scale", source, args.workers, location)
            store = open_store(location or folder / "scale" / "home" / "vccore.db", read_only=True)
            with (folder / "scale" / "out.jsonl").open("rb") as stream:
                lines = sum(1 for _ in stream)
            scale.update(
                payloads=args.count,
                stored=store.count(),
                output_lines=lines,
                per_second=round(args.count / scale["seconds"]),
            )
            results["scale"] = scale
            print(
                f"{args.count:,} payloads, {args.workers} workers: {scale['seconds']} s ({scale['per_second']:,}/s); "
                f"{scale['stored']:,} in the store, {scale['output_lines']:,} output lines"
            )
            print(
                f"peak resident memory: command {scale['peak_parent_mib']} MiB, largest worker {scale['peak_worker_mib']} MiB; "
                f"peak per tenth of the run (MiB): {scale['peak_mib_by_tenth']}"
            )
        print(f"machine: {results['machine']}")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    write_results("batch", args.store, results)


if __name__ == "__main__":
    main()
