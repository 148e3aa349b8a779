"""CA certificates made by the tests with openssl, in place of the ones AWS publishes."""

import subprocess
from pathlib import Path


def ca_bundle(folder: Path, *names: str) -> bytes:
    """A PEM bundle of self-signed CA certificates, one per name, as AWS's holds one per region."""
    for name in names:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", f"/CN={name}", "-keyout", folder / f"{name}.key",
             "-out", folder / f"{name}.pem"],
            check=True, capture_output=True,
        )  # fmt: skip
    return b"".join((folder / f"{name}.pem").read_bytes() for name in names)
