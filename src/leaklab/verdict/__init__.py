"""The verdict: LEAK / NO LEAK / UNDECIDED per app and resource, from a load run."""
