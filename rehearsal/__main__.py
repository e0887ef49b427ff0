"""`python -m rehearsal` runs the `istio-canary` command line, demo included."""

from rehearsal.cli import main

main()
