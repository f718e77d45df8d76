"""Named points where a fault test kills this process: `LEPTON_FAILPOINTS=name[,name]`.

In production a kill -9 lands at any moment; a test needs it inside a chosen step every
time, so the steps that must survive one (the DVC push of a dataset version, a training
epoch, an erasure between its steps) name a point here. Unset, as everywhere outside the
fault tests, a point costs one environment lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "LEPTON_FAILPOINTS"


def failpoint(name: str) -> None:
    armed = os.environ.get(ENV)
    if armed and name in armed.split(","):
        os.kill(os.getpid(), signal.SIGKILL)
