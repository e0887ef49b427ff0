"""simcluster: a Kubernetes API server with the Banzai Istio operator's behaviour, for rehearsals."""
