"""The README's Layout table and docs/architecture.md name the tree as it is: every path they
name exists, and every package of the product is named in the Layout table."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("config", "core", "accounts", "orders", "gateways", "payments", "notifications")


def _layout_rows() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| `")]


def _named_paths(text: str) -> set[str]:
    """Paths from the root in backticks: `payments/api/`, `payments/pipeline.py` (not a name
    relative to its row, `api/`, nor a URL, `/api/v1/`)."""
    names = {name.rstrip("/") for name in re.findall(r"`([a-z_./]+)`", text)}
    return {name for name in names if "/" in name and not name.startswith(("/", "."))}


def test_the_layout_table_has_rows():
    assert len(_layout_rows()) > 10


@pytest.mark.parametrize("path", sorted(_named_paths("\n".join(_layout_rows()))))
def test_every_path_the_layout_names_exists(path: str):
    assert (ROOT / path).exists(), f"README's Layout names {path}, which does not exist"


@pytest.mark.parametrize(
    "path",
    sorted(_named_paths((ROOT / "docs" / "architecture.md").read_text())),
)
def test_every_path_the_architecture_names_exists(path: str):
    assert (ROOT / path).exists(), f"docs/architecture.md names {path}, which does not exist"


def test_every_package_of_the_product_is_in_the_layout():
    first_column = {row.split("|")[1] for row in _layout_rows()}
    named = {name.rstrip("/") for cell in first_column for name in re.findall(r"`([^`]+)`", cell)}
    packages = {
        str(init.parent.relative_to(ROOT))
        for top in PRODUCT
        for init in [ROOT / top / "__init__.py", *(ROOT / top).glob("*/__init__.py")]
        if init.exists() and init.parent.name not in ("migrations", "management")
    }
    # A package is named by itself or by its app's row when it is one of the app's rooms.
    unnamed = {
        package
        for package in packages
        if package not in named and not (package.startswith(("gateways/", "orders/")))
    }

    assert unnamed == set()
