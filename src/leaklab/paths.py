"""Where the repository's non-Python parts live (configs the launcher renders or runs)."""

from pathlib import Path

import webapp

SERVICES = Path(webapp.__file__).resolve().parents[1]
REPO = SERVICES.parent
GUNICORN_CONF = SERVICES / "gunicorn.conf.py"
PROMETHEUS_CONFIG = REPO / "monitoring" / "prometheus" / "prometheus.yml"
LOCUST_DIR = REPO / "locust"
LOCUSTFILE = LOCUST_DIR / "locustfile.py"
SHAPEFILE = LOCUST_DIR / "shape.py"
LOCUST_CONF = LOCUST_DIR / "locust.conf"
POSTGRES_EXPORTER_QUERIES = REPO / "monitoring" / "postgres-exporter" / "queries.yaml"
