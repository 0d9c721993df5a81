"""leaklab inside your own Locust run: import it first in the locustfile.

    import leaklab.locust  # the --leak-* options, the Leaks tab, the verdict in the exit code

Then `locust -f locustfile.py --leak-metrics http://127.0.0.1:8000/metrics ...`. Without
--leak-metrics or --leak-prometheus the plugin does nothing.
"""

from __future__ import annotations

from locust import events

from leaklab.locust.plugin import Plugin

PLUGIN = Plugin()
PLUGIN.install(events)
