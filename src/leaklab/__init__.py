"""leaklab: show, measure and decide resource leaks in Python web apps."""

__version__ = "0.1.0"
