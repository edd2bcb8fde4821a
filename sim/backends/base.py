"""The protocol every backend implements."""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from sim.state import NetworkState


class Backend(Protocol):
    """Executes the model on some device.

    A backend owns its copy of the state. The engine allocates it once, then
    advances it, changes live parameters and pulls or pushes host copies.
    """

    #: Short name used on the command line (``cpu``, ``cuda``).
    name: str

    def allocate(self, state: NetworkState, fp: NDArray[np.float64], ip: NDArray[np.int64]) -> None:
        """Take ownership of a copy of ``state`` and the kernel parameters."""

    def advance(self, n_steps: int) -> NDArray[np.void]:
        """Advance ``n_steps`` steps; return the rewiring events they produced (EVENT_DTYPE)."""

    def warm_up(self) -> None:
        """Compile or load every kernel now, so that the first step does not stall."""

    def set_params(self, fp: NDArray[np.float64], ip: NDArray[np.int64]) -> None:
        """Replace the kernel parameters (live changes)."""

    def pull_state(self) -> NetworkState:
        """A host copy of the whole current state."""

    def push_state(self, state: NetworkState) -> None:
        """Replace the current state by a host copy."""

    def time_rewiring(self, n_steps: int) -> float:
        """Wall seconds that the rewiring calls of ``n_steps`` steps take from the current state.

        The backend's state is left unchanged.
        """

    def close(self) -> None:
        """Release device resources."""
