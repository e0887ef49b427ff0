"""The kubelet (and scheduler) of the one simulated node: pods start, become Ready, finish.

Pods are bound to the node at admission and turn Running after a short delay, with the
statuses a real kubelet reports (sorted containerStatuses, containerd image references,
``imageID`` digests, init containers Completed, Ready/ContainersReady conditions). A pod created
while ``stuck-rollout`` is on stays Running but not Ready until the fault is switched off. Job
pods run to completion, except that an Istio 1.6/1.7 sidecar keeps them Running. A deleted pod
stays Terminating for a moment before it goes, as with a grace period.

Failures that do not heal: a container whose image was never released (``simcluster.registry``)
waits in ``ErrImagePull``, then ``ImagePullBackOff`` (an init container's failure holds the whole
pod in ``Init:``), and a container named in the pod annotation ``CRASH_LOOP`` (comma-separated;
set it in a pod template) exits 1 and waits in ``CrashLoopBackOff``.
"""

from __future__ import annotations

import hashlib
import itertools
from typing import TYPE_CHECKING, Any

from simcluster.apiobject import deep_copy, now_rfc3339
from simcluster.controllers.objects import controller_of, terminating
from simcluster.registry import pull_error

if TYPE_CHECKING:
    from collections.abc import Callable

    from simcluster.controllers import Controllers

__all__ = [
    "CRASH_LOOP",
    "CRASH_MESSAGE",
    "HOST_IP",
    "NEVER_READY",
    "NODE_NAME",
    "START_DELAY",
    "TERMINATION",
    "Kubelet",
    "pod_ready",
]

Obj = dict[str, Any]
NODE_NAME = "simcluster-node"
HOST_IP = "172.18.0.2"
START_DELAY = 0.03  # seconds from pod creation to Running
TERMINATION_DELAY = 0.1  # seconds a deleted pod stays Terminating (the grace period, shortened)
TERMINATION = "simcluster.istio-canary.dev/graceful-termination"
"""A finalizer standing in for graceful deletion: the store removes finalizer-free pods at once,
so pods carry this one and the kubelet drops it once the (shortened) grace period is over."""
CRASH_LOOP = "simcluster.istio-canary.dev/crash-loop"
# A pod annotated so never passes readiness (the Sail fault revision-stuck sets it on istiod).
NEVER_READY = "simcluster.istio-canary.dev/never-ready"
"""Pod annotation: the containers (comma-separated names) that exit 1 at every start."""
CRASH_MESSAGE = "simcluster.istio-canary.dev/crash-message"
"""Pod annotation: what a crash-looping container prints as it exits, reported as its
`lastState.terminated.message` (as a real kubelet does under `FallbackToLogsOnError`)."""


def pod_ready(pod: Obj) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def _image_ref(image: str) -> str:
    """How containerd reports an image: registry and tag made explicit."""
    name = image
    first = name.split("/", 1)[0]
    if "/" not in name:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    last = name.rsplit("/", 1)[-1]
    if ":" not in last and "@" not in last:
        name += ":latest"
    return name


def _image_id(image: str) -> str:
    ref = _image_ref(image)
    repo = ref.split("@", 1)[0].rsplit(":", 1)[0]
    return f"{repo}@sha256:{hashlib.sha256(ref.encode()).hexdigest()}"


