"""sora_core.progress.listen: every step of every loop is told to the listeners, shown or not, in any thread."""

from __future__ import annotations

import threading

from sora_core import progress


def test_listeners_hear_each_step_of_hidden_and_nested_loops() -> None:
    heard: list[tuple[str, int, int | None]] = []
    with progress.listen(lambda *step: heard.append(step)):
        with progress.steps(2, "outer", show=False) as advance:
            for _ in progress.track(range(3), total=3, description="inner", show=False):
                pass
            advance()
            advance("second")
        worker = threading.Thread(target=lambda: list(progress.track([1], total=None, description="thread")))
        worker.start()
        worker.join()
    assert heard == [
        ("inner", 1, 3),
        ("inner", 2, 3),
        ("inner", 3, 3),
        ("outer", 1, 2),
        ("outer", 2, 2),
        ("thread", 1, None),
    ]
    for _ in progress.track(range(2), total=2, description="after", show=False):
        pass
    assert len(heard) == 6, "a listener is not told of steps after its block"


def test_a_listener_is_removed_when_its_block_raises() -> None:
    heard: list[tuple[str, int, int | None]] = []
    try:
        with progress.listen(lambda *step: heard.append(step)):
            raise RuntimeError("stop")
    except RuntimeError:
        pass
    list(progress.track([1], total=1, description="later", show=False))
    assert heard == []
