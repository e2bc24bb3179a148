"""The calls a user makes, as README.md and docs/python.md show them, for `make bench`.

`benchmarks.run` times the internal stages (``Issuer.make_credential`` and a verifier given the
status lists); this module times, in the same process and run, what an application embedding
vccore calls: ``vccore.issue("HealthProfessional", payload, signer=key)``, ``vccore.verify`` and
``Verifier.create().verify`` of what it issued, ``Issuer(signer=..., store=open_store(...))
.certify(...)`` with an SQLite store in a temporary folder, and ``Verifier.create(status=folder)
.verify`` of what certify made, with the status lists it exported. Each comes with the time of
its stages where they can be taken apart, so that the floor of each call shows beside it.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import vccore
from vccore import EDDSA_RDFC_2022, Ed25519Key, Verifier, bundled_contexts, create_verify_data
from vccore.proofs import _compiled_verify_data, proof_configuration, rdfc_skeletons

Rate = Callable[[Callable[[Any], Any], list[Any], int], float]
Sign = Callable[[dict[str, Any], Ed25519Key, str], dict[str, Any]]
Check = Callable[[dict[str, Any], Ed25519Key], bool]

NOW = datetime(2024, 1, 1, tzinfo=UTC)
ENTITY = "HealthProfessional"
# README.md's payload, varied so that every credential is different
README_PAYLOAD = {
    "name": "Neha",
    "registrationId": "12345-8",
    "registrationCouncil": "Karnataka",
    "certificateId": "614894628867",
    "validFrom": "2023-09-09T21:01:01.121Z",
}


def readme_payloads(count: int) -> list[dict[str, Any]]:
    """README.md's quickstart payload, ``count`` times, each with its own name and numbers."""
    return [
        {**README_PAYLOAD, "name": f"Neha {i}", "registrationId": f"12345-{i}", "certificateId": f"{614894628867 + i}"}
        for i in range(count)
    ]


def measure(
    key: Ed25519Key,
    count: int,
    repeat: int,
    *,
    rate: Rate,
    baseline_sign: Sign,
    baseline_verify: Check,
) -> dict[str, float]:
    """Calls per second of the public calls on ``count`` README payloads and microseconds per
    stage (keys ``api_*``), and the plain pyld pipeline on the credentials ``vccore.issue`` makes
    (``pyld_*_no_status_per_s``: the README's payload, without status entries, makes smaller
    credentials than those of ``benchmarks.run``'s rows).
    """
    batch = readme_payloads(count)

    def us(work: Callable[[Any], Any], items: list[Any]) -> float:
        return 1e6 / rate(work, items, repeat)

    results: dict[str, float] = {}

    # vccore.issue as the README calls it (the clock for `now`, the bundled entity types)
    def api_issue(payload: dict[str, Any]) -> dict[str, Any]:
        return vccore.issue(ENTITY, payload, signer=key)

    issued = [api_issue(p) for p in batch]
    unsecured = [{k: v for k, v in c.items() if k != "proof"} for c in issued]
    assert all(baseline_sign(u, key, c["proof"]["created"]) == c for u, c in zip(unsecured, issued, strict=True)), (
        "vccore.issue and the plain pipeline disagree"
    )
    results["api_issue_per_s"] = rate(api_issue, batch, repeat)
    results["pyld_issue_no_status_per_s"] = rate(
        lambda u: baseline_sign(u, key, "2024-01-01T00:00:00Z"), unsecured, repeat
    )

    # its stages: render (validate + template), the verify data by compiled skeletons (both
    # canonical forms and their hashes), the signature (benchmarks.run's hash_and_sign_us)
    entity = vccore.bundled_entity_types()[ENTITY]
    loader = entity.context_loader()
    proofs = [{k: v for k, v in c["proof"].items() if k != "proofValue"} for c in issued]
    indexes = list(range(len(batch)))
    results["api_issue_render_us"] = us(lambda p: entity.render(p, issuer=key.controller, now=NOW), batch)
    results["api_issue_canonicalize_us"] = us(
        lambda i: _compiled_verify_data(EDDSA_RDFC_2022, unsecured[i], proofs[i], loader), indexes
    )

    # verifying what vccore.issue made: the README's vccore.verify, and a reusable verifier
    assert all(vccore.verify(c, trusted_issuers=[key.controller]).verified for c in issued)
    verifier = Verifier.create()
    assert all(verifier.verify(c).verified for c in issued)
    results["api_verify_per_s"] = rate(lambda c: verifier.verify(c), issued, repeat)
    results["api_module_verify_per_s"] = rate(
        lambda c: vccore.verify(c, trusted_issuers=[key.controller]), issued, repeat
    )
    results["pyld_verify_no_status_per_s"] = rate(lambda c: baseline_verify(c, key), issued, repeat)
    # its canonicalization by the compiled skeletons (what Verifier.verify runs once a
    # skeleton is compiled and checked) and by the reference path (pyld), for comparison
    contexts = bundled_contexts()
    results["api_verify_canonicalize_us"] = us(
        lambda i: create_verify_data(EDDSA_RDFC_2022, unsecured[i], issued[i]["proof"], contexts=contexts), indexes
    )
    # what Verifier.verify runs for them: the document and its proof configuration read through
    # the skeletons vccore.issue compiled (quads and canonical form), and both hashed
    skeletons = rdfc_skeletons(contexts)
    assert skeletons is not None
    configurations = [proof_configuration(EDDSA_RDFC_2022, p, u) for p, u in zip(proofs, unsecured, strict=True)]

    def verifier_canonicalize(i: int) -> bytes:
        document, configuration = skeletons.read(unsecured[i]), skeletons.read(configurations[i])
        return EDDSA_RDFC_2022.hash(configuration[1].encode()) + EDDSA_RDFC_2022.hash(document[1].encode())  # type: ignore[index,union-attr]

    for read in (skeletons.read(d) for d in [*unsecured, *configurations]):
        assert read is not None, "Verifier.verify would not take the skeletons"
        assert read[1] is not None, "Verifier.verify would run the general RDFC-1.0"

    results["api_verify_compiled_canonicalize_us"] = us(verifier_canonicalize, indexes)

    # Issuer.certify with an SQLite store in a temporary folder (one transaction and fsync each)
    folder = Path(tempfile.mkdtemp(prefix="vccore-bench-api-"))
    store = vccore.open_store(str(folder / "vccore.db"), status_url="https://issuer.example/status/")
    issuer = vccore.Issuer(signer=key, store=store)
    ids = itertools.count(700000000000)

    def certify(payload: dict[str, Any]) -> Any:
        return issuer.certify(ENTITY, {**payload, "certificateId": str(next(ids))})

    certified = [certify(p).credential for p in batch]
    results["api_certify_per_s"] = rate(certify, batch, repeat)

    # verifying what certify made, with the status lists it exported (the compiled path)
    issuer.export_status(folder / "status")
    status_verifier = Verifier.create(status=str(folder / "status"))
    assert all(status_verifier.verify(c).verified for c in certified)
    results["api_verify_certified_per_s"] = rate(lambda c: status_verifier.verify(c), certified, repeat)
    store.close()
    return results


