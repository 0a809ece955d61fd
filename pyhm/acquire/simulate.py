"""``pyhm simulate``: meters on ptys, for the demo and the tests, no hardware needed.

Each simulated meter gets a pty and a link ``<dir>/hm_<SERIAL>`` to it, the way the udev rule
names a real head. It sends a telegram every second: a three-phase meter from
``pyhm.simulator`` encoded as real SML (the demo's meters go on from their history, on the
host's clock), or the frames of a capture, replayed in a loop.
"""

from __future__ import annotations

import logging
import os
import threading
import tty
from pathlib import Path
from typing import List, Optional, Sequence, Union

from pyhm.simulator import ModelMeter, SimulatedMeter
from pyhm.sml import read_frames

log = logging.getLogger("pyhm.simulate")


class PtyMeter:
    """One meter behind one pty. ``send()`` writes its next telegram (dropped if nobody reads)."""

    def __init__(self, directory: Path, serial: str, meter: Union[SimulatedMeter, ModelMeter, None] = None,
                 frames: Optional[List[bytes]] = None) -> None:
        self.serial = serial
        self.meter = meter
        self.frames = frames or []
        self._next = 0
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self.master, False)
        self.device = os.ttyname(self._slave)
        self.link = directory / f"hm_{serial}"
        if self.link.is_symlink() or self.link.exists():
            self.link.unlink()
        self.link.symlink_to(self.device)
        self.sent = 0

    def telegram(self) -> bytes:
        if self.meter is not None:
            return self.meter.telegram()
        frame = self.frames[self._next % len(self.frames)]
        self._next += 1
        return frame

    def send(self, data: Optional[bytes] = None) -> bool:
        """Write a telegram (or ``data``); False if the pty's buffer is full (nobody reads)."""
        try:
            os.write(self.master, self.telegram() if data is None else data)
        except BlockingIOError:
            return False
        self.sent += 1
        return True

    def unplug(self) -> None:
        """The head is pulled: the link goes, the pty closes."""
        if self.link.is_symlink():
            self.link.unlink()
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass


class Simulator:
    """Several PtyMeters and a thread that makes each send once per ``interval``."""

    def __init__(self, directory: Path, count: int = 2, interval: float = 1.0,
                 replay: Optional[bytes] = None, meters: Optional[Sequence[ModelMeter]] = None) -> None:
        """``count`` random-walk meters, or the frames of ``replay``, or the given ``meters``."""
        directory.mkdir(parents=True, exist_ok=True)
        frames = [f.raw for f in read_frames(replay)] if replay else None
        if replay is not None and not frames:
            raise ValueError("the capture holds no SML frame to replay")
        sims = list(meters) if meters is not None else [None if frames else SimulatedMeter(1000 + i) for i in range(count)]
        self.meters = [PtyMeter(directory, f"SIM{i + 1:04d}", sim, frames) for i, sim in enumerate(sims)]
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="simulator", daemon=True)

    def start(self) -> "Simulator":
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for m in self.meters:
                m.send()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for m in self.meters:
            m.unplug()
