"""Ctrl-C that is never lost.

Python turns SIGINT into a KeyboardInterrupt raised wherever the main thread happens to be. When
that is a callback whose exceptions the interpreter only prints — an at-fork handler such as
logging's lock release, which runs every time the driver forks a trial, or a ``__del__`` — the
interrupt shows up as "Exception ignored in ..." and is gone: the search would go on to its last
trial after the user pressed Ctrl-C. While the search loop runs, :func:`remembered_ctrl_c`
installs a handler that also notes the press, and the loop asks :meth:`CtrlC.check` on every
turn, which raises the KeyboardInterrupt again if the first one was swallowed.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["CtrlC", "remembered_ctrl_c"]


class CtrlC:
    """Whether Ctrl-C was pressed since the search loop began."""

    def __init__(self) -> None:
        self.pressed = False

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.pressed = True
        raise KeyboardInterrupt

    def check(self) -> None:
        """Raise KeyboardInterrupt if Ctrl-C was pressed, even where the first raise was lost."""
        if self.pressed:
            raise KeyboardInterrupt


@contextmanager
def remembered_ctrl_c() -> Iterator[CtrlC]:
    """Note SIGINT while the block runs, then restore the handler that was there.

    Only Python's own handler is replaced: a program that installed its own SIGINT handler keeps
    it (and its meaning of Ctrl-C), and outside the main thread signals cannot be handled at all.
    """
    ctrl_c = CtrlC()
    in_main_thread = threading.current_thread() is threading.main_thread()
    if not in_main_thread or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield ctrl_c
        return
    previous = signal.signal(signal.SIGINT, ctrl_c.on_signal)
    try:
        yield ctrl_c
    finally:
        signal.signal(signal.SIGINT, previous)