def derived(results: dict[str, float]) -> dict[str, float]:
    """Ratios to the plain pipeline and the floors, from the figures of both modules' rows."""
    out: dict[str, float] = {}
    for name in ("issue", "verify", "module_verify", "certify", "verify_certified"):
        base = "issue" if name in ("issue", "certify") else "verify"
        out[f"api_{name}_ratio"] = results[f"api_{name}_per_s"] / results[f"pyld_{base}_per_s"]
    out["api_issue_ratio_no_status"] = results["api_issue_per_s"] / results["pyld_issue_no_status_per_s"]
    out["api_verify_ratio_no_status"] = results["api_verify_per_s"] / results["pyld_verify_no_status_per_s"]
    # issue: what is not render, canonicalize or sign (proof options, dates, the loader, copies)
    issue_us = 1e6 / results["api_issue_per_s"]
    out["api_issue_rest_us"] = (
        issue_us - results["api_issue_render_us"] - results["api_issue_canonicalize_us"] - results["hash_and_sign_us"]
    )
    # verify: what is not canonicalization or the signature check (reading the data model, the
    # key, dates)
    verify_us = 1e6 / results["api_verify_per_s"]
    out["api_verify_rest_us"] = (
        verify_us - results["api_verify_compiled_canonicalize_us"] - results["verify_signature_us"]
    )
    # certify: the store's share, against Issuer.make_credential (benchmarks.run's issue row)
    out["api_certify_store_us"] = 1e6 / results["api_certify_per_s"] - 1e6 / results["vccore_issue_per_s"]
    return out


def report(results: dict[str, float]) -> None:
    """Print the rows and stages of the public calls (after benchmarks.run's own table)."""
    r = results
    print("public API, as README.md shows it (same run; ratio to the plain pyld rows above)")
    print(f"{'':44}{'calls/s':>10}{'ratio':>8}")
    rows = [
        ('vccore.issue("HealthProfessional", ...)', "issue"),
        ("Verifier.create().verify(credential)", "verify"),
        ("vccore.verify(credential, trusted_issuers=)", "module_verify"),
        ("Issuer(store=open_store(sqlite)).certify", "certify"),
        ("Verifier.create(status=dir).verify(cert.)", "verify_certified"),
    ]
    for label, name in rows:
        print(f"{label:44}{r[f'api_{name}_per_s']:10.0f}{r[f'api_{name}_ratio']:8.2f}")
    print(
        "  same-shape pyld (no status entries): issue {pyld_issue_no_status_per_s:.0f}/s "
        "(ratio {api_issue_ratio_no_status:.2f}), verify {pyld_verify_no_status_per_s:.0f}/s "
        "(ratio {api_verify_ratio_no_status:.2f})".format(**r)
    )
    print(
        "  vccore.issue stages (us): render {api_issue_render_us:.0f}, canonicalize (compiled) "
        "{api_issue_canonicalize_us:.0f}, hash+sign {hash_and_sign_us:.0f}, rest {api_issue_rest_us:.0f}; "
        "the three stages alone: {floor:.0f}/s".format(
            floor=1e6 / (r["api_issue_render_us"] + r["api_issue_canonicalize_us"] + r["hash_and_sign_us"]), **r
        )
    )
    print(
        "  Verifier.verify stages (us): canonicalize (compiled skeletons) {api_verify_compiled_canonicalize_us:.0f} "
        "(the reference path: {api_verify_canonicalize_us:.0f}), Ed25519 verify {verify_signature_us:.0f}, "
        "rest {api_verify_rest_us:.0f}".format(**r)
    )
    print(
        "  certify: {certify_us:.0f} us, of which the store (certify - make_credential) "
        "{api_certify_store_us:.0f} us".format(certify_us=1e6 / r["api_certify_per_s"], **r)
    )
