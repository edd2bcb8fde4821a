"""The protocol every backend implements, whatever the experiment."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray


class Backend(Protocol):
    """Executes one experiment's model on some device.

    A backend owns its copy of the state. Its experiment hands it the state
    and the kernel parameters (:meth:`sim.experiment.Experiment.attach`, in
    the experiment's own terms); the engine then advances it and pulls or
    pushes host copies.
    """

    #: Short name used on the command line (``cpu``, ``cuda``).
    name: str

    def advance(self, n_steps: int) -> NDArray[np.void]:
        """Advance ``n_steps`` steps; return the structural events they produced (EVENT_DTYPE)."""

    # A backend whose experiment has appendable records besides events (per-batch rows) also has
    # ``take_records() -> Mapping[str, NDArray[np.void]]``: the rows completed since its last call.

    def warm_up(self) -> None:
        """Compile or load every kernel now, so that the first step does not stall."""

    def pull_state(self) -> Any:
        """A host copy of the whole current state."""

    def push_state(self, state: Any) -> None:
        """Replace the current state by a host copy."""

    def close(self) -> None:
        """Release device resources."""
