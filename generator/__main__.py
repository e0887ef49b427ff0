"""`python -m generator` runs the generator's `istio-canary` commands (`python -m rehearsal` adds demo)."""

from generator.cli import main

main()
