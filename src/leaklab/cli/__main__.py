"""`python -m leaklab.cli`: the `leaklab` command."""

from leaklab.cli import main

if __name__ == "__main__":
    main()
