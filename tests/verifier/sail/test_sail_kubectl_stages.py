"""What `kubectl get` shows of the Sail objects at every stage of the example's upgrade.

The printer columns are the released CRDs' (pinned in tests/simcluster/test_sail_kubectl.py);
here the values a user reads in them after each verified stage must agree with what the plan
says: the `Istio`'s ACTIVE REVISION, the IstioRevisions present, and where the tag points.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.simcluster.test_sail_kubectl import ISTIO_COLUMNS, REVISION_COLUMNS, TAG_COLUMNS, tables
from tests.verifier.sail.test_sail_flow import sail_flow

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed"),
]

KINDS = "istios.sailoperator.io,istiorevisions.sailoperator.io,istiorevisiontags.sailoperator.io"


def test_the_columns_agree_with_the_plan_after_every_stage(tmp_path: Path) -> None:
    with sail_flow(tmp_path) as flow:
        plan = flow.pipeline.plan()
        seen: list[tuple[int, str, list[str], str]] = []
        for index in range(plan.total + 1):
            if index:
                flow.promote()
            verdict = flow.verify("stage", str(index))
            assert verdict.exit_code == 0, (index, verdict.reason)
            istio, revisions, tags = tables(flow.kubectl("get", KINDS))
            assert (istio[0], revisions[0], tags[0]) == (
                ISTIO_COLUMNS[:-1], REVISION_COLUMNS[:-1], TAG_COLUMNS[:-1]
            )  # fmt: skip
            active = istio[1][ISTIO_COLUMNS.index("ACTIVE REVISION")]
            assert active == plan.active_revision(index), index
            names = [r[0].split("/", 1)[1] for r in revisions[1:]]
            tag = tags[1][TAG_COLUMNS.index("REVISION")]
            assert tag == plan.tag_revision("prod", index), index
            seen.append((index, active, names, tag))
        old, new = plan.source.revision, plan.target.revision
        assert seen[0][1:] == (old, [old], old)
        assert seen[-1][1:] == (new, [new], new)  # the operator pruned every other revision
        assert {s[1] for s in seen} >= {old, new}
