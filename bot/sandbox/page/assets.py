"""The page's static files (``bot/sandbox/static``), read through importlib.resources so they are found in an
installed wheel as in a source checkout."""

from __future__ import annotations

from importlib import resources

from aiohttp import web

PACKAGE = "bot.sandbox"
FOLDER = "static"
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
# The page runs only its own files: no inline script, no event-handler attributes, nothing from elsewhere
# (a second wall behind building the DOM with textContent; MDN, Content-Security-Policy).
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def names() -> list[str]:
    """The files shipped in ``bot/sandbox/static``."""
    folder = resources.files(PACKAGE).joinpath(FOLDER)
    return sorted(entry.name for entry in folder.iterdir() if entry.is_file() and entry.name[0] != ".")


def read(name: str) -> bytes:
    """One static file's bytes; ``LookupError`` for a name that is not one of ``names()``."""
    if name not in names():
        raise LookupError(name)
    return resources.files(PACKAGE).joinpath(FOLDER, name).read_bytes()


def response(name: str) -> web.Response:
    """The file as an HTTP answer, with the page's security headers."""
    try:
        body = read(name)
    except LookupError:
        raise web.HTTPNotFound(text="no such file") from None
    suffix = name[name.rfind(".") :]
    return web.Response(body=body, content_type=TYPES.get(suffix, "application/octet-stream"), headers=HEADERS)
