"""`python -m generator` runs the `istio-canary` command line."""

from generator.cli import main

main()
