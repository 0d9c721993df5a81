"""What the Locust plugin does that needs no Locust: its options, its request counters, and
the reads of the target. Importable (and tested) without gevent's monkey-patching."""
