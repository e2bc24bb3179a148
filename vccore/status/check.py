"""Status checking (Bitstring Status List v1.0, section 3.2): a verified credential's entries, read as signed.

The verifier runs it, handing it what it needs (:class:`StatusLists`), never itself; its
problems are :mod:`vccore.results` values.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Final

from .. import _datetime
from .._cache import Cache
from .._signed import STATUS, VC, XSD_INTEGERS, Node, StatusEntry, StatusListFacts, Unreadable
from ..canon import WorkBudget
from ..codes import ErrorCode, ProblemCode
from ..results import Problem, VerificationResult, work_limit
from .bitstring import MESSAGES, MIN_LIST_LENGTH, STATE_MESSAGES, STATE_SIZE, Bitstring, StatusError
from .resolve import StatusResolver

MAX_STATUS_ENTRIES: Final = 16
_INDEX_TEXT: Final = re.compile(r"[0-9]{1,12}")
_STATUS_TEXT: Final = re.compile(r"0x[0-9A-Fa-f]{1,2}")
# How far a verifier's clock may run behind the issuer's when judging a status list's validFrom.
_CLOCK_SKEW: Final = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a status list credential is not used: the problem each credential that names it gets."""

    code: ProblemCode
    detail: str


@dataclass(frozen=True, slots=True)
class StatusList:
    """A status list credential that verified, as signed."""

    facts: StatusListFacts
    bits: Bitstring
    issuer: str | None
    size: int | None = None
    """The list's own ``statusSize``, when its subject says one (the credentials/v2 context has no
    term for it; a list whose context defines the spec's IRI can say it)."""


ListVerifier = Callable[[Mapping[str, Any], datetime, WorkBudget], tuple[VerificationResult, Node | None, str | None]]
"""Verifies a status list credential as a credential (its proof and data model, at a moment, within
a request's budget): the verdict, and the list as signed (its root node and issuer, None when it
cannot be read)."""


@dataclass(frozen=True, slots=True)
class StatusLists:
    """The status lists a verifier reads: where they come from (``resolve``), how one is verified
    as a credential (``verify``), who replaced a superseded credential (``successor``: URL, index
    -> certificateId, when the issuer's store is known), and the verdicts already reached. The
    verdicts are the verifier's caches, shared by its threads.
    """

    resolve: StatusResolver
    verify: ListVerifier
    successor: Callable[[str, int], str | None]
    # Status list credentials already checked: (URL, sha256 of their JSON) -> list, or the
    # refusal (code, detail) that every credential naming it gets.
    verdicts: Cache[tuple[str, str], StatusList | Refusal]
    # The same list object seen again (what mapping and folder resolvers return): its verdict.
    seen: Cache[str, tuple[Any, StatusList | Refusal]]

    def verified(self, url: str, found: Mapping[str, Any], check: StatusCheck) -> StatusList | None:
        """A status list credential checked once per content: proof, issuer, shape, bitstring."""
        seen = self.seen.get(url)
        if seen is not None and seen[0] is found:
            verdict = seen[1]
        else:
            digest = hashlib.sha256(json.dumps(found, sort_keys=True, default=str).encode()).hexdigest()
            known = self.verdicts.get((url, digest))
            if known is None:
                checked = self._check(url, found, check)
                if checked is None:
                    return None  # the request's budget ran out: nothing is known of the list
                self.verdicts.put((url, digest), checked)
                verdict = checked
            else:
                verdict = known
            self.seen.put(url, (found, verdict))
        # The verdict above holds for everyone; whose list it is, is checked for each credential.
        if isinstance(verdict, StatusList) and verdict.issuer != check.issuer:
            verdict = Refusal(
                ProblemCode.STATUS_VERIFICATION_ERROR,
                f"{url} is issued by {verdict.issuer}, not by the credential's issuer {check.issuer}",
            )
        if isinstance(verdict, Refusal):
            check.fail(verdict.code, verdict.detail, statusListCredential=url)
            return None
        return verdict

    def _check(self, url: str, found: Mapping[str, Any], check: StatusCheck) -> StatusList | Refusal | None:
        result, root, issuer = self.verify(found, check.now, check.budget)
        if ProblemCode.WORK_LIMIT in result.codes:
            check.problems.append(work_limit())
            return None
        refused = ProblemCode.STATUS_VERIFICATION_ERROR
        if not result.verified or root is None:
            return Refusal(
                refused, f"{url} does not verify ({'; '.join(f'{p.code}: {p.detail}' for p in result.problems)})"
            )
        try:
            facts = StatusListFacts.read(root)
        except Unreadable as exc:
            return Refusal(refused, f"{url}: {exc.message}")
        if facts.id != url:
            return Refusal(refused, f"the credential found for {url} is {json.dumps(facts.id)}")
        if STATUS + "BitstringStatusListCredential" not in facts.types:
            return Refusal(refused, f"{url} is not a BitstringStatusListCredential")
        if STATUS + "BitstringStatusList" not in facts.subject_types:
            return Refusal(refused, f"{url}: its credentialSubject is not a BitstringStatusList")
        try:
            bits = Bitstring.decode(facts.encoded_list)
        except StatusError as exc:
            return Refusal(
                ProblemCode.STATUS_LIST_LENGTH_ERROR if exc.code == ErrorCode.STATUS_LIST_LENGTH_ERROR else refused,
                f"{url}: {exc.code}: {exc.message}",
            )
        try:
            said = root.nodes(VC + "credentialSubject", "credentialSubject")[0].one_literal(
                STATUS + "statusSize", "credentialSubject.statusSize", XSD_INTEGERS
            )
        except Unreadable as exc:
            return Refusal(ProblemCode.MALFORMED_VALUE_ERROR, f"{url}: {exc.message}")
        if said is not None and not (said.value.isascii() and said.value.isdigit() and 1 <= int(said.value) <= 8):
            return Refusal(ProblemCode.MALFORMED_VALUE_ERROR, f"{url}: statusSize {said.value!r} is not 1 to 8 bits")
        return StatusList(facts, bits, issuer, int(said.value) if said is not None else None)