class Kubelet:
    """Pod lifecycle on the simulated node."""

    def __init__(self, ctl: Controllers) -> None:
        self.ctl = ctl
        self.store = ctl.store
        self._ips = itertools.count(2)
        self._stuck: set[str] = set()  # uids of pods created while stuck-rollout was on
        self._pending: dict[tuple[str, str], None] = {}  # pods to start at the next tick

    def handlers(self) -> dict[str, Callable[[str, str], None]]:
        return {
            "pod": self.sync_pod,
            "podexit": self.finish_pod,
            "podtick": self.start_pending,
            "podgone": self.remove_terminated,
        }

    def admit(self, operation: str, obj: Obj, old: Obj | None) -> None:
        """At pod creation: bind to the one node (the scheduler) and note stuck-rollout."""
        if operation != "CREATE" or obj.get("kind") != "Pod":
            return
        obj.setdefault("spec", {}).setdefault("nodeName", NODE_NAME)
        finalizers = obj["metadata"].setdefault("finalizers", [])
        if TERMINATION not in finalizers:
            finalizers.append(TERMINATION)
        never = NEVER_READY in (obj["metadata"].get("annotations") or {})
        if self.ctl.faults.enabled("stuck-rollout") or never:
            self._stuck.add(obj["metadata"]["uid"])

    def on_event(self, event: str, obj: Obj, old: Obj | None) -> None:
        if obj.get("kind") != "Pod":
            return
        meta = obj["metadata"]
        if event == "DELETED":
            self._stuck.discard(meta["uid"])
        elif meta.get("deletionTimestamp"):
            # Terminating: the kubelet stops the containers, then lets the API remove the pod.
            self.ctl.after(TERMINATION_DELAY, "podgone", meta.get("namespace", ""), meta["name"])
        elif (obj.get("status") or {}).get("phase", "Pending") == "Pending":
            # One timer per tick for all pods created meanwhile, so the controllers above see
            # a batch of pods starting together (as after a scale-up) rather than one by one.
            self._pending[(meta.get("namespace", ""), meta["name"])] = None
            self.ctl.after(START_DELAY, "podtick", "", "")

    def remove_terminated(self, ns: str, name: str) -> None:
        """The grace period is over: release the pod so the API server deletes it."""
        pod = self.store.get("Pod", ns, name)
        if pod is None or not pod["metadata"].get("deletionTimestamp"):
            return
        finalizers = pod["metadata"].get("finalizers") or []
        if TERMINATION in finalizers:
            pod["metadata"]["finalizers"] = [f for f in finalizers if f != TERMINATION]
            self.store.update(pod)

    def start_pending(self, _ns: str, _name: str) -> None:
        """Start the pods of this tick, a few hundred at a time so the API keeps answering."""
        batch = list(itertools.islice(self._pending, 200))
        for key in batch:
            del self._pending[key]
            self.sync_pod(*key)
        if self._pending:
            self.ctl.enqueue("podtick", "", "")

    def release_stuck(self) -> None:
        """stuck-rollout was switched off: the stuck pods pass their readiness probes now."""
        uids = set(self._stuck)
        self._stuck.clear()
        for pod in self.store.list("Pod", shared=True)[0]:
            if pod["metadata"]["uid"] in uids:
                self.ctl.enqueue(
                    "pod", pod["metadata"].get("namespace", ""), pod["metadata"]["name"]
                )

    def sync_pod(self, ns: str, name: str) -> None:
        """Start a Pending pod (Running, all containers up) or mark a released one Ready."""
        pod = self.store.get("Pod", ns, name)
        if pod is None or terminating(pod):
            return
        status = pod.get("status") or {}
        pulls = _pull_failures(pod)
        if pulls:
            new = _pull_failed_status(pod, pulls, self._next_ip)
            if new != status:
                pod["status"] = new
                self.store.update(pod, status_only=True)
            if any(e[0] == "ErrImagePull" for e in _waiting(new).values()):
                self.ctl.after(START_DELAY * 3, "pod", ns, name)  # the back-off starts
            return
        stuck = pod["metadata"]["uid"] in self._stuck
        if status.get("phase") == "Running" and pod_ready(pod) != stuck:
            return
        pod["status"] = self._running_status(pod, ready=not stuck)
        self.store.update(pod, status_only=True)
        owner = controller_of(pod)
        if owner and owner.get("kind") == "Job" and not stuck:
            self.ctl.after(START_DELAY, "podexit", ns, name)

    def finish_pod(self, ns: str, name: str) -> None:
        """A Job's containers run to completion (exit 0). A sidecar keeps running, as Istio
        1.6/1.7 proxies do without native sidecars, so such a pod never Succeeds."""
        pod = self.store.get("Pod", ns, name)
        if pod is None or terminating(pod) or (pod.get("status") or {}).get("phase") != "Running":
            return
        status = deep_copy(pod["status"])
        now = now_rfc3339()
        sidecar = False
        for cs in status.get("containerStatuses") or []:
            if cs["name"] == "istio-proxy":
                sidecar = True
                continue
            started = (cs.get("state") or {}).get("running", {}).get("startedAt", now)
            cs["state"] = {
                "terminated": {
                    "exitCode": 0,
                    "reason": "Completed",
                    "startedAt": started,
                    "finishedAt": now,
                    "containerID": cs.get("containerID", ""),
                }
            }
            cs["ready"] = False
            cs["started"] = False
        for cond in status.get("conditions") or []:
            if cond["type"] in ("Ready", "ContainersReady"):
                cond.update(status="False", lastTransitionTime=now)
                if not sidecar:
                    cond["reason"] = "PodCompleted"
                else:
                    apps = [
                        c["name"] for c in status["containerStatuses"] if c["name"] != "istio-proxy"
                    ]
                    cond["reason"] = "ContainersNotReady"
                    cond["message"] = f"containers with unready status: [{' '.join(apps)}]"
        if not sidecar:
            status["phase"] = "Succeeded"
        pod["status"] = status
        self.store.update(pod, status_only=True)

    def _running_status(self, pod: Obj, *, ready: bool) -> Obj:
        spec = pod.get("spec") or {}
        old = pod.get("status") or {}
        now = now_rfc3339()
        started = old.get("startTime") or now
        ip = old.get("podIP") or self._next_ip()
        uid = pod["metadata"]["uid"]

        def cid(name: str) -> str:
            return "containerd://" + hashlib.sha256(f"{uid}/{name}".encode()).hexdigest()

        inits = [
            {
                "name": c["name"],
                "image": _image_ref(str(c.get("image", ""))),
                "imageID": _image_id(str(c.get("image", ""))),
                "containerID": cid(c["name"]),
                "ready": True,
                "restartCount": 0,
                "started": False,
                "lastState": {},
                "state": {
                    "terminated": {
                        "exitCode": 0,
                        "reason": "Completed",
                        "startedAt": started,
                        "finishedAt": started,
                        "containerID": cid(c["name"]),
                    }
                },
            }
            for c in spec.get("initContainers") or []
        ]
        app_names = [c["name"] for c in spec.get("containers") or [] if c["name"] != "istio-proxy"]
        crashing = _crash_looping(pod)
        unready = sorted({*([] if ready else app_names[:1]), *crashing})
        statuses = [
            {
                "name": c["name"],
                "image": _image_ref(str(c.get("image", ""))),
                "imageID": _image_id(str(c.get("image", ""))),
                "containerID": cid(c["name"]),
                "ready": c["name"] not in unready,
                "restartCount": 0,
                "started": True,
                "lastState": {},
                "state": {"running": {"startedAt": started}},
            }
            for c in spec.get("containers") or []
        ]
        for cs in statuses:
            if cs["name"] in crashing:
                cs.update(_crash_loop_state(pod, str(cs["name"]), cs["containerID"], now))
        flag = "True" if not unready else "False"
        not_ready = {
            "reason": "ContainersNotReady",
            "message": f"containers with unready status: [{' '.join(unready)}]",
        }
        conditions: list[Obj] = [
            {"type": "PodReadyToStartContainers", "status": "True"},
            {"type": "Initialized", "status": "True"},
            {"type": "Ready", "status": flag, **({} if ready else not_ready)},
            {"type": "ContainersReady", "status": flag, **({} if ready else not_ready)},
            {"type": "PodScheduled", "status": "True"},
        ]
        for cond in conditions:
            cond_prev: Obj | None = next(
                (c for c in old.get("conditions") or [] if c.get("type") == cond["type"]), None
            )
            same = cond_prev is not None and cond_prev.get("status") == cond["status"]
            cond["lastProbeTime"] = None
            cond["lastTransitionTime"] = (
                cond_prev["lastTransitionTime"] if same and cond_prev else now
            )
        status: Obj = {
            "phase": "Running",
            "conditions": conditions,
            "hostIP": HOST_IP,
            "hostIPs": [{"ip": HOST_IP}],
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": started,
            "qosClass": old.get("qosClass", "BestEffort"),
            "containerStatuses": sorted(statuses, key=lambda c: str(c["name"])),  # kubelet sorts
        }
        if inits:
            status["initContainerStatuses"] = inits
        return status

    def _next_ip(self) -> str:
        n = next(self._ips)
        return f"10.244.{n // 250}.{n % 250 + 2}"


