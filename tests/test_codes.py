"""The registry of codes (vccore/codes.py), held to the docs, the OpenAPI document and the code that sets codes."""

from __future__ import annotations

import ast
import json
import pickle
import re
from enum import StrEnum
from pathlib import Path

import pytest

from vccore import (
    CredentialStatus,
    Ed25519Key,
    ErrorCode,
    Issuer,
    PayloadReason,
    ProblemCode,
    QRError,
    VccoreError,
    open_store,
)
from vccore.errors import AuthError, LifecycleError, PayloadError, PayloadProblem
from vccore.results import Problem, VerificationResult

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "vccore"
CODES_DOC = ROOT / "docs" / "codes.md"


# --- the docs -------------------------------------------------------------------------------------


def _table_codes(section: str) -> list[str]:
    """The first cells of the table rows under ``## <section>`` in docs/codes.md (up to the next ``## ``)."""
    text = CODES_DOC.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"docs/codes.md has no section {section!r}"
    return re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", match[1], re.MULTILINE)


@pytest.mark.parametrize(
    ("section", "enum"),
    [
        ("Error codes", ErrorCode),
        ("Problem codes", ProblemCode),
        ("Payload reasons", PayloadReason),
        ("Status words", CredentialStatus),
    ],
)
def test_the_docs_tables_list_exactly_the_enum_members(section: str, enum: type[StrEnum]) -> None:
    listed = _table_codes(section)
    assert len(listed) == len(set(listed)), (
        f"{section}: listed twice: {sorted({c for c in listed if listed.count(c) > 1})}"
    )
    members = {member.value for member in enum}
    assert set(listed) - members == set(), f"{section} lists codes {enum.__name__} does not have"
    assert members - set(listed) == set(), f"{section} does not list {enum.__name__} members"


def test_verification_docs_link_to_the_codes() -> None:
    text = (ROOT / "docs" / "verification.md").read_text(encoding="utf-8")
    assert "codes.md#problem-codes" in text


# --- the OpenAPI document -------------------------------------------------------------------------


def test_the_openapi_problem_code_enum_is_the_registry(tmp_path: Path) -> None:
    from vccore.http.openapi import document

    issuer = Issuer(signer=Ed25519Key.from_seed(bytes(32)), store=open_store(tmp_path / "store.db"))
    openapi = document(issuer, status_path="/status/", list_size=131_072)
    enum = openapi["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]
    expected = {c.value for c in ErrorCode} | {w.value for w in CredentialStatus if w is not CredentialStatus.VALID}
    assert len(enum) == len(set(enum)) and set(enum) == expected
    assert all(type(code) is str for code in enum)  # plain strings in the document, not enum members
    json.dumps(openapi)


# --- the members behave as the strings they replace ------------------------------------------------


def test_members_are_their_values_in_json_text_and_comparisons() -> None:
    problem = Problem(ProblemCode.REVOKED, "revoked", reason=ErrorCode.STATUS_LIST_ERROR)
    assert problem.code == "REVOKED" and hash(problem.code) == hash("REVOKED")
    assert f"{problem.code}: {problem.reason}" == "REVOKED: STATUS_LIST_ERROR" and str(problem.code) == "REVOKED"
    text = '{"code": "REVOKED", "detail": "revoked", "reason": "STATUS_LIST_ERROR"}'
    assert json.dumps(problem.to_dict()) == text
    assert json.JSONEncoder(ensure_ascii=False).encode(problem.to_dict()) == text
    assert json.dumps(problem.to_dict(), indent=1) == json.dumps(json.loads(text), indent=1)  # the Python encoder too
    result = VerificationResult(False, (problem,))
    assert result.status == "REVOKED" and type(result.status) is CredentialStatus
    assert result.to_dict()["status"] == "REVOKED" and json.dumps(result.status) == '"REVOKED"'
    reason = PayloadProblem("/name", PayloadReason.MISSING, "name is required").to_dict()["reason"]
    assert json.dumps(reason) == '"MISSING"'


def test_an_errors_code_is_a_member_and_crosses_processes() -> None:
    error = LifecycleError("gone", code="UNKNOWN_CERTIFICATE", certificate_id="1")  # type: ignore[arg-type]
    assert type(error.code) is ErrorCode and error.code is ErrorCode.UNKNOWN_CERTIFICATE
    copy = pickle.loads(pickle.dumps(error))
    assert copy.code is ErrorCode.UNKNOWN_CERTIFICATE and copy.to_dict() == error.to_dict()
    assert json.dumps(copy.to_dict()) == '{"code": "UNKNOWN_CERTIFICATE", "detail": "gone", "certificate_id": "1"}'
    assert type(QRError("x").code) is ErrorCode and QRError("x").code == "QR_MALFORMED"
    assert PayloadError("T", []).code == "INVALID_PAYLOAD"
    assert AuthError("no", code=ErrorCode.FORBIDDEN).status == 403
    with pytest.raises(ValueError, match="NOT_A_CODE"):
        VccoreError("x", code="NOT_A_CODE")  # type: ignore[arg-type]


def test_every_exception_class_is_in_errors() -> None:
    """Every exception class vccore defines is in vccore/errors.py (the rooms re-export theirs)."""
    elsewhere = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "errors.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(base) for base in node.bases}
                if any(b.endswith(("Error", "Exception")) for b in bases):
                    elsewhere.append(f"{path.relative_to(ROOT)}: {node.name}")
    assert not elsewhere


# --- no code bypasses the registry ------------------------------------------------------------------

_CODE_ATTRIBUTES = frozenset({"code", "codes", "reason"})


def _literal_strings(node: ast.AST) -> bool:
    """Whether an expression's value may be a string written out (a literal or an f-string): the
    expression itself, either branch of ``a if test else b``, a ``x or "..."``, or an item of a
    tuple, list or set (what ``in`` compares with).
    """
    if isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        return True
    if isinstance(node, ast.IfExp):
        return _literal_strings(node.body) or _literal_strings(node.orelse)
    if isinstance(node, ast.BoolOp):
        return any(_literal_strings(value) for value in node.values)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_literal_strings(item) for item in node.elts)
    return False


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def bare_codes(source: str, where: str) -> list[str]:
    """Where ``source`` sets or compares a code as a bare string instead of a member of vccore.codes:
    ``code=`` given to any call, a Problem's code and reason, a PayloadProblem's reason, the code
    of problem(), a class's ``code`` attribute, a ``"code"`` in a dict written out, and a comparison
    of ``.code``, ``.codes`` or ``.reason`` with a string.
    """
    found: list[str] = []

    def flag(node: ast.AST, what: str) -> None:
        found.append(f"{where}:{getattr(node, 'lineno', '?')}: {what}")

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = _callee(node)
            for keyword in node.keywords:
                if keyword.arg == "code" and _literal_strings(keyword.value):
                    flag(node, f"code= {ast.unparse(keyword.value)}")
                if (
                    keyword.arg == "reason"
                    and name in ("Problem", "PayloadProblem")
                    and _literal_strings(keyword.value)
                ):
                    flag(node, f"reason= {ast.unparse(keyword.value)}")
            if name == "Problem":
                if node.args and _literal_strings(node.args[0]):
                    flag(node, f"Problem({ast.unparse(node.args[0])}, ...)")
                if len(node.args) > 3 and _literal_strings(node.args[3]):
                    flag(node, f"Problem(..., reason {ast.unparse(node.args[3])})")
            if name == "PayloadProblem" and len(node.args) > 1 and _literal_strings(node.args[1]):
                flag(node, f"PayloadProblem(..., {ast.unparse(node.args[1])}, ...)")
            if name == "problem" and len(node.args) > 1 and _literal_strings(node.args[1]):
                flag(node, f"problem(..., {ast.unparse(node.args[1])}, ...)")
        elif isinstance(node, ast.ClassDef):
            for statement in node.body:
                targets = (
                    statement.targets
                    if isinstance(statement, ast.Assign)
                    else [statement.target]
                    if isinstance(statement, ast.AnnAssign)
                    else []
                )
                value = getattr(statement, "value", None)
                named_code = any(isinstance(t, ast.Name) and t.id == "code" for t in targets)
                if named_code and value is not None and _literal_strings(value):
                    flag(statement, f"class {node.name}: code = {ast.unparse(value)}")
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "code" and _literal_strings(value):
                    flag(node, f'{{"code": {ast.unparse(value)}}}')
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(isinstance(s, ast.Attribute) and s.attr in _CODE_ATTRIBUTES for s in sides) and any(
                _literal_strings(s) for s in sides
            ):
                flag(node, ast.unparse(node))
    return found


