"""The verifier page's HTML: the form, an outcome (the verdict first, then the details), the home
page, and the headers that keep it to itself (no script, style or font but its own inline ones).

Everything a credential or a request says is escaped here; the words come from the mapping the
page was given (:mod:`._verify_words`).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

__all__ = ["Outcome", "home_page", "page", "security_headers"]

# High contrast in bright light: near-black on white (19:1), white on the verdict colours (green
# 7.1:1, red 7.4:1, slate 9.6:1), a focus ring that shows on every background. System fonts only.
_STYLE: Final = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
  font-size: 1.125rem; line-height: 1.5; color: #111; background: #fff; }
main { max-width: 40rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.6rem; margin: 0.5rem 0 0.75rem; }
h2 { font-size: 1.3rem; margin: 1.25rem 0 0.5rem; }
a { color: #0b4f9c; }
label { display: block; font-weight: 700; margin-top: 1rem; }
.help { margin: 0.25rem 0 0; color: #333; font-size: 1rem; }
input[type=file], textarea { display: block; width: 100%; margin-top: 0.4rem; font: inherit; font-size: 1rem;
  padding: 0.6rem; border: 2px solid #333; border-radius: 0.4rem; background: #fff; color: #111; }
textarea { min-height: 6rem; }
button { margin-top: 1.25rem; width: 100%; min-height: 3.25rem; font: inherit; font-size: 1.3rem; font-weight: 700;
  color: #fff; background: #0b4f9c; border: 0; border-radius: 0.4rem; cursor: pointer; }
button[disabled] { background: #555; }
:focus-visible, .verdict:focus { outline: 4px solid #f5b400; outline-offset: 3px; }
.outcome { margin: 0.5rem 0 1.5rem; }
.verdict { margin: 0; padding: 1rem; border-radius: 0.5rem; color: #fff; font-size: clamp(1.75rem, 8.5vw, 2.6rem);
  line-height: 1.15; font-weight: 800; letter-spacing: 0.02em; overflow-wrap: break-word; }
.verdict .mark { margin-right: 0.4rem; }
.good .verdict { background: #0a6b25; }
.bad .verdict { background: #a8001e; }
.unread .verdict { background: #2f3b4c; }
.reason { font-size: 1.3rem; font-weight: 600; margin: 0.75rem 0 0; }
dl { margin: 0; display: grid; grid-template-columns: minmax(7rem, 38%) 1fr; gap: 0.35rem 0.75rem; }
dt { font-weight: 700; }
dd { margin: 0; overflow-wrap: anywhere; }
.note { color: #333; }
""".strip()

# Posts the form with fetch and shows the outcome where the form's page keeps it, without a
# reload; the words it shows are the form's data attributes, so that the script never changes
# and its hash in the Content-Security-Policy holds for every translation.
_SCRIPT: Final = """
(function () {
  var form = document.getElementById("verify-form");
  var out = document.getElementById("result");
  if (!form || !out || !window.fetch || !window.FormData || !window.DOMParser) { return; }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var button = form.querySelector("button");
    button.disabled = true;
    out.textContent = form.getAttribute("data-working");
    var level = out.getAttribute("data-level") || "2";
    fetch(form.action, { method: "POST", body: new FormData(form), headers: { "X-Vccore-Fragment": level } })
      .then(function (answer) { return answer.text(); })
      .then(function (text) {
        var found = new DOMParser().parseFromString(text, "text/html").getElementById("outcome");
        if (!found) { throw new Error("no outcome"); }
        out.replaceChildren(document.importNode(found, true));
        form.reset();
        var heading = out.querySelector(".verdict");
        if (heading) { heading.focus(); heading.scrollIntoView(); }
      })
      .catch(function () { out.textContent = form.getAttribute("data-failed"); })
      .then(function () { button.disabled = false; });
  });
})();
""".strip()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a verification came to, for people: the verdict's key (``VALID``, ``REVOKED``, ...,
    ``INVALID``, or ``UNREAD`` when nothing could be checked), the reason in words, the holder's
    details (label, value) and the certificate's, and the code that is logged (a status word or
    an error code: never anything the credential or the photo says).
    """

    verdict: str
    reason: str
    code: str
    status: int = 200
    holder: Sequence[tuple[str, str]] = field(default_factory=tuple)
    certificate: Sequence[tuple[str, str]] = field(default_factory=tuple)
    note: str | None = None

    @property
    def tone(self) -> str:
        """``good``, ``bad`` or ``unread``: the verdict's colour."""
        return "good" if self.verdict == "VALID" else "unread" if self.verdict == "UNREAD" else "bad"


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


