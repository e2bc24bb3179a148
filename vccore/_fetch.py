"""Bounded http(s) fetching: the only network reads vccore makes, and only where an operator or a
request it serves names a URL (a Sunbird RC template URL, the contexts an operator locks).

Nothing here runs while a credential is verified or canonicalized: contexts are pinned
(:mod:`vccore.contexts`). What is fetched is bounded in size and time, and redirects are
followed only to http(s) URLs.
"""

from __future__ import annotations

import time
import urllib.parse
import urllib.request
from typing import Any, Final

from .codes import ErrorCode
from .errors import TemplateError

__all__ = ["FETCH_SECONDS", "MAX_FETCH_BYTES", "fetch_bounded"]

MAX_FETCH_BYTES: Final = 1 << 20
FETCH_SECONDS: Final = 2.0
"""A URL must answer within this (Sunbird RC's registry gives up on the signer after 5 s)."""


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects followed only to http(s) URLs (urllib's own would follow one to ftp)."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        if urllib.parse.urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise TemplateError(
                f"{req.full_url} redirects to {newurl}", code=ErrorCode.TEMPLATE_FETCH, url=req.full_url
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener() -> urllib.request.OpenerDirector:
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(),
        _HttpOnlyRedirects(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def fetch_bounded(url: str, *, limit: int = MAX_FETCH_BYTES, seconds: float = FETCH_SECONDS) -> bytes:
    """GET ``url`` (http or https only, redirects too): at most ``limit`` bytes, within about
    ``seconds`` (each wait on the network is bounded by what is left, and the whole is checked
    after each read). TemplateError (``TEMPLATE_FETCH``, ``url``) otherwise.
    """
    if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
        raise TemplateError(f"{url} is not an http(s) URL", code=ErrorCode.TEMPLATE_FETCH, url=url)
    deadline = time.monotonic() + seconds

    def late() -> TemplateError:
        return TemplateError(f"{url} did not answer within {seconds:g} s", code=ErrorCode.TEMPLATE_FETCH, url=url)

    request = urllib.request.Request(url, headers={"Accept": "application/json, text/plain, */*"})  # noqa: S310 (http(s) only: checked above, and by the opener's handlers)
    try:
        with _opener().open(request, timeout=seconds) as answer:
            body = bytearray()
            while chunk := answer.read1(65536):
                body += chunk
                if len(body) > limit:
                    raise TemplateError(
                        f"{url} is larger than {limit} bytes", code=ErrorCode.TEMPLATE_FETCH, url=url, limit=limit
                    )
                if time.monotonic() > deadline:
                    raise late()
            return bytes(body)
    except TemplateError:
        raise
    except TimeoutError:
        raise late() from None
    except (OSError, ValueError) as exc:
        if "timed out" in str(exc):
            raise late() from None
        raise TemplateError(f"{url} could not be fetched: {exc}", code=ErrorCode.TEMPLATE_FETCH, url=url) from None
