"""istio-canary verifier: the fail-closed merge gate that checks each stage on the live cluster."""

__version__ = "0.1.0"
