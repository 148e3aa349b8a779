"""`.env.example` lists every variable the settings read: the one place to learn them."""

import re

from tests.processes import ROOT


def test_env_example_names_every_variable_the_settings_read():
    settings = (ROOT / "config" / "settings.py").read_text()
    example = (ROOT / ".env.example").read_text()
    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z0-9_]+)"', settings))

    listed = set(re.findall(r"(?m)^#?\s*([A-Z][A-Z0-9_]+)=", example))

    assert read, "no variables found: the pattern no longer matches settings.py"
    assert read - listed == set()
