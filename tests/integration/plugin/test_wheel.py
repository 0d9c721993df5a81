"""The built wheel, as `pip install leaklab` gives it: `check` and the plugin without the
demo's server libraries.

The wheel is built from this checkout and installed without dependencies into a fresh
venv, which sees this project's installed libraries (a .pth file) except the demo's
(psycopg2, redis, SQLAlchemy, Gunicorn, prometheus-flask-exporter: imports of them fail
there). Its metadata lists those only under the `demo` extra. Then a plugin-enabled Locust
from that venv runs at a foreign app.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import sysconfig
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from target_server import serving

from leaklab.paths import REPO

HERE = Path(__file__).resolve().parent
DEMO_ONLY = ("psycopg2", "redis", "sqlalchemy", "gunicorn", "prometheus_flask_exporter")
BLOCKER = f"""
import sys
class _DemoOnly:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {DEMO_ONLY!r}:
            raise ImportError(f"{{name}} is the demo's: not installed with leaklab alone")
        return None
sys.meta_path.insert(0, _DemoOnly())
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
        timeout=240,
    )
    (built,) = out.glob("leaklab-*.whl")
    return built


@pytest.fixture(scope="module")
def fresh(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the wheel alone, and this project's libraries but the demo's."""
    home = tmp_path_factory.mktemp("venv")
    venv.create(home, with_pip=False)
    python = home / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    ours = sysconfig.get_paths()["purelib"]
    (site / "project-libraries.pth").write_text(f"{ours}\nimport leaklab_demo_only\n")
    (site / "leaklab_demo_only.py").write_text(BLOCKER)
    with zipfile.ZipFile(wheel) as archive:  # pip's job, minus resolving: unpack, add the script
        archive.extractall(site)
    script = home / "bin" / "leaklab"
    script.write_text(f"#!{python}\nfrom leaklab.cli import main\nmain()\n")
    script.chmod(0o755)
    locust = home / "bin" / "locust"
    locust.write_text(f"#!{python}\nfrom locust.main import main\nmain()\n")
    locust.chmod(0o755)
    return home


def test_the_demo_s_libraries_are_an_extra(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        requires = [
            line.split(":", 1)[1].strip()
            for line in archive.read(meta).decode().splitlines()
            if line.startswith("Requires-Dist:")
        ]
    core = {re.split(r"[<>=!; ]", r)[0].lower() for r in requires if ";" not in r}
    assert {"locust", "numpy", "prometheus-client", "click"} <= core
    assert not core & {"psycopg2-binary", "redis", "sqlalchemy", "gunicorn"}, core
    assert any(r.startswith("psycopg2-binary") and 'extra == "demo"' in r for r in requires)


@pytest.fixture
def target(tmp_path: Path) -> Iterator[str]:
    with serving(tmp_path / "app.log") as url:
        yield url


def test_check_and_the_plugin_run_from_the_wheel_alone(
    fresh: Path, target: str, tmp_path: Path
) -> None:
    blocked = subprocess.run(
        [str(fresh / "bin" / "python"), "-c", "import psycopg2"], capture_output=True, text=True
    )
    assert blocked.returncode != 0 and "the demo's" in blocked.stderr  # the venv is honest
    helped = subprocess.run(
        [str(fresh / "bin" / "leaklab"), "check", "--help"], capture_output=True, text=True
    )
    assert helped.returncode == 0 and "--resource" in helped.stdout, helped.stderr
    out = tmp_path / "leak.json"
    run = subprocess.run(
        [str(fresh / "bin" / "locust"), "-f", str(HERE / "locustfile.py"), "--host", target]
        + ["--headless", "-u", "10", "-r", "10", "-t", "15s", "--only-summary"]
        + ["--leak-metrics", f"{target}/metrics", "--leak-json", str(out)]
        # six phases in 15 s, so /files and /steady vary apart; two reads a second, so the
        # short run has the points a LEAK claim needs (at 1 s it would be UNDECIDED)
        + ["--leak-phase", "2.5", "--leak-step", "0.5"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "TARGET_PATHS": "/files,/steady"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 4, run.stdout[-2000:] + run.stderr[-3000:]
    fds = json.loads(out.read_text())["apps"]["target"]["resources"]["fds"]
    assert fds["verdict"] == "LEAK" and fds["endpoints"][0]["name"] == "/files", fds
