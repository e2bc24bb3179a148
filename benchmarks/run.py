"""Throughput of vccore's sign and verify against the plain pyld + cryptography pipeline.

Both run in this process, on the same credentials, one after the other, so the ratio holds even
when the machine's absolute speed drifts. Prints a table and writes benchmarks/results/latest.json.

    python -m benchmarks.run [--count N] [--repeat R]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyld import jsonld

import vccore
from vccore import Ed25519Key, VccoreError, Verifier, bundled_contexts, canonicalize, canonicalize_nquads, sign
from vccore.canon import MAX_ARRAY_LENGTH, MAX_JSON_VALUES
from vccore import _multibase

RESULTS = Path(__file__).parent / "results"
CREATED = "2026-01-01T00:00:00Z"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def credentials(key: Ed25519Key, count: int) -> list[dict[str, Any]]:
    """VC 2.0 credentials shaped like the seed's HealthProfessional payload, all different."""
    return [
        {
            "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
            "id": f"urn:uuid:00000000-0000-4000-8000-{i:012d}",
            "type": ["VerifiableCredential", "HealthProfessionalCredential"],
            "issuer": key.controller,
            "validFrom": "2026-01-01T00:00:00Z",
            "validUntil": "2031-01-01T00:00:00Z",
            "credentialSubject": {
                "type": "HealthProfessional",
                "name": f"Dr. Professional {i}",
                "gender": "Female" if i % 2 else "Male",
                "registrationId": f"KMC-{i:08d}",
                "latestQualification": "MBBS",
                "university": "Rajiv Gandhi University of Health Sciences",
                "degreeYear": "2011",
            },
        }
        for i in range(count)
    ]


# --- the baseline: what a developer writes with pyld and cryptography alone ---------------------


def _baseline_loader(url: str, options: Any = None) -> dict[str, Any]:
    # A plain offline loader: no "static" tag, so pyld processes the contexts on every call.
    return {"contextUrl": None, "documentUrl": url, "document": json.loads(bundled_contexts().read_bytes(url))}


def _baseline_normalize(document: Any) -> str:
    result: str = jsonld.normalize(
        document, {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": _baseline_loader}
    )
    return result


def _baseline_verify_data(document: dict[str, Any], proof: dict[str, Any]) -> bytes:
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    config["@context"] = document["@context"]
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    return hashlib.sha256(_baseline_normalize(config).encode()).digest() + hashlib.sha256(
        _baseline_normalize(unsecured).encode()
    ).digest()


def baseline_sign(document: dict[str, Any], key: Ed25519Key) -> dict[str, Any]:
    proof = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": CREATED,
        "verificationMethod": key.id,
        "proofPurpose": "assertionMethod",
    }
    proof["proofValue"] = _multibase.encode(key.sign(_baseline_verify_data(document, proof)))
    return {**document, "proof": proof}


def baseline_verify(document: dict[str, Any], key: Ed25519Key) -> bool:
    signature = _multibase.decode(document["proof"]["proofValue"])
    return key.verify(signature, _baseline_verify_data(document, document["proof"]))


# --- measurement -------------------------------------------------------------------------------


def rate(work: Callable[[Any], Any], items: list[Any], repeat: int) -> float:
    """Median items per second over ``repeat`` passes (after one warm-up pass)."""
    for item in items[: max(1, len(items) // 10)]:
        work(item)
    rates = []
    for _ in range(repeat):
        started = time.perf_counter()
        for item in items:
            work(item)
        rates.append(len(items) / (time.perf_counter() - started))
    return statistics.median(rates)


def hostile_timings() -> dict[str, float]:
    """Seconds to refuse or finish the worst inputs vccore admits (median of 3)."""
    poison = (Path(__file__).parent.parent / "tests/vectors/rdf-canon/rdfc10/test074-in.nq").read_text()
    vocab = {"@vocab": "https://vocab.example/"}
    widest = {
        "@context": vocab,
        "@id": "urn:x",
        **{f"p{j}": [f"s{i}" for i in range(MAX_ARRAY_LENGTH)] for j in range(MAX_JSON_VALUES // (MAX_ARRAY_LENGTH + 1) - 1)},
    }

    def seconds(work: Callable[[], Any]) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            try:
                work()
            except VccoreError:
                pass
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    return {
        "poison_graph_refusal_s": seconds(lambda: canonicalize_nquads(poison)),
        "widest_admitted_document_s": seconds(lambda: canonicalize(widest)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    key = Ed25519Key.from_seed(bytes(range(32)))
    batch = credentials(key, args.count)
    verifier = Verifier.create()
    signed = [sign(c, key, created=CREATED) for c in batch]
    assert signed == [baseline_sign(c, key) for c in batch], "baseline and vccore disagree"
    assert all(verifier.verify(s, now=NOW).verified for s in signed)

    results = {
        "vccore_issue_per_s": rate(lambda c: sign(c, key, created=CREATED), batch, args.repeat),
        "pyld_issue_per_s": rate(lambda c: baseline_sign(c, key), batch, args.repeat),
        "vccore_verify_per_s": rate(lambda s: verifier.verify(s, now=NOW), signed, args.repeat),
        "pyld_verify_per_s": rate(lambda s: baseline_verify(s, key), signed, args.repeat),
    }
    results.update(hostile_timings())
    results["issue_ratio"] = results["vccore_issue_per_s"] / results["pyld_issue_per_s"]
    results["verify_ratio"] = results["vccore_verify_per_s"] / results["pyld_verify_per_s"]
    machine = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "vccore": vccore.__version__,
    }
    print(f"{'':10}{'vccore/s':>12}{'pyld/s':>12}{'ratio':>8}   (one core, median of {args.repeat} x {args.count})")
    for what in ("issue", "verify"):
        print(
            f"{what:10}{results[f'vccore_{what}_per_s']:12.0f}{results[f'pyld_{what}_per_s']:12.0f}"
            f"{results[f'{what}_ratio']:8.2f}"
        )
    print(f"poison graph (rdf-canon test074) refused in {results['poison_graph_refusal_s']:.2f} s")
    print(f"widest document within the input bounds canonicalized in {results['widest_admitted_document_s']:.2f} s")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "latest.json"
    out.write_text(json.dumps({"results": results, "machine": machine, "args": vars(args)}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
