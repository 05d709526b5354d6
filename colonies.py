"""Entry shim: `python colonies.py ...` runs the colonies CLI."""
from colonies_pkg.cli import main

raise SystemExit(main())
