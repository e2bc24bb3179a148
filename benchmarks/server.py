"""Load on `vccore serve` over loopback: certify and verify, concurrent clients.

Starts `vccore serve` (a fresh home folder; SQLite, or with ``--store postgresql`` a throwaway
PostgreSQL server, fsync and synchronous commits on), then runs ``--clients`` concurrent
keep-alive HTTP/1.1 connections (asyncio, a minimal client, in this process) through:

1. certify: ``--requests`` POSTs of distinct HealthProfessional payloads to
   ``/vc-certification/v1/certify/HealthProfessional_1`` with the bearer token. Each answer
   comes after the credential is signed and committed (DIVOC's intake answered after queueing);
2. verify: the same number of POSTs of issued credentials to the public verify route (proof,
   status from the store's lists).

3. verify at a fixed rate (``--rate``, default 1,500/s, open loop for 4 s): the latency of each
   request counted from when it was due, so that a server falling behind shows in its p99;
4. the library's own ``Verifier.verify`` of the same credentials in this process (one core,
   the status lists exported from the server's store), against what one worker answered: in
   ``--ratio-rounds`` turns of each (the server 1,000 requests a turn), the median of the ratios.

Prints requests per second and the latency percentiles of each, and writes
benchmarks/results/server.json. The clients share the machine with the server (2 cores here),
so the figures are a floor for the server alone.

    python -m benchmarks.server [--requests N] [--clients N] [--store sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from benchmarks.stores import STORES, machine, on_store, write_results
from vccore import bundled_entity_types

TOKEN = "benchmark-token-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(home: Path, store: str | None, port: int, workers: int = 1) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable,
        "-m",
        "vccore",
        "serve",
        "--port",
        str(port),
        "--home",
        str(home),
        "--log-level",
        "warning",
        "--status-url",
        "https://issuer.example/status/",
        *(["--store", store] if store else []),
        "--workers",
        str(workers),
    ]
    process = subprocess.Popen(
        argv,
        env={**os.environ, "VCCORE_API_TOKEN": TOKEN},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"vccore serve exited: {process.communicate()[1].decode()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("vccore serve did not come up")


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes
) -> tuple[int, bytes]:
    """One request on a kept-alive connection: (status, body). A minimal HTTP/1.1 client: the
    server answers with Content-Length (uvicorn does), and httpx's own overhead (about 1.5 ms a
    request here) would be measured instead of the server's."""
    writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
    await writer.drain()
    header = await reader.readuntil(b"\r\n\r\n")
    status = int(header[9:12])
    length = 0
    for line in header.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def load(port: int, path: str, clients: int, bodies: list[bytes], headers: dict[str, str]) -> dict[str, Any]:
    """POST each body once, ``clients`` connections at a time; throughput and latency."""
    latencies: list[float] = []
    failures: list[str] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        + "Content-Length: "
    ).encode()

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                try:
                    body = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                status, answer = await _exchange(reader, writer, head, body)
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    failures.append(f"{status} {answer[:200]!r}")
        finally:
            writer.close()

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client() for _ in range(clients)))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    latencies.sort()

    def percentile(p: float) -> float:
        return round(1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1)

    return {
        "requests": len(bodies),
        "clients": clients,
        "seconds": round(seconds, 2),
        "per_second": round(len(bodies) / seconds),
        "p50_ms": percentile(0.50),
        "p90_ms": percentile(0.90),
        "p99_ms": percentile(0.99),
        "max_ms": round(1000 * latencies[-1], 1),
        "mean_ms": round(1000 * statistics.mean(latencies), 1),
        "failures": len(failures),
        "first_failure": failures[0] if failures else None,
        # the load generator's own CPU, as a share of the machine's over the run
        "client_cpu_share": round(cpu / (seconds * (os.cpu_count() or 1)), 3),
    }


