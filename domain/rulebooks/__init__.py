"""The rulebook versions shipped with the package, one JSON file each (``docs/rulebook-format.md``)."""
