"""One table from error code to HTTP status, and the middleware that answers every error as JSON.

The body of an error is always ``{"error": {"code", "message", "where"}}`` with a code from
spec/errors.md, so a client branches on the code, never on prose.  An exception nothing expected is
logged with its traceback on the server and answered ``E_INTERNAL`` without details.
"""

from __future__ import annotations

import logging

from aiohttp import web

from ...core.errors import NotrainError

log = logging.getLogger("notrain.aggregator.api")


class ApiError(NotrainError):
    """A request the API refuses before any document is looked at."""

    code = "E_REQUEST"


STATUS = {
    "E_REQUEST": 400,
    "E_NOT_FOUND": 404,
    "E_METHOD": 405,
    "E_SIZE": 413,
    "E_MEDIA_TYPE": 415,
    "E_RATE_LIMITED": 429,
    "E_INTERNAL": 500,
    "E_UNAVAILABLE": 503,
    # Policy answers about a well-formed document: the request was understood, the document refused.
    "E_ROLLBACK": 409,
}
DOCUMENT_REFUSED = 422  # every other protocol code: the document is not acceptable as it is


def status_of(code: str) -> int:
    return STATUS.get(code, DOCUMENT_REFUSED)


def error_response(error: NotrainError, *, headers: dict | None = None) -> web.Response:
    return web.json_response({"error": error.to_json()}, status=status_of(error.code), headers=headers)


@web.middleware
async def errors_middleware(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except NotrainError as error:
        return error_response(error)
    except web.HTTPException as http:
        if http.status < 400:
            raise
        code = {404: "E_NOT_FOUND", 405: "E_METHOD", 413: "E_SIZE", 415: "E_MEDIA_TYPE"}.get(http.status, "E_REQUEST")
        body = {"error": {"code": code, "message": http.reason, "where": request.path}}
        return web.json_response(body, status=http.status, headers={k: v for k, v in http.headers.items() if k == "Allow"})
    except Exception:
        log.exception("unexpected error answering %s %s", request.method, request.path)
        body = {"error": {"code": "E_INTERNAL", "message": "internal error", "where": request.path}}
        return web.json_response(body, status=500)
