"""``sora serve --ray``: each executed node of the served pipeline as a Ray Serve deployment of its own.

The serving process builds and checks the whole pipeline first, as without ``--ray``. Then one Serve application
(``sora.PIPELINE``) is deployed, holding one deployment per executed node (``t2v.text_encoder``, ``t2v.sampler``,
...; a component-only node such as the denoiser is built inside the deployment of the node that uses it). Each
replica builds its node and the node's components itself, from the node specs (registered particle name, config,
weights folder, device) through the registry, seeding each build as :meth:`Pipeline.from_spec` does, so its
particles are the serving process's. In the serving process each executed node is replaced by a
:class:`RemoteNode`, which sends the node's inputs, its current spec (config changes such as ``steps`` reach the
replicas this way) and the seed the engine has just set for it, and the replica seeds torch before its forward:
the videos are the local ones.

Ray is imported only here, and only with ``--ray``; Ray Serve's own HTTP proxy is off (the front is sora serve's).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sora_core.batch_ray import INSTALL, RayConnection
from sora_core.errors import ConfigError, PipelineRuntimeError, SoraError, SoraWarning

if TYPE_CHECKING:
    from sora_core.particle import Particle
    from sora_core.pipeline import Pipeline

__all__ = ["RayNodes", "RemoteNode", "app_name", "executed_nodes", "parse_replicas"]

#: Seconds a deployment may take to start (its replicas build their particles) before the start is given up.
DEPLOY_TIMEOUT = 600.0


def app_name(pipeline: str) -> str:
    """The Serve application of pipeline ``pipeline``."""
    return f"sora.{pipeline}"


def executed_nodes(pipeline: Pipeline) -> list[str]:
    """The nodes a run calls (each a deployment), in the order they run; component-only nodes are left out."""
    return [node for level in pipeline.plan().levels for node in level]


def parse_replicas(texts: list[str]) -> dict[str, int]:
    """``--replicas NODE=N`` flags as ``{node: N}``; a ``ConfigError`` naming the flag for a bad one."""
    replicas: dict[str, int] = {}
    for text in texts:
        node, sep, count = text.partition("=")
        if not sep or not node or not count.strip().isdigit() or not 1 <= int(count) <= 64:
            raise ConfigError(f"--replicas {text!r} is not NODE=N (N from 1 to 64)", "write e.g. --replicas sampler=2")
        replicas[node.strip()] = int(count)
    return replicas


def check_replicas(pipeline: Pipeline, replicas: Mapping[str, int]) -> dict[str, int]:
    """Replicas of every executed node (default 1); a ``ConfigError`` naming ``--replicas`` for another node."""
    nodes = executed_nodes(pipeline)
    unknown = [node for node in replicas if node not in nodes]
    if unknown:
        passive = [n for n in unknown if n in pipeline.nodes]
        why = f" ({', '.join(passive)}: built inside the node that uses it)" if passive else ""
        raise ConfigError(
            f"--replicas: pipeline {pipeline.name!r} has no executed node {unknown[0]!r}{why}",
            f"name one of its nodes: {', '.join(nodes)}",
        )
    return {node: replicas.get(node, 1) for node in nodes}


def _part(pipeline: Pipeline, node: str) -> dict[str, dict[str, Any]]:
    """The spec data of ``node`` and of the nodes its components name (particle names and configs only)."""
    spec = pipeline.spec.nodes[node]
    names = [*dict.fromkeys(spec.components.values()), node]
    return {name: pipeline.spec.nodes[name].model_dump(mode="json") for name in names}


class NodeReplica:
    """One replica of a node: its particle (with its components) built here from the node specs, then called."""

    def __init__(self, node: str, part: dict[str, dict[str, Any]], base_dir: str | None, seed: int | None) -> None:
        logging.getLogger("sora_core").setLevel(logging.WARNING)
        self.node, self.base_dir, self.seed = node, base_dir, seed
        self.particles = {name: self._build(name, data) for name, data in part.items()}
        self.specs = dict(part)
        self._bind()

    def _build(self, name: str, data: dict[str, Any]) -> Particle:
        from pathlib import Path

        import torch

        from sora_core.pipeline.execute import node_seed
        from sora_core.pipeline.pipeline import build_node
        from sora_core.pipeline.spec import NodeSpec
        from sora_core.registry import default_registry

        if self.seed is not None:  # fresh weights as Pipeline.from_spec makes them
            torch.manual_seed(node_seed(self.seed, name))
        base_dir = Path(self.base_dir) if self.base_dir else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SoraWarning)  # the serving process reported them when it built
            return build_node(NodeSpec.model_validate(data), default_registry, base_dir, materialize=True)

    def _bind(self) -> None:
        components = self.specs[self.node].get("components") or {}
        if components:
            self.particles[self.node].bind_components({slot: self.particles[t] for slot, t in components.items()})

    def __call__(self, part: dict[str, dict[str, Any]], inputs: dict[str, Any], seed: int) -> dict[str, Any]:
        """``{"outputs", "warnings"}``, or ``{"error", "hint"}`` for a ``SoraError`` of the particle's. ``part``:
        the node's and its components' specs now (the serving process reconfigures them: steps, sizes, ...)."""
        import torch

        try:
            changed = [name for name, data in part.items() if data != self.specs.get(name)]
            for name in changed:
                self.particles[name] = self._build(name, part[name])
                self.specs[name] = part[name]
            if changed:
                self._bind()
            torch.manual_seed(seed)
            with warnings.catch_warnings(record=True) as caught, torch.inference_mode():
                warnings.simplefilter("always", SoraWarning)
                outputs = self.particles[self.node](**inputs)
        except SoraError as exc:
            return {"error": exc.message, "hint": exc.hint}
        said = [str(w.message) for w in caught if issubclass(w.category, SoraWarning)]
        return {"outputs": dict(outputs), "warnings": list(dict.fromkeys(said))}


class RemoteNode:
    """Stands for a deployed node in ``pipeline``: its ports, kind and config are the local particle's; a call
    runs on a replica, sent the current specs of the node and its components."""

    def __init__(self, local: Particle, handle: Any, pipeline: Pipeline, node: str, deployment: str) -> None:
        self.local, self.handle, self.pipeline, self.node, self.deployment = local, handle, pipeline, node, deployment

    def __getattr__(self, name: str) -> Any:
        return getattr(self.local, name)

    def bind_components(self, targets: Mapping[str, Any]) -> None:
        """Nothing: the replica binds its own components."""

    def __call__(self, **inputs: Any) -> dict[str, Any]:
        import torch

        seed = torch.initial_seed()  # what the engine set for this node just now (its node seed)
        try:
            answer = self.handle.remote(_part(self.pipeline, self.node), inputs, seed).result()
        except Exception as exc:  # the replica died, or the cluster is gone
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise PipelineRuntimeError(
                f"node {self.node!r} on Ray Serve ({self.deployment}) failed: {type(exc).__name__}: {reason}"[:600],
                "submit the job again: Ray Serve replaces a replica that died; if the cluster is gone, restart "
                "sora serve --ray",
            ) from None
        if "error" in answer:
            raise PipelineRuntimeError(answer["error"], answer.get("hint"))
        for message in answer["warnings"]:
            warnings.warn(message, SoraWarning, stacklevel=2)
        return answer["outputs"]


class RayNodes:
    """The deployed nodes of one pipeline: :meth:`deploy` them, :meth:`attach` their proxies before each run,
    :meth:`shutdown` (the application is deleted; a ``--ray local`` Ray is stopped)."""

    def __init__(self, address: str) -> None:
        self.connection = RayConnection(address)
        self.app: str | None = None
        self.replicas: dict[str, int] = {}
        self.handles: dict[str, Any] = {}
        self.pipeline_name = ""

    def describe(self) -> str:
        """``t2v.text_encoder x1, t2v.sampler x2, ...``."""
        return ", ".join(f"{self.deployment(node)} x{count}" for node, count in self.replicas.items())

    def deployment(self, node: str) -> str:
        return f"{self.pipeline_name}.{node}"

    def deploy(self, pipeline: Pipeline, replicas: Mapping[str, int], seed: int | None) -> None:
        """Deploy every executed node of ``pipeline`` (already built and checked) with its replicas."""
        self.replicas = check_replicas(pipeline, replicas)  # refused before Ray is touched
        self.pipeline_name = pipeline.name
        try:
            import ray.serve  # noqa: F401
        except ImportError:
            raise ConfigError("sora serve --ray needs Ray Serve, which is not installed", INSTALL) from None
        _keeping_sigterm(self.connection.connect)
        from ray import serve

        logging.getLogger("ray.serve").setLevel(logging.WARNING)
        serve.start(proxy_location="Disabled")
        name = app_name(pipeline.name)
        if name in serve.status().applications:
            raise ConfigError(
                f"--ray {self.connection.address}: Ray Serve already runs an application {name!r}",
                "another sora serve --ray serves this pipeline on that cluster: stop it first (it deletes its "
                "application when it stops), or use another cluster",
            )
        base_dir = str(pipeline.base_dir) if pipeline.base_dir else None
        bound = {
            node: serve.deployment(NodeReplica)
            .options(
                name=self.deployment(node),
                num_replicas=count,
                ray_actor_options={"num_cpus": 0, **_gpus(pipeline, node, self.replicas)},
                max_ongoing_requests=1,  # a replica runs one forward at a time, as a local node does
                logging_config={"log_level": "WARNING", "enable_access_log": False},
            )
            .bind(node, _part(pipeline, node), base_dir, seed)
            for node, count in self.replicas.items()
        }
        ingress = serve.deployment(_Nodes).options(name=f"{pipeline.name}.nodes", ray_actor_options={"num_cpus": 0})
        self.app = name
        try:
            serve.run(ingress.bind(list(bound), *bound.values()), name=name, route_prefix=None)
        except Exception as exc:  # a replica could not build its node (a missing plugin on a worker machine, ...)
            self.delete()
            raise ConfigError(
                f"--ray {self.connection.address}: deploying {name} failed: {str(exc).strip()[:400]}",
                "every machine of the cluster needs sora-core and the pipeline's plugins and weights installed",
            ) from None
        self.handles = {node: serve.get_deployment_handle(self.deployment(node), app_name=name) for node in bound}

    def attach(self, pipeline: Pipeline) -> None:
        """Put a proxy in place of every executed node not yet one (a reconfigured node is a local one again)."""
        for node, handle in self.handles.items():
            if not isinstance(pipeline.nodes[node], RemoteNode):
                local = pipeline.nodes[node]
                pipeline.nodes[node] = RemoteNode(local, handle, pipeline, node, self.deployment(node))  # type: ignore[assignment]

    def delete(self) -> None:
        """Delete the application (when the cluster still answers)."""
        if self.app is None:
            return
        try:
            from ray import serve

            serve.delete(self.app)
        except Exception as exc:  # the cluster is gone: there is nothing left to delete
            logging.getLogger("sora_core.serve").warning("could not delete the Serve application: %s", exc)
        self.app = None

    def shutdown(self) -> None:
        self.delete()
        if self.connection.address == "local":
            self.connection.shutdown()


def _keeping_sigterm(connect: Any) -> None:
    """``connect()``, keeping this process's SIGTERM handler: a local Ray installs one that exits with status 15,
    and ``kill`` should stop the server as it does without ``--ray`` (gracefully, then by the signal)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        connect()
        return
    handler = signal.getsignal(signal.SIGTERM)
    try:
        connect()
    finally:
        signal.signal(signal.SIGTERM, handler)


def _gpus(pipeline: Pipeline, node: str, replicas: Mapping[str, int]) -> dict[str, float]:
    """A replica whose node (or a component) runs on CUDA asks Ray for a share of a GPU: all such replicas fit
    on one GPU together (Ray hides every GPU from a replica that asks for none)."""

    def on_cuda(name: str) -> bool:
        spec = pipeline.spec.nodes[name]
        return any(
            str(pipeline.spec.nodes[n].device or "").startswith("cuda") for n in [name, *spec.components.values()]
        )

    sharing = sum(count for name, count in replicas.items() if on_cuda(name))
    return {"num_gpus": 1 / sharing} if on_cuda(node) else {}


class _Nodes:
    """The application's ingress: it holds the node deployments (a Serve application has one entry deployment)
    and names them."""

    def __init__(self, nodes: list[str], *handles: Any) -> None:
        self.nodes = nodes

    def __call__(self) -> list[str]:
        return self.nodes
