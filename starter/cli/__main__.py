"""`python -m starter.cli`: the `hotline` command."""

from starter.cli import main

main()
