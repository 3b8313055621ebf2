"""`python -m polyplan`: the same entry point as the `polyplan` script."""

from polyplan.cli import main

if __name__ == "__main__":
    main()
