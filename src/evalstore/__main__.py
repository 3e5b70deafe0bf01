"""``python -m evalstore`` runs the CLI."""

from evalstore.cli import main

main()