def _crash_looping(pod: Obj) -> set[str]:
    raw = (pod["metadata"].get("annotations") or {}).get(CRASH_LOOP, "")
    return {n.strip() for n in str(raw).split(",") if n.strip()}


def _crash_loop_state(pod: Obj, name: str, container_id: str, now: str) -> Obj:
    """A container that exited 1 and is being restarted with back-off (its second failure)."""
    meta = pod["metadata"]
    said = str((meta.get("annotations") or {}).get(CRASH_MESSAGE, ""))
    return {
        "ready": False,
        "started": False,
        "restartCount": 2,
        "lastState": {
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "startedAt": now,
                "finishedAt": now,
                "containerID": container_id,
                **({"message": said} if said else {}),
            }
        },
        "state": {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off 20s restarting failed container={name} "
                f"pod={meta['name']}_{meta.get('namespace', '')}({meta['uid']})",
            }
        },
    }


def _pull_failures(pod: Obj) -> dict[str, str]:
    """{container name: containerd's error} for containers whose image does not exist."""
    spec = pod.get("spec") or {}
    out: dict[str, str] = {}
    for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        error = pull_error(_image_ref(str(c.get("image", ""))))
        if error:
            out[str(c["name"])] = error
    return out


def _waiting(status: Obj) -> dict[str, tuple[str, str]]:
    """{container name: (waiting reason, message)} of a pod status."""
    out = {}
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in status.get(key) or []:
            waiting = (cs.get("state") or {}).get("waiting")
            if waiting:
                out[str(cs["name"])] = (
                    str(waiting.get("reason", "")),
                    str(waiting.get("message", "")),
                )
    return out


