"""``python -m pyhm`` runs the command line."""

from pyhm.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
