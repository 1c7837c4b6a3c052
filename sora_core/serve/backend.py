"""The server's pipelines: one text-to-video :class:`~sora_core.api.VideoGenerator`, built and checked before
the server listens, and one :class:`~sora_core.api.Understander` per video-to-text route, built on first use.

A batch of generation jobs is one ``pipeline.run({"prompt": [p1, p2, ...]}, seed=seed)``. The sampler draws the
noise of the whole batch from one seeded stream, so seeds cannot differ inside one call: only jobs with the
same seed (and the same sizes and sampling) are batched. Job ``i`` of a batch gets the ``i``-th rows of that
stream, so the same prompts in the same order with the same seed make the same videos. Runs of every
pipeline take turns (one lock): a run seeds torch's global generator, which another run at the same time
would disturb. With ``settings.ray`` the pipeline's executed nodes run on Ray Serve
(:mod:`sora_core.serve.ray_deploy`), deployed once the pipeline is built and checked here.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sora_core import api
from sora_core.errors import ConfigError, SoraError
from sora_core.serve.problems import ServeError, from_sora_error
from sora_core.serve.requests import SETTINGS, GenerationRequest
from sora_core.serve.settings import ServeSettings

#: The request fields that set one config field of the pipeline (``seed`` sets the run), as ``sora generate``'s.
SETTING_FIELDS = {name: api.GENERATE_OPTIONS[name] for name in SETTINGS if name in api.GENERATE_OPTIONS}

#: The video-to-text routes: default template, extra inputs, wanted outputs.
UNDERSTANDING: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "caption": ("v2t", (), ("caption",)),
    "answer": ("vqa", ("question",), ("answer",)),
    "summary": ("summarize", (), ("frames", "summary")),
}

Progress = Callable[[int, int], None]


class Backend:
    """Builds the generator (every build-time check runs here: a bad template fails before the server listens)."""

    def __init__(self, settings: ServeSettings) -> None:
        options = dict(settings.generator)
        self.generator = api.VideoGenerator(template=settings.template, **options)
        self.pipeline = self.generator.pipeline
        self.lock = threading.Lock()
        self._progress: Progress | None = None
        self._total = 0
        self._done = 0
        self.pipeline.observe(self)
        #: Each node's config as built: what requests are checked against (the worker reconfigures the live one).
        self._configs = {
            node: self.pipeline.nodes[node].config
            for node, _ in SETTING_FIELDS.values()
            if node in self.pipeline.nodes and hasattr(self.pipeline.nodes[node], "config")
        }
        self.defaults: dict[str, Any] = {"seed": options.get("seed", 0)}
        for name, (node, field) in SETTING_FIELDS.items():
            self.defaults[name] = getattr(self._configs.get(node), field, None)
        self._current = dict(self.defaults)
        self._understanders: dict[str, api.Understander] = {}
        self.remote: Any = None  # the nodes on Ray Serve (--ray)
        if settings.ray is not None:
            from sora_core.serve.ray_deploy import RayNodes

            self.remote = RayNodes(settings.ray)
            try:
                self.remote.deploy(self.pipeline, settings.replicas, self.generator.seed)
            except BaseException:
                self.remote.shutdown()
                raise
            self.remote.attach(self.pipeline)

    def where(self) -> str:
        """Where the particles run: ``""`` here, or ``particles on Ray Serve: t2v.text_encoder x1, ...``."""
        return f"particles on Ray Serve: {self.remote.describe()}" if self.remote is not None else ""

    def close(self) -> None:
        """Delete what was deployed on Ray Serve (a ``--ray local`` Ray is stopped); nothing for a local one."""
        if self.remote is not None:
            self.remote.shutdown()
            self.remote = None

    # --- checking ----------------------------------------------------------------------------------------

    def check_settings(self, settings: dict[str, Any]) -> None:
        """Refuse settings the pipeline does not accept, with the api's and the particles' own checks."""
        try:
            api._check_guidance(settings.get("guidance"), api._API)
        except SoraError as exc:
            raise from_sora_error(exc, "guidance") from None
        from sora_core.config import validate_config

        for node, config in self._configs.items():
            changed = {
                field: settings[name]
                for name, (owner, field) in SETTING_FIELDS.items()
                if owner == node and settings.get(name) is not None and settings[name] != getattr(config, field)
            }
            if not changed:
                continue
            particle = getattr(self.pipeline.nodes[node], "registered_name", None) or node
            try:
                validate_config(type(config), config, changed, particle)
            except SoraError as exc:
                raise from_sora_error(exc, self._field_named(exc.message, node)) from None
        for name, (node, _) in SETTING_FIELDS.items():
            if settings.get(name) is not None and node not in self._configs:
                raise ServeError(
                    422,
                    f"this server's pipeline has no node {node!r} to take {name!r}",
                    f"leave {name!r} out: pipeline {self.pipeline.name!r} sets it itself",
                    field=name,
                )
        size = tuple(settings.get(name) for name in ("frames", "height", "width"))
        if all(isinstance(n, int) for n in size):
            try:
                api._check_size(size, api._API)
            except SoraError as exc:
                bigger = [n for n in ("height", "width", "frames") if settings[n] > (self.defaults[n] or 0)]
                raise from_sora_error(exc, bigger[0] if bigger else "frames") from None

    @staticmethod
    def _field_named(message: str, node: str) -> str | None:
        """The request field of the first config field a validation message names (``field 'frames' = 6``)."""
        found = re.search(r"field '(\w+)'", message)
        for name, (owner, field) in SETTING_FIELDS.items():
            if found and owner == node and field == found.group(1):
                return name
        return None

    # --- generating --------------------------------------------------------------------------------------

    def generate(self, requests: Sequence[GenerationRequest], progress: Progress) -> list[api.Video | SoraError]:
        """One pipeline call for ``requests`` (equal batch keys); per job a video or the ``SoraError`` that
        failed it. When the batch fails with a ``SoraError`` (one prompt names nothing the weights know), each
        job runs again alone, so only the jobs at fault fail."""
        settings = requests[0].settings
        if any(r.batch_key != requests[0].batch_key for r in requests):
            raise ConfigError("a batch holds jobs of different settings", "batch only jobs with equal batch keys")
        with self.lock:
            self._configure(settings)
            try:
                return self._run([r.prompt for r in requests], settings, progress)
            except SoraError as exc:
                if len(requests) == 1:
                    return [exc]
            results: list[api.Video | SoraError] = []
            for request in requests:
                try:
                    results += self._run([request.prompt], settings, progress)
                except SoraError as exc:
                    results.append(exc)
            return results

    def _configure(self, settings: dict[str, Any]) -> None:
        """Set the live pipeline's nodes to ``settings`` (only the nodes whose fields change)."""
        by_node: dict[str, dict[str, Any]] = {}
        for name, (node, field) in SETTING_FIELDS.items():
            if node in self._configs and settings.get(name) is not None and settings[name] != self._current.get(name):
                by_node.setdefault(node, {})[field] = settings[name]
        for node, fields in by_node.items():
            self.pipeline.configure(node, **fields)
        self._current.update({k: v for k, v in settings.items() if v is not None})

    def _run(self, prompts: list[str], settings: dict[str, Any], progress: Progress) -> list[api.Video]:
        self._progress, self._done = progress, 0
        self._total = sum(len(level) for level in self.pipeline.plan().levels)
        seed = settings["seed"]
        if self.remote is not None:
            self.remote.attach(self.pipeline)  # a node reconfigured for this batch is a local particle again
        try:
            with api._Recorder(False, api._API) as recorder:
                outputs = self.pipeline.run({"prompt": prompts}, seed=seed, progress=False)
        finally:
            self._progress = None
        made = outputs["video"]
        if getattr(made, "ndim", 0) != 5 or made.shape[0] != len(prompts):
            raise ConfigError(
                f"pipeline {self.pipeline.name!r} made {tuple(getattr(made, 'shape', ()))} for {len(prompts)} prompts",
                "serve a template whose 'video' output has one row per prompt",
            )
        api._check_size(tuple(made.shape[-3:]), api._API, made=True)
        messages = [str(r.message) for r in api._unique([*self.generator._build_warnings, *recorder.records])]
        return [
            api.Video(made[i], fps=self.generator.fps, prompt=prompt, seed=seed, warnings=messages)
            for i, prompt in enumerate(prompts)
        ]

    def sora_after_node(self, **_: Any) -> None:
        """Pipeline observer: one more node run (the progress of the running batch)."""
        self._done += 1
        if self._progress is not None:
            self._progress(self._done, self._total)

    # --- understanding -----------------------------------------------------------------------------------

    def understand(self, kind: str, clip: Path, question: str | None = None) -> dict[str, Any]:
        """Caption, answer or summarize the clip at ``clip`` with that route's template (built once)."""
        template, inputs, wanted = UNDERSTANDING[kind]
        try:
            video = api.load_video(clip)
        except SoraError as exc:  # the server's temporary name is no business of the client's
            raise ServeError(
                422, exc.message.replace(str(clip), "the uploaded clip"), exc.hint, field="video"
            ) from None
        with self.lock:
            understander = self._understanders.get(kind)
            if understander is None:
                try:
                    understander = api.Understander(inputs, wanted, template=None, default=template)
                except SoraError as exc:  # the server's own fault, not the request's
                    raise ServeError(503, f"cannot build the {template} pipeline: {exc.message}", exc.hint) from None
                self._understanders[kind] = understander
            values = {"question": [question]} if question is not None else {}
            try:
                outputs, records = understander.run(video, values)
            except SoraError as exc:
                raise from_sora_error(exc, "video") from None
        warnings = list(dict.fromkeys(str(r.message) for r in records))
        if kind == "caption":
            return {"caption": str(outputs["caption"][0]), "warnings": warnings}
        if kind == "answer":
            return {"question": question, "answer": str(outputs["answer"][0]), "warnings": warnings}
        summary = api.summary_of(outputs, records)
        return {"summary": summary.text, "key_frames": summary.key_frames, "warnings": warnings}