class StatusCheck:
    """Bitstring Status List section 3.2, for the entries of one credential whose proof verified,
    each read as signed.
    """

    def __init__(
        self,
        source: StatusLists,
        entries: tuple[Node, ...],
        issuer: str | None,
        now: datetime,
        problems: list[Problem],
        warnings: list[Problem],
        budget: WorkBudget,
    ) -> None:
        self.source = source
        self.entries = entries
        self.issuer = issuer
        self.now = now
        self.problems = problems
        self.warnings = warnings
        self.budget = budget
        self._lists: dict[str, StatusList | None] = {}

    def fail(self, code: ProblemCode, detail: str, **data: str) -> None:
        """Record a problem with the credential's status."""
        self.problems.append(Problem(code, detail, data=data))

    def run(self) -> None:
        """Check every entry: its list verified and read, its bit read, the verdict recorded."""
        if len(self.entries) > MAX_STATUS_ENTRIES:
            self.fail(
                ProblemCode.MALFORMED_VALUE_ERROR,
                f"{len(self.entries)} credentialStatus entries; vccore checks at most {MAX_STATUS_ENTRIES}",
            )
            return
        revoked: tuple[str, int] | None = None
        superseded: tuple[str, int] | None = None
        suspended: tuple[str, int] | None = None
        for node in self.entries:
            read = self._read(node)
            if read is None:
                continue
            url, index, value, entry = read
            if not value:
                continue
            if entry.purpose == "revocation":
                revoked = (url, index)
            elif entry.purpose == "suspension":
                suspended = (url, index)
            elif entry.purpose == "message":
                if entry.size == 1 and entry.messages == _VCCORE_MESSAGES:
                    superseded = (url, index)
                elif entry.size == STATE_SIZE and entry.messages == _STATE_MESSAGES:
                    # vccore's state list: 0x1 suspended, 0x2 revoked, 0x3 superseded
                    if value & 2:
                        revoked = (url, index)
                        if value == 3:
                            superseded = (url, index)
                    else:
                        suspended = (url, index)
                else:  # another issuer's message: reported, not judged (section 3.2 returns it)
                    text = next((message for status, message in entry.messages if int(status, 16) == value), None)
                    self.warnings.append(
                        Problem(
                            ProblemCode.STATUS_MESSAGE,
                            f"status message {hex(value)}: {text}",
                            data={"statusListCredential": url},
                        )
                    )
        if revoked is not None:
            if superseded is not None:
                data = {"statusListCredential": revoked[0]}
                successor = self.source.successor(*superseded)
                if successor:
                    data["successor"] = successor
                self.fail(
                    ProblemCode.SUPERSEDED,
                    "the issuer has replaced this credential" + (f" with {successor}" if successor else ""),
                    **data,
                )
            else:
                self.fail(
                    ProblemCode.REVOKED, "the issuer has revoked this credential", statusListCredential=revoked[0]
                )
        if suspended is not None:
            until = self._suspended_until(*suspended)
            if until is not None and until[1] <= self.now:
                return  # the suspension has lapsed
            data = {"statusListCredential": suspended[0]}
            if until is not None:
                data["until"] = until[0]
            self.fail(
                ProblemCode.SUSPENDED,
                "the issuer has suspended this credential" + (f" until {until[0]}" if until else ""),
                **data,
            )

    def _read(self, node: Node) -> tuple[str, int, int, StatusEntry] | None:
        try:
            entry = StatusEntry.read(node)
        except Unreadable as exc:
            self.fail(ProblemCode.MALFORMED_VALUE_ERROR, f"credentialStatus: {exc.message}")
            return None
        if _BITSTRING_ENTRY not in entry.types:
            kinds = ", ".join(sorted(t.rsplit("#", 1)[-1] for t in entry.types)) or "none"
            self.fail(
                ProblemCode.STATUS_VERIFICATION_ERROR,
                f"credentialStatus entry of type {kinds}: vccore checks BitstringStatusListEntry only",
            )
            return None
        purpose, url, index_text, size = entry.purpose, entry.list_url, entry.index, entry.size
        if purpose is None or url is None or index_text is None or not _INDEX_TEXT.fullmatch(index_text):
            self.fail(
                ProblemCode.MALFORMED_VALUE_ERROR,
                "a BitstringStatusListEntry needs statusPurpose, statusListCredential and a decimal statusListIndex",
            )
            return None
        if size > 1 or entry.messages:
            wrong = _messages_problem(size, entry.messages)
            if wrong is not None:
                self.fail(ProblemCode.MALFORMED_VALUE_ERROR, wrong)
                return None
        status_list = self._list(url)
        if status_list is None:
            return None
        if status_list.size is not None and status_list.size != size:
            self.fail(
                ProblemCode.STATUS_VERIFICATION_ERROR,
                f"{url} is a list of {status_list.size}-bit entries; the entry says statusSize {size}",
                statusListCredential=url,
            )
            return None
        if purpose not in status_list.facts.purposes:
            self.fail(
                ProblemCode.STATUS_VERIFICATION_ERROR,
                f"{url} is a {'/'.join(sorted(status_list.facts.purposes))} list, not {purpose}",
                statusListCredential=url,
            )
            return None
        entries_in_list = status_list.bits.length // size
        if entries_in_list < MIN_LIST_LENGTH:
            self.fail(
                ProblemCode.STATUS_LIST_LENGTH_ERROR,
                f"{url} holds {entries_in_list} entries; the minimum is {MIN_LIST_LENGTH}",
                statusListCredential=url,
            )
            return None
        index = int(index_text)
        if index >= entries_in_list:
            self.fail(
                ProblemCode.RANGE_ERROR,
                f"statusListIndex {index} is outside {url} ({entries_in_list} entries)",
                statusListCredential=url,
            )
            return None
        return url, index, status_list.bits.get(index, size), entry

    def _list(self, url: str) -> StatusList | None:
        if url in self._lists:
            return self._lists[url]
        self._lists[url] = None
        try:
            found = self.source.resolve(url)
        except Exception as exc:  # noqa: BLE001 (a resolver is the caller's code; whatever it raises, say so)
            self.fail(
                ProblemCode.STATUS_RETRIEVAL_ERROR,
                f"{url} could not be retrieved: {type(exc).__name__}: {exc}",
                statusListCredential=url,
            )
            return None
        if not isinstance(found, Mapping):
            self.fail(
                ProblemCode.STATUS_RETRIEVAL_ERROR,
                f"{url} could not be retrieved" + ("" if found is None else " as a JSON object"),
                statusListCredential=url,
            )
            return None
        status_list = self.source.verified(url, found, self)
        if status_list is None:
            return None
        # the validity window, as signed, at this verification's clock (the rest is cached)
        start, end = status_list.facts.valid_from, status_list.facts.valid_until
        if start is not None and self.now + _CLOCK_SKEW < start[1]:
            self.fail(
                ProblemCode.STATUS_VERIFICATION_ERROR,
                f"{url} is not valid before {start[0]}",
                statusListCredential=url,
            )
            return None
        if end is not None and self.now > end[1]:
            self.fail(
                ProblemCode.STATUS_VERIFICATION_ERROR,
                f"{url} expired at {end[0]}: a newer copy is needed",
                statusListCredential=url,
            )
            return None
        self._lists[url] = status_list
        return status_list

    def _suspended_until(self, url: str, index: int) -> tuple[str, datetime] | None:
        status_list = self._lists.get(url)
        for position, until in status_list.facts.suspensions if status_list is not None else ():
            if position == str(index):
                return until, _datetime.parse(until)
        return None


@lru_cache(maxsize=64)  # an issuer's entries repeat their messages
def _messages_problem(size: int, messages: frozenset[tuple[str, str]]) -> str | None:
    """What is wrong with an entry's ``statusMessage`` for its ``statusSize`` (section 2.1: one
    message for each of the 2**statusSize values, each status ``0x`` and hexadecimal), or None.
    As signed, the messages are a set (JSON-LD keeps no order here): each value once is checked.
    """
    count = 2**size
    if len(messages) != count:
        return f"statusSize {size} needs {count} statusMessage entries (one for each value), not {len(messages)}"
    values = [int(status, 16) if _STATUS_TEXT.fullmatch(status) else -1 for status, _ in messages]
    if sorted(values) != list(range(count)):
        return f"the statusMessage status values must be 0x0 to {hex(count - 1)}, each once"
    return None


_BITSTRING_ENTRY: Final = STATUS + "BitstringStatusListEntry"
_VCCORE_MESSAGES: Final = frozenset(MESSAGES)
_STATE_MESSAGES: Final = frozenset(STATE_MESSAGES)