async def paced(
    port: int, path: str, rate: float, bodies: list[bytes], headers: dict[str, str], connections: int = 64
) -> dict[str, Any]:
    """POST the bodies at ``rate`` per second (open loop: request i is due at i / rate), over
    ``connections`` kept-alive connections, opened before the clock starts (opened at the first
    request, 64 connections at once made the first 0.3 s the whole tail: 250 ms); each latency
    runs from when its request was due, so a server that falls behind shows it (no coordinated
    omission)."""
    latencies: list[float] = []
    failures: list[str] = []
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        + "Content-Length: "
    ).encode()
    loop = asyncio.get_running_loop()
    opened = [await asyncio.open_connection("127.0.0.1", port) for _ in range(connections)]
    start = loop.time() + 0.05
    turn = iter(range(len(bodies)))

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for i in turn:
                due = start + i / rate
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                status, answer = await _exchange(reader, writer, head, bodies[i])
                latencies.append(loop.time() - due)
                if status != 200:
                    failures.append(f"{status} {answer[:200]!r}")
        finally:
            writer.close()

    cpu = time.process_time()
    began = loop.time()
    await asyncio.gather(*(client(reader, writer) for reader, writer in opened))
    seconds, cpu = loop.time() - began, time.process_time() - cpu
    latencies.sort()
    return {
        "asked_per_second": rate,
        "requests": len(bodies),
        "per_second": round(len(bodies) / seconds),
        "p50_ms": round(1000 * latencies[len(latencies) // 2], 1),
        "p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 1),
        "max_ms": round(1000 * latencies[-1], 1),
        "failures": len(failures),
        "client_cpu_share": round(cpu / (seconds * (os.cpu_count() or 1)), 3),
    }


def library_verifier(home: Path, store: str | None, credentials: list[bytes]) -> Callable[[], float]:
    """A timer of the library's verifications per second of the same credentials in this process
    (one core, best of 3 passes), with the status lists exported from the server's store: what
    one worker could reach."""
    import vccore

    folder = home.parent / "status-export"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "vccore",
            "status",
            "export",
            "--home",
            str(home),
            *(["--store", store] if store else []),
            str(folder),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    verifier = vccore.Verifier.create(status=str(folder))
    documents = [json.loads(c) for c in credentials]
    assert all(verifier.verify(d).verified for d in documents)

    def rate() -> float:
        best = 0.0
        for _ in range(3):
            started = time.perf_counter()
            for d in documents:
                verifier.verify(d)
            best = max(best, len(documents) / (time.perf_counter() - started))
        return best

    return rate


def run(args: argparse.Namespace, new_store: Callable[[], str | None], workers: int = 1) -> dict[str, Any]:
    entity = bundled_entity_types()["HealthProfessional"]
    assert entity.example is not None
    folder = Path(tempfile.mkdtemp(prefix="vccore-serve-bench-"))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    store = new_store()
    process = start_server(folder / "home", store, port, workers)
    results: dict[str, Any] = {}
    try:
        auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        warm = [json.dumps({**entity.example, "certificateId": f"warm-{i}"}).encode() for i in range(50)]
        asyncio.run(load(port, "/vc-certification/v1/certify/HealthProfessional_1", 4, warm, auth))
        payloads = [
            json.dumps(
                {
                    **entity.example,
                    "name": f"Dr. Load {i}",
                    "certificateId": f"{200000000000 + i}",
                    "validTill": "2030-09-09T21:01:01.121Z",
                }
            ).encode()
            for i in range(args.requests)
        ]
        certify = asyncio.run(
            load(port, "/vc-certification/v1/certify/HealthProfessional_1", args.clients, payloads, auth)
        )
        print(
            f"{workers} worker(s) certify: {certify['requests']:,} requests, {certify['clients']} clients: {certify['per_second']:,}/s; "
            f"p50 {certify['p50_ms']} ms, p99 {certify['p99_ms']} ms, max {certify['max_ms']} ms; {certify['failures']} failed"
        )
        credentials = []
        with httpx.Client(base_url=base, headers=auth, timeout=60) as http:
            credentials.extend(
                http.get(f"/vc-certification/v1/certificate/HealthProfessional/{200000000000 + i}").content
                for i in range(min(200, args.requests))
            )
        bodies = [credentials[i % len(credentials)] for i in range(args.requests)]
        verify = asyncio.run(
            load(
                port,
                "/vc-certification/v1/certificate/verify",
                args.clients,
                bodies,
                {"Content-Type": "application/json"},
            )
        )
        print(
            f"{workers} worker(s) verify:  {verify['requests']:,} requests, {verify['clients']} clients: {verify['per_second']:,}/s; "
            f"p50 {verify['p50_ms']} ms, p99 {verify['p99_ms']} ms, max {verify['max_ms']} ms; {verify['failures']} failed"
        )
        results = {"certify": certify, "verify": verify}
        if args.rate:
            at_rate = asyncio.run(
                paced(
                    port,
                    "/vc-certification/v1/certificate/verify",
                    args.rate,
                    [credentials[i % len(credentials)] for i in range(int(args.rate * 4))],
                    {"Content-Type": "application/json"},
                )
            )
            print(
                f"{workers} worker(s) verify at {args.rate:,.0f}/s asked, 4 s: {at_rate['per_second']:,}/s answered; "
                f"p50 {at_rate['p50_ms']} ms, p99 {at_rate['p99_ms']} ms, max {at_rate['max_ms']} ms; "
                f"{at_rate['failures']} failed; client CPU {at_rate['client_cpu_share']:.0%} of the machine"
            )
            results["verify_at_rate"] = at_rate
        # The server against the library, in turns (this machine's speed drifts by 20-40% from
        # minute to minute: the library timed once, after the server, gave 39% and 74% in two runs)
        library = library_verifier(folder / "home", store, credentials)
        rounds = []
        for _ in range(args.ratio_rounds):
            alone = library()
            served = asyncio.run(
                load(
                    port,
                    "/vc-certification/v1/certificate/verify",
                    args.clients,
                    bodies[:1000],
                    {"Content-Type": "application/json"},
                )
            )
            rounds.append({"library_per_s": round(alone), "server_per_s": served["per_second"]})
        ratios = [r["server_per_s"] / workers / r["library_per_s"] for r in rounds]
        results["library_verify_per_s"] = round(statistics.median(r["library_per_s"] for r in rounds))
        results["verify_of_library"] = round(statistics.median(ratios), 2)
        results["verify_of_library_by_round"] = rounds
        print(
            f"library Verifier.verify of the same credentials, one core, this process: "
            f"{results['library_verify_per_s']:,}/s (median of {len(rounds)}); per worker the server verified "
            f"{results['verify_of_library']:.0%} of that (median of the ratios of {len(rounds)} turns, "
            f"{min(ratios):.0%}-{max(ratios):.0%}, 1,000 requests each)"
        )
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(folder, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--store", choices=STORES, default="sqlite")
    parser.add_argument(
        "--rate", type=float, default=1500, help="verify at this many requests per second for 4 s (0: not run)"
    )
    parser.add_argument(
        "--workers", default="1,2", help="the server's worker processes, each count run in turn (default 1,2)"
    )
    parser.add_argument(
        "--ratio-rounds",
        type=int,
        default=5,
        help="turns of the library's verify and the server's (1,000 requests), for their ratio (default 5)",
    )
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    results: dict[str, Any] = {}
    for workers in counts:

        def serve(new_store: Callable[[], str | None], workers: int = workers) -> dict[str, Any]:
            return run(args, new_store, workers)

        results[f"workers_{workers}"] = on_store(args.store, serve)
    if len(counts) > 1:  # in this run, on this machine: the ratio is what the noise leaves standing
        first, last = results[f"workers_{counts[0]}"], results[f"workers_{counts[-1]}"]
        results["ratio"] = {
            kind: round(last[kind]["per_second"] / first[kind]["per_second"], 2) for kind in ("certify", "verify")
        }
        print(f"{counts[-1]} workers against {counts[0]}: {results['ratio']}")
    results.update(store=args.store, machine=machine())
    print(f"store: {args.store}; machine: {machine()}")
    write_results("server", args.store, results)


if __name__ == "__main__":
    main()
