"""Where the repository's non-Python parts live (configs the launcher renders or runs).

Found from this file's own place in the checkout (src/leaklab/paths.py; `make install`
installs the checkout in editable mode), so finding them imports nothing: not the web app,
nor Flask with it.
"""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SERVICES = REPO / "services"
GUNICORN_CONF = SERVICES / "gunicorn.conf.py"
PROMETHEUS_CONFIG = REPO / "monitoring" / "prometheus" / "prometheus.yml"
LOCUST_DIR = REPO / "locust"
LOCUSTFILE = LOCUST_DIR / "locustfile.py"
SHAPEFILE = LOCUST_DIR / "shape.py"
LOCUST_CONF = LOCUST_DIR / "locust.conf"
POSTGRES_EXPORTER_QUERIES = REPO / "monitoring" / "postgres-exporter" / "queries.yaml"
