"""A node that runs out of memory is a PipelineRuntimeError that says so, never an "unexpected MemoryError"."""

from __future__ import annotations

import pytest
import torch

from sora_core.config import ParticleConfig
from sora_core.errors import PipelineRuntimeError
from sora_core.interfaces import ModuleParticle
from sora_core.pipeline import PipelineBuilder
from sora_core.ports import PortSpec
from sora_core.registry import Registry


class Greedy(ModuleParticle):
    kind = "video_generator"
    Config = ParticleConfig
    failure: BaseException = MemoryError()

    def input_ports(self) -> dict[str, PortSpec]:
        return {"condition": PortSpec("float32", "B T C")}

    def output_ports(self) -> dict[str, PortSpec]:
        return {"video": PortSpec("float32", "B T C")}

    def forward(self, condition: torch.Tensor) -> dict[str, torch.Tensor]:
        raise Greedy.failure


@pytest.mark.parametrize(
    ("failure", "memory"),
    [
        (MemoryError(), True),
        (RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory"), True),
        (RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB"), True),
        (ValueError("shapes do not match"), False),
    ],
)
def test_node_failures_name_the_node_and_say_when_memory_ran_out(failure: BaseException, memory: bool) -> None:
    registry = Registry(paths=[])
    registry.register("greedy", Greedy)
    Greedy.failure = failure
    pipe = PipelineBuilder("greedy").node("g", "greedy").input("x", "g.condition").output("v", "g.video")
    with pytest.raises(PipelineRuntimeError) as excinfo:
        pipe.build(registry=registry)(x=torch.zeros(1, 2, 3))
    assert "node 'g'" in excinfo.value.message and type(failure).__name__ in excinfo.value.message
    assert ("more memory than this machine has" in (excinfo.value.hint or "")) is memory


def test_python_create_with_unallocatable_sizes_is_a_config_error() -> None:
    from sora_core import registry
    from sora_core.errors import ConfigError

    with pytest.raises(ConfigError) as excinfo:
        registry.create("sora-seed:lstm-text-encoder", hidden_size=10**11)
    assert "sora-seed:lstm-text-encoder" in excinfo.value.message and "hidden_size" in excinfo.value.message
