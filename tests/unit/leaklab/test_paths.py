"""leaklab.paths finds the checkout by itself: no import of the web app (nor of Flask)."""

import subprocess
import sys

from leaklab import paths


def test_the_paths_are_the_checkouts() -> None:
    assert (paths.REPO / "pyproject.toml").is_file()
    assert paths.SERVICES == paths.REPO / "services"
    for path in (paths.GUNICORN_CONF, paths.PROMETHEUS_CONFIG, paths.LOCUSTFILE):
        assert path.is_file(), path
    assert paths.POSTGRES_EXPORTER_QUERIES.is_file()


def test_finding_them_imports_neither_the_app_nor_flask() -> None:
    code = "import sys, leaklab.paths; print('webapp' in sys.modules, 'flask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
