"""Built-in renderers of the Helm charts simcluster's GitOps sync knows (no real Helm)."""
