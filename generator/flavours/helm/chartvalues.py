"""What each minor of Istio's charts renamed or stopped reading, so a canary's copied values fit.

The new istiod release copies the old one's values, "except what the target renames or removes".
Both tables were built by comparing `manifests/charts/istio-control/istio-discovery/values.yaml`
(and `base`'s) at the istio/istio release tags minor by minor, 1.20.0 to 1.31.0-rc.0 (values
under `defaults:` before 1.24 and `_internal_defaults_do_not_set:` from 1.24 read as top-level),
then checked against the charts' templates and the release notes of each tag:

- renamed: `istio_cni.enabled` and `istio_cni.provider` became `pilot.cni.enabled` and
  `pilot.cni.provider` (release notes "move-istio_cni-to-pilot-values", "deprecate-istio_cni",
  1.22). The 1.22 and 1.23 templates read either name; 1.24 reads only `pilot.cni` ("52645":
  the `istio_cni` values removed). So the move is due when the target is 1.24 or newer. Dropping
  `istio_cni.enabled` instead would silently turn off CNI-mode injection: every new pod would
  get the privileged `istio-init` container again.
- removed: keys gone from values.yaml that no template reads any more, and the fields release
  note "51987" (1.24) removed from the values API for having no effect.

1.24 also flattened istiod's `pilot.*` values to the top level, but the chart still copies
`pilot.*` over them, so those are not renames. From 1.25 to 1.31 nothing was renamed; 1.27
removed `global.multiCluster.enabled` ("remove-extra-multicluster-helm-values").
"""

from __future__ import annotations

from core.versions import parse_version

__all__ = ["REMOVED_VALUES", "RENAMED_VALUES", "removed_values", "renamed_values"]

Minor = tuple[int, int]

RENAMED_VALUES: dict[str, dict[Minor, tuple[tuple[str, str], ...]]] = {
    "istiod": {
        (1, 24): (
            ("istio_cni.enabled", "pilot.cni.enabled"),
            ("istio_cni.provider", "pilot.cni.provider"),
        ),
    },
}

REMOVED_VALUES: dict[str, dict[Minor, tuple[str, ...]]] = {
    "istiod": {
        (1, 21): (
            "base.validateGateway",
            "telemetry.v2.accessLogPolicy",
            "telemetry.v2.metadataExchange",
            "telemetry.v2.prometheus.configOverride",
            "telemetry.v2.prometheus.wasmEnabled",
            "telemetry.v2.stackdriver.configOverride",
            "telemetry.v2.stackdriver.disableOutbound",
            "telemetry.v2.stackdriver.logging",
            "telemetry.v2.stackdriver.monitoring",
            "telemetry.v2.stackdriver.topology",
        ),
        (1, 22): ("global.jwtPolicy", "global.oneNamespace", "pilot.plugins"),
        (1, 23): ("pilot.configSource",),
        (1, 24): (
            "global.autoscalingv2API",
            "global.proxy.enableCoreDump",
            # deprecated for `provider` in 1.22 ("use `provider` instead"); gone in 1.24
            "istio_cni.chained",
            # release note 51987: without effect, removed from the values API
            "pilot.configNamespace",
            "pilot.enableProtocolSniffingForInbound",
            "pilot.enableProtocolSniffingForOutbound",
            "pilot.useMCP",
            "global.configRootNamespace",
            "global.defaultConfigVisibilitySettings",
            "global.useMCP",
            "sidecarInjectorWebhook.objectSelector",
            "sidecarInjectorWebhook.useLegacySelectors",
        ),
        (1, 27): ("global.multiCluster.enabled",),
    },
    "base": {
        (1, 22): ("global.configValidation", "global.istiod"),
        (1, 24): (
            "global.externalIstiod",
            "global.ipFamilies",
            "global.ipFamilyPolicy",
            "global.remotePilotAddress",
        ),
        (1, 25): ("global.platform",),
    },
}


def _between(source: str, target: str) -> tuple[Minor, Minor]:
    return parse_version(source)[:2], parse_version(target)[:2]


def removed_values(chart: str, source: str, target: str) -> tuple[str, ...]:
    """Dotted value keys `chart` stopped reading after `source`, up to and including `target`."""
    src, tgt = _between(source, target)
    return tuple(
        key
        for minor, keys in sorted(REMOVED_VALUES.get(chart, {}).items())
        if src < minor <= tgt
        for key in keys
    )


def renamed_values(chart: str, source: str, target: str) -> tuple[tuple[str, str], ...]:
    """(old, new) dotted keys `chart` renamed after `source`, up to and including `target`."""
    src, tgt = _between(source, target)
    return tuple(
        pair
        for minor, pairs in sorted(RENAMED_VALUES.get(chart, {}).items())
        if src < minor <= tgt
        for pair in pairs
    )
