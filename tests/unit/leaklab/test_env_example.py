"""Every variable leaklab reads is documented in .env.example."""

import re

from leaklab.paths import LOCUSTFILE, REPO

SETTINGS = REPO / "src" / "leaklab" / "settings.py"


def _documented() -> set[str]:
    text = (REPO / ".env.example").read_text()
    return set(re.findall(r"^([A-Z][A-Z0-9_]+)=", text, flags=re.M))


def test_every_setting_is_documented() -> None:
    read = set(
        re.findall(r'"((?:LEAKLAB|LOCUST|WEB|PROMETHEUS)_[A-Z0-9_]+)"', SETTINGS.read_text())
    )
    assert read, "no variables found: the pattern is stale"
    assert read - _documented() == set()


def test_every_locust_option_of_ours_is_documented() -> None:
    read = set(re.findall(r'env_var="(LOCUST_[A-Z_]+)"', LOCUSTFILE.read_text()))
    assert {"LOCUST_LEAKY_HOST", "LOCUST_PACE"} <= read
    assert read - _documented() == set()
