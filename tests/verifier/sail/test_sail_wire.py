"""A cluster that does not serve the Sail kinds is "could not verify", said in one line.

Real client, real HTTP: the scripted API server serves pods and Services but no
`sailoperator.io` group, so its lists answer 404, as a cluster without the operator's CRDs does.
"""

from __future__ import annotations

import pytest

from core.errors import ClusterUnreachable
from tests.verifier.scripted_api import Script, serve
from verifier import sailview
from verifier.cluster import Cluster
from verifier.errors import NotFound


def test_missing_sail_crds_are_unverifiable_naming_the_kind_and_the_fix() -> None:
    with (
        serve(Script()) as url,
        Cluster(host=url) as c,
        pytest.raises(ClusterUnreachable) as caught,
    ):
        sailview.read(c)
    message = str(caught.value)
    assert not isinstance(caught.value, NotFound)  # not a fact a check could expect
    assert message.startswith("list istiocnis.sailoperator.io: not found")
    assert "the cluster serves no sailoperator.io/v1 kinds; install the Sail operator" in message
    assert "\n" not in message
