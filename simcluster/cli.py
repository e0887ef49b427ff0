"""`simcluster serve`: a simulated cluster as a process, until SIGTERM/SIGINT."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from core.clikit import handle_errors, one_line_group
from core.errors import InputError, UsageError
from simcluster.faults import KNOWN_FAULTS, Faults

if TYPE_CHECKING:
    # The server (aiohttp, the store, the controllers) is imported by `serve` when it runs,
    # not for `--help`.
    from simcluster.server import SimServer


async def serve(server: SimServer, kubeconfig_out: Path) -> None:
    """Start, write the kubeconfig, print the ready line, and run until a stop signal."""
    import asyncio
    import signal

    from simcluster import kubeconfig

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    url = await server.start()
    try:
        kubeconfig.write(kubeconfig_out, url, ca_file=server.ca_file)
        click.echo(f"simcluster: serving {url} (kubeconfig {kubeconfig_out})")
        await stop.wait()
    finally:
        await server.stop()


def _require_branch(repo: Path, branch: str) -> None:
    """Refuse at start what the sync loop would otherwise warn about every interval, forever."""
    from core.git import git_status

    found, _, _ = git_status(
        "rev-parse", "-q", "--verify", f"refs/heads/{branch}^{{commit}}", cwd=repo
    )
    if found != 0:
        raise InputError(f"{repo}: branch {branch} has no commits; commit the manifests first")


@click.group(cls=one_line_group("simcluster"))
def main() -> None:
    """A simulated Kubernetes API server with the Banzai Istio operator's behaviour."""


@main.command("serve")
@click.option("--repo", type=click.Path(path_type=Path), help="GitOps repo to sync (like Argo CD).")
@click.option("--branch", default="main", show_default=True, help="Branch whose head is applied.")
@click.option(
    "--kubeconfig",
    "kubeconfig_out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("simcluster.kubeconfig"),
    show_default=True,
    help="Where to write the kubeconfig for this server.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True)
@click.option(
    "--sync-interval",
    type=click.FloatRange(min=0.01),
    default=1.0,
    show_default=True,
    help="Seconds.",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="NAME",
    help=f"Switch a fault on (repeatable): {', '.join(KNOWN_FAULTS)}.",
)
@click.option(
    "--tls", is_flag=True, help="Serve https with a self-signed certificate (next to OUT)."
)
@click.option(
    "--control-plane",
    type=click.Choice(["sim", "real"]),
    default="sim",
    show_default=True,
    help="sim: simcluster's own API server. real: realcluster's kube-apiserver, etcd, "
    "controller-manager, scheduler and kwok (make realcluster), with the Istio behaviours as "
    "its controllers (docs/realcluster.md).",
)
@handle_errors("simcluster")
def serve_cmd(
    repo: Path | None,
    branch: str,
    kubeconfig_out: Path,
    port: int,
    sync_interval: float,
    faults: tuple[str, ...],
    tls: bool,
    control_plane: str,
) -> None:
    """Serve the Kubernetes API on 127.0.0.1, sync REPO's branch head, run until SIGTERM."""
    import asyncio

    from simcluster.server import SimServer

    for name in faults:
        Faults.check_name(name)
    if repo is not None and not (repo / ".git").exists():
        raise InputError(f"{repo}: not a git repository (no .git)")
    if repo is not None:
        _require_branch(repo, branch)
    if control_plane == "real":
        if tls or port:
            raise UsageError("--control-plane real serves the real API server: no --tls, --port")
        from simcluster.realserver import serve_real

        serve_real(repo, branch, kubeconfig_out, sync_interval, faults)
        return
    server = SimServer(
        repo=repo,
        branch=branch,
        sync_interval=sync_interval,
        faults=Faults(faults),
        port=port,
        tls_dir=kubeconfig_out.parent / f"{kubeconfig_out.name}.tls" if tls else None,
    )
    try:
        asyncio.run(serve(server, kubeconfig_out))
    except OSError as err:
        raise UsageError(f"cannot serve on 127.0.0.1:{port}: {err.strerror or err}") from err