def _pull_failed_status(pod: Obj, errors: dict[str, str], next_ip: Callable[[], str]) -> Obj:
    """A Pending pod whose images cannot be pulled: ErrImagePull first, ImagePullBackOff after.

    As the kubelet runs init containers in order, a failing init container leaves the later
    ones and every regular container waiting in ``PodInitializing``; otherwise the containers
    whose images exist run.
    """
    spec = pod.get("spec") or {}
    old = pod.get("status") or {}
    before = _waiting(old)
    before_state = {
        str(cs["name"]): cs.get("state") or {} for cs in old.get("containerStatuses") or []
    }
    now = now_rfc3339()
    blocked = False

    def entry(c: Obj, *, init: bool) -> Obj:
        nonlocal blocked
        name = str(c["name"])
        ref = _image_ref(str(c.get("image", "")))
        base: Obj = {"name": name, "image": ref, "imageID": "", "ready": False,
                     "restartCount": 0, "started": False, "lastState": {}}  # fmt: skip
        if name in errors and not blocked:
            seen = before.get(name, ("", ""))[0] in ("ErrImagePull", "ImagePullBackOff")
            waiting = (
                {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{ref}"'}
                if seen
                else {"reason": "ErrImagePull", "message": errors[name]}
            )
            blocked = blocked or init
            return {**base, "state": {"waiting": waiting}}
        if init and not blocked:
            return {**base, "imageID": _image_id(ref), "ready": True,
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                                             "startedAt": now, "finishedAt": now}}}  # fmt: skip
        if not init and not blocked:  # its image is there: it runs, the pod is still not Ready
            started = ((before_state.get(name) or {}).get("running") or {}).get("startedAt", now)
            return {**base, "imageID": _image_id(ref), "ready": True, "started": True,
                    "state": {"running": {"startedAt": started}}}  # fmt: skip
        return {**base, "state": {"waiting": {"reason": "PodInitializing"}}}

    inits = [entry(c, init=True) for c in spec.get("initContainers") or []]
    statuses = [entry(c, init=False) for c in spec.get("containers") or []]
    unready = " ".join(sorted(str(c["name"]) for c in statuses if not c["ready"]))
    incomplete = " ".join(str(c["name"]) for c in inits if not c["ready"])
    conditions: list[Obj] = [
        {"type": "PodReadyToStartContainers", "status": "True"},
        {"type": "Initialized", "status": "False" if incomplete else "True",
         **({"reason": "ContainersNotInitialized",
             "message": f"containers with incomplete status: [{incomplete}]"} if incomplete else {})},
        {"type": "Ready", "status": "False", "reason": "ContainersNotReady",
         "message": f"containers with unready status: [{unready}]"},
        {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady",
         "message": f"containers with unready status: [{unready}]"},
        {"type": "PodScheduled", "status": "True"},
    ]  # fmt: skip
    for cond in conditions:
        prev: Obj = next(
            (c for c in old.get("conditions") or [] if c.get("type") == cond["type"]), {}
        )
        cond["lastProbeTime"] = None
        cond["lastTransitionTime"] = (
            prev.get("lastTransitionTime", now) if prev.get("status") == cond["status"] else now
        )
    ip = old.get("podIP") or next_ip()
    status: Obj = {
        "phase": "Pending",
        "conditions": conditions,
        "hostIP": HOST_IP,
        "hostIPs": [{"ip": HOST_IP}],
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": old.get("startTime") or now,
        "qosClass": old.get("qosClass", "BestEffort"),
        "containerStatuses": sorted(statuses, key=lambda c: str(c["name"])),
    }
    if inits:
        status["initContainerStatuses"] = inits
    return status
