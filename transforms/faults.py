"""Fault injection for reliability tests: an explicit :class:`FaultPlan`, never read from the environment.

A plan is handed to the stages that honour it (``ExtractWindows``, ``WritePartitioned``, the publication
in ``transforms/publish.py``) as a constructor argument; production passes None, and each stage then pays
one ``is not None`` test per video or per file, nothing per element. Points:

- ``video:<post_id>``: when a worker starts that post (outside the per-video error handling, as a bug or
  a crashed worker would);
- ``file:<table>``: after a file of that table is written to the run's staging folder;
- ``publish``: after a staged file is renamed into place (the last one: before the commit marker);
- ``retract``: after a file of a ``--force``d run is deleted.

The n-th hit (``after``) across all worker processes fires, once: hits are counted by creating
numbered files in ``counter_dir`` (``O_EXCL``: atomic across processes). ``action`` ``raise`` raises
:class:`InjectedFault`; ``kill`` sends SIGKILL to the process group when this process leads one (a test
starts the run with ``start_new_session=True``), else to this process only, so it can never reach the
test runner.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass


class InjectedFault(RuntimeError):
    pass


@dataclass(frozen=True)
class FaultPlan:
    point: str
    counter_dir: str
    after: int = 1
    action: str = "raise"  # raise | kill

    def hit(self, point: str) -> None:
        if point != self.point:
            return
        if self._count() == self.after:
            self._fire()

    def _count(self) -> int:
        os.makedirs(self.counter_dir, exist_ok=True)
        n = 1
        while True:
            try:
                fd = os.open(os.path.join(self.counter_dir, f"hit-{n}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                n += 1
                continue
            os.close(fd)
            return n

    def _fire(self) -> None:
        if self.action == "kill":
            if os.getpgid(0) == os.getpid():  # a session/group leader: take the whole run down
                os.killpg(os.getpid(), signal.SIGKILL)
            os.kill(os.getpid(), signal.SIGKILL)
        raise InjectedFault(f"injected fault at {self.point} (hit {self.after})")
