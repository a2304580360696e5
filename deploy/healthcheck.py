"""Container health check for an Estate http process: exit 0 only when /health/live answers 200.

Runs inside the image as ``estate-healthcheck`` (Docker's HEALTHCHECK). Standard library only, because
the runtime image has no curl and no wget. The URL is ``ESTATE_HEALTHCHECK_URL`` if set, else
``http://127.0.0.1:<port>/health/live`` with the port the service itself reads,
``ESTATE_<SERVICE>_HTTP_PORT`` (``ESTATE_SERVICE`` names the service in the image), else 8000.
Liveness, not readiness: a process that is up but cannot reach its database is not restarted; the
readiness probe takes it out of rotation instead.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def _url() -> str:
    explicit = os.environ.get("ESTATE_HEALTHCHECK_URL")
    if explicit:
        return explicit
    service = os.environ.get("ESTATE_SERVICE", "register").upper()
    port = os.environ.get(f"ESTATE_{service}_HTTP_PORT", "8000")
    return f"http://127.0.0.1:{port}/health/live"


def main() -> int:
    url = _url()
    # Only plain HTTP to this container: refuse file:// and friends that urlopen would also accept.
    if not url.startswith(("http://", "https://")):
        print(f"healthcheck: refusing non-HTTP URL {url!r}", file=sys.stderr)
        return 2
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 (scheme checked above)
            status = int(response.status)
    except (urllib.error.URLError, OSError) as exc:
        print(f"healthcheck: {url} unreachable: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"healthcheck: {url} answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