def _sources() -> dict[str, str]:
    return {str(path.relative_to(ROOT)): path.read_text(encoding="utf-8") for path in sorted(PACKAGE.rglob("*.py"))}


def test_no_code_is_set_or_compared_as_a_bare_string() -> None:
    found = [
        hit for where, source in _sources().items() if where != "vccore/codes.py" for hit in bare_codes(source, where)
    ]
    assert not found, "codes written as strings (use vccore.codes):\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("file", "member", "literal"),
    [
        ("vccore/qr/formats.py", "code=ErrorCode.QR_MALFORMED", 'code="QR_MALFORMED"'),
        ("vccore/verify/_proofs.py", "Problem(ProblemCode.MALFORMED_PROOF_ERROR", 'Problem("MALFORMED_PROOF_ERROR"'),
        ("vccore/payloads.py", "PayloadReason.INVALID_VALUE, _refusal(", '"INVALID_VALUE", _refusal('),
        ("vccore/errors.py", "code = ErrorCode.QR_MALFORMED", 'code = "QR_MALFORMED"'),
        ("vccore/cli/_common.py", "code=ErrorCode.QR_IMAGE_UNREADABLE)", 'code="QR_IMAGE_UNREADABLE")'),
        ("vccore/http/vc_api.py", "problem(400, CredentialStatus.INVALID", 'problem(400, "INVALID"'),
        ("vccore/batch.py", '"code": ProblemCode.PARSING_ERROR', '"code": "PARSING_ERROR"'),
        ("vccore/store/_pg_transaction.py", "else ErrorCode.STORE_ERROR", 'else "STORE_ERROR"'),
        ("vccore/status/check.py", "ProblemCode.WORK_LIMIT in result.codes", '"WORK_LIMIT" in result.codes'),
    ],
)
def test_the_scan_finds_a_bare_code_put_back(file: str, member: str, literal: str) -> None:
    source = (ROOT / file).read_text(encoding="utf-8")
    assert member in source, f"{file} no longer holds {member!r}: choose another control"
    assert bare_codes(source, file) == []
    assert len(bare_codes(source.replace(member, literal, 1), file)) == 1
