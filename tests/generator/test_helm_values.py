"""Values kept as text inside YAML (Argo CD `helm.values`, ConfigMap `values.yaml`) are edited in
place: the block's header, indentation and the text's own comments stay."""

from __future__ import annotations

import pytest
import yaml

from core.errors import ConflictError
from generator.flavours.helm.charts import same_ending
from generator.yamledit import apply_ops, set_block_text, set_value

APP = """spec:
  source:
    helm:
      values: |-
        # platform defaults
        pilot:
          env: {A: "1"}   # trailing

        global:
          hub: docker.io/istio
      releaseName: istiod
"""


def test_the_text_is_replaced_inside_its_block() -> None:
    inner = yaml.safe_load(APP)["spec"]["source"]["helm"]["values"]
    edited = same_ending(inner, apply_ops(inner, [set_value(0, ("revision",), "1-28-2")]))
    out = apply_ops(APP, [set_block_text(0, ("spec", "source", "helm", "values"), edited)])
    assert out == APP.replace(
        "          hub: docker.io/istio\n",
        "          hub: docker.io/istio\n        revision: 1-28-2\n",
    )
    assert yaml.safe_load(out)["spec"]["source"]["helm"]["values"] == edited


def test_a_plain_scalar_is_not_a_block() -> None:
    with pytest.raises(ConflictError, match="not a literal block"):
        apply_ops("values: 'a: 1'\n", [set_block_text(0, ("values",), "a: 2\n")])
