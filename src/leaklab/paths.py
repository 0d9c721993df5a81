"""Where the repository's non-Python parts live (configs the launcher renders or runs)."""

from pathlib import Path

import webapp

SERVICES = Path(webapp.__file__).resolve().parents[1]
REPO = SERVICES.parent
GUNICORN_CONF = SERVICES / "gunicorn.conf.py"
PROMETHEUS_CONFIG = REPO / "monitoring" / "prometheus" / "prometheus.yml"
