"""The CA bundle of Amazon RDS, fetched only when its SHA-256 is the one pinned in the repository.

    python deploy/rds_ca.py fetch     # rds-ca/global-bundle.pem, or stop: the image and the
                                      # Lambda package carry it (DATABASE_TLS_CA names it)
    python deploy/rds_ca.py pin       # where AWS is reachable: record the bundle's digest in
                                      # deploy/rds-ca-bundle.sha256, to review and commit

A bundle taken from the network unchecked lets whoever answers for truststore.pki.rds.amazonaws.com
(a poisoned resolver, a proxy) choose which database servers the service trusts with card
payments' records. The digest is pinned in a reviewed commit instead; when AWS publishes a new
bundle (new regions, a CA rotation: docs/deploy.md) the fetch stops until someone pins again.

Standard library only: the Docker build and the Lambda packaging run it before anything else is
installed. RDS_CA_BUNDLE_URL and RDS_CA_BUNDLE_SHA256 (or --sha256) override the address and the
pin, for a mirror or an out-of-band verified digest.
"""

import argparse
import hashlib
import os
import ssl
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
PIN_FILE = HERE / "rds-ca-bundle.sha256"
DEFAULT_DESTINATION = HERE.parent / "rds-ca" / "global-bundle.pem"
# The bundle is ~170 KB; a response far larger is not it, and is not held in memory.
MAX_BYTES = 2 * 1024 * 1024


class BundleRefused(Exception):
    """The bundle is not the pinned one, or is not a CA bundle at all."""


def download(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (https or a mirror)
            body: bytes = response.read(MAX_BYTES + 1)
    except OSError as error:  # URLError, a timeout, a refused connection
        raise BundleRefused(f"could not fetch {url}: {error}") from error
    if len(body) > MAX_BYTES:
        raise BundleRefused(f"{url} sent more than {MAX_BYTES} bytes: not a CA bundle")
    return body


def ca_certificates(bundle: bytes) -> list[dict[str, Any]]:
    """The bundle's CA certificates as OpenSSL reads them; refuses anything else."""
    try:
        text = bundle.decode("ascii")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(cadata=text)
    except (UnicodeDecodeError, ssl.SSLError, ValueError) as error:
        raise BundleRefused(f"not a PEM bundle of certificates ({error})") from error
    certificates = context.get_ca_certs()
    if not certificates:
        raise BundleRefused("the bundle holds no CA certificate")
    return certificates


def pinned_digest(override: str | None) -> str:
    digest = (override or os.environ.get("RDS_CA_BUNDLE_SHA256", "")).strip().lower()
    if not digest and PIN_FILE.is_file():
        # "<digest>  global-bundle.pem (...)", as sha256sum writes it.
        digest = PIN_FILE.read_text().partition(" ")[0].strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise BundleRefused(
            f"no SHA-256 pinned for the RDS CA bundle ({PIN_FILE.name} is missing or not a "
            "digest): run `python deploy/rds_ca.py pin` where AWS is reachable, review the "
            "certificates it lists and commit the file, or pass RDS_CA_BUNDLE_SHA256 verified "
            "out of band"
        )
    return digest


def fetch(url: str, destination: Path, digest: str) -> int:
    """Writes the bundle to destination if its digest is the pinned one; returns its CA count."""
    bundle = download(url)
    actual = hashlib.sha256(bundle).hexdigest()
    if actual != digest:
        raise BundleRefused(
            f"{url} served a bundle with SHA-256 {actual}, not the pinned {digest}: AWS may have "
            "published a new bundle (run `python deploy/rds_ca.py pin` and review it) or "
            "something between here and AWS changed it; nothing was written"
        )
    count = len(ca_certificates(bundle))
    destination.parent.mkdir(parents=True, exist_ok=True)
    # Whole or not at all: a reader never sees half a bundle.
    with tempfile.NamedTemporaryFile(dir=destination.parent, delete=False) as partial:
        partial.write(bundle)
    Path(partial.name).chmod(0o644)
    Path(partial.name).replace(destination)
    return count


def pin(url: str) -> str:
    """Records the digest of the bundle url serves; prints its certificates for the review."""
    bundle = download(url)
    certificates = ca_certificates(bundle)
    for certificate in certificates:
        subject = dict(pair for names in certificate["subject"] for pair in names)
        sys.stdout.write(f"  {subject.get('commonName', '?')}, until {certificate['notAfter']}\n")
    digest = hashlib.sha256(bundle).hexdigest()
    PIN_FILE.write_text(
        f"{digest}  global-bundle.pem ({len(certificates)} CA certificates, from {url})\n"
    )
    return digest


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fetching = commands.add_parser("fetch", help="fetch the bundle if it is the pinned one")
    fetching.add_argument("--destination", type=Path, default=DEFAULT_DESTINATION)
    fetching.add_argument("--sha256", help="the digest to expect instead of the pinned one")
    commands.add_parser("pin", help="record the digest of the bundle AWS serves now")
    arguments = parser.parse_args(argv)
    url = os.environ.get("RDS_CA_BUNDLE_URL", DEFAULT_URL)
    try:
        if arguments.command == "pin":
            digest = pin(url)
            sys.stdout.write(f"pinned {digest} in {PIN_FILE}: review the bundle, then commit\n")
        else:
            count = fetch(url, arguments.destination, pinned_digest(arguments.sha256))
            sys.stdout.write(f"{arguments.destination}: {count} CA certificates, as pinned\n")
    except BundleRefused as error:
        sys.stderr.write(f"rds_ca: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
