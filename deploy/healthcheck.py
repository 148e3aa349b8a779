"""The web container's health check: exits 0 when this container's gunicorn answers /healthz.

Docker's HEALTHCHECK (Dockerfile) and an ECS container health check run it inside the
container: `python deploy/healthcheck.py`. It needs nothing the image does not have (no curl).
"""

import os
import sys
import urllib.request


def allowed_host() -> str:
    """A Host header Django accepts. Production's DJANGO_ALLOWED_HOSTS names the site, not
    127.0.0.1, and Django answers any other host 400: ask as the first host it serves."""
    first = os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",")[0].strip()
    if first in ("", "*"):
        return "localhost"
    # ".example.com" allows example.com itself and every subdomain.
    return first.lstrip(".")


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz", headers={"Host": allowed_host()}
    )
    try:
        # A fixed http:// address, never one from outside.
        with urllib.request.urlopen(request, timeout=3) as response:  # noqa: S310
            return 0 if response.status == 200 else 1
    except OSError as error:
        sys.stderr.write(f"/healthz did not answer 200: {error}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
