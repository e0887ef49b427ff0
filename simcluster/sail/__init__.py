"""The Sail operator's model (istio-ecosystem/sail-operator, ``sailoperator.io/v1``): pure parts.

``versions`` knows which Istio versions an operator release installs and how a revision is
named; ``status`` decides conditions, states, "in use" and pruning from plain objects. The
controller that reads and writes the store is ``simcluster/controllers/sail.py``.
"""
