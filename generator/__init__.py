"""istio-canary generator: stages a Banzai Istio canary upgrade in a GitOps repo."""

__version__ = "0.1.0"
