"""Signal handling of a training run: Ctrl-C and SIGTERM stop it at the next iteration boundary, where its
state can be checkpointed, instead of wherever the signal lands."""

from __future__ import annotations

import signal
import threading
from typing import Any


class DeferredInterrupt:
    """Inside the block, Ctrl-C (SIGINT) and SIGTERM only set ``requested``; the loop raises KeyboardInterrupt at
    the next iteration boundary, where the state can be checkpointed. A second signal interrupts at once."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> DeferredInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            if handler is not None:  # None: a handler installed outside Python, which cannot be put back
                signal.signal(sig, handler)