@functools.cache
def _policy() -> str:
    return (
        f"default-src 'none'; script-src {_hash(_SCRIPT)}; style-src {_hash(_STYLE)}; img-src data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )


def security_headers() -> dict[str, str]:
    """The headers of every page: its own inline style and script only, nothing from elsewhere,
    never framed, never cached (a result says who a holder is), no referrer.
    """
    return {
        "Content-Security-Policy": _policy(),
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _document(words: Mapping[str, str], title: str, body: str, *, script: bool) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{_e(words["lang"])}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="icon" href="data:,">\n'
        f"<title>{_e(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n<main>\n{body}</main>\n"
        + (f"<script>{_SCRIPT}</script>\n" if script else "")
        + "</body>\n</html>\n"
    )


def _form(words: Mapping[str, str], action: str) -> str:
    return (
        f'<form id="verify-form" method="post" action="{_e(action)}" enctype="multipart/form-data" '
        f'data-working="{_e(words["form.working"])}" data-failed="{_e(words["form.failed"])}">\n'
        f'<label for="photo">{_e(words["form.photo"])}</label>\n'
        '<input type="file" id="photo" name="photo" accept="image/*" capture="environment" '
        'aria-describedby="photo-help">\n'
        f'<p class="help" id="photo-help">{_e(words["form.photo_help"])}</p>\n'
        f'<label for="text">{_e(words["form.text"])}</label>\n'
        '<textarea id="text" name="text" rows="4" spellcheck="false" autocapitalize="off" '
        'autocomplete="off"></textarea>\n'
        f'<button type="submit">{_e(words["form.submit"])}</button>\n</form>\n'
    )


def _rows(rows: Sequence[tuple[str, str]]) -> str:
    return "".join(f"<dt>{_e(label)}</dt><dd>{_e(value)}</dd>\n" for label, value in rows)


def outcome_section(words: Mapping[str, str], outcome: Outcome, *, level: int) -> str:
    """The outcome: the verdict as a heading of ``level`` (focusable, for the script to move
    focus to), the reason, then the holder's and the certificate's details.
    """
    mark = "\u2713" if outcome.tone == "good" else "\u2717" if outcome.tone == "bad" else "!"
    parts = [
        f'<section id="outcome" class="outcome {outcome.tone}" aria-labelledby="verdict">\n'
        f'<h{level} id="verdict" class="verdict" tabindex="-1"><span class="mark" aria-hidden="true">{mark}</span>'
        f"{_e(words['verdict.' + outcome.verdict])}</h{level}>\n"
        f'<p class="reason">{_e(outcome.reason)}</p>\n'
    ]
    sub = level + 1
    if outcome.holder:
        parts.append(f"<h{sub}>{_e(words['details.holder'])}</h{sub}>\n<dl>\n{_rows(outcome.holder)}</dl>\n")
    if outcome.certificate:
        parts.append(f"<h{sub}>{_e(words['details.certificate'])}</h{sub}>\n<dl>\n{_rows(outcome.certificate)}</dl>\n")
    if outcome.note:
        parts.append(f'<p class="note">{_e(outcome.note)}</p>\n')
    parts.append("</section>\n")
    return "".join(parts)


def page(words: Mapping[str, str], action: str, outcome: Outcome | None = None, *, level: int = 1) -> str:
    """The verifier's page: the form alone, or (after a post) the outcome first, then the form to
    verify another. ``level``: the verdict's heading level (the script asks for 2 when it puts
    the outcome under the form page's own heading).
    """
    title = words["form.title"]
    if outcome is None:
        body = (
            f"<h1>{_e(title)}</h1>\n<p>{_e(words['form.intro'])}</p>\n"
            '<div id="result" aria-live="polite" data-level="2"></div>\n' + _form(words, action)
        )
        return _document(words, title, body, script=True)
    verdict = words["verdict." + outcome.verdict]
    body = (
        f'<div id="result" aria-live="polite" data-level="1">\n{outcome_section(words, outcome, level=level)}</div>\n'
        f"<h2>{_e(words['form.again'])}</h2>\n" + _form(words, action)
    )
    return _document(words, f"{verdict} \u2013 {title}", body, script=True)


def home_page(words: Mapping[str, str], verify: str, openapi: str) -> str:
    """The server's front page: what it is, and the way to the verifier's page."""
    body = (
        f"<h1>{_e(words['home.title'])}</h1>\n<p>{_e(words['home.intro'])}</p>\n"
        f'<ul>\n<li><a href="{_e(verify)}">{_e(words["home.verify"])}</a></li>\n'
        f'<li><a href="{_e(openapi)}">{_e(words["home.api"])}</a></li>\n</ul>\n'
    )
    return _document(words, words["home.title"], body, script=False)
