"""The sparse classifier's configuration: network, connectivity, e-prop learning, DEEP R, data, run.

Every parameter is declared once (:func:`sim.parameters.param`) with its unit,
range and whether it is live. Live parameters (learning rate, L1 strength,
temperature, firing-rate regularisation, DEEP R on or off) apply from the next
batch; structural ones (sizes, neuron model, connectivity, data set, batch
size, trial length, feedback kind) rebuild the network.

The clock is the trial's time step (``network.dt``, 1 ms): one engine step
advances every batch lane by one time step, a trial of ``data.n_steps`` steps
runs the batch's examples side by side, and the weights change at the end of
each batch. Progress is counted in *epochs* (``run.duration``): an epoch is
every training batch of the data set followed by the test set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from sim.errors import ConfigError
from sim.parameters import ConfigRoot, param, seed_param

#: Neuron models of the hidden layer.
NEURON_MODELS = ("lif", "alif")
#: Kinds of learning-signal feedback: the readout weights transposed, or fixed random weights.
FEEDBACK_KINDS = ("symmetric", "random")
#: Data sets the classifier trains on (``sim.data``).
DATASET_NAMES = ("yin_yang", "digits", "shd", "synthetic")

#: Largest network sizes (keep every index of the kernels' int32 range and the memory sane).
MAX_HIDDEN = 4096
MAX_BATCH = 512
MAX_TRIAL_STEPS = 10_000


@dataclass(frozen=True)
class NetworkConfig:
    """The recurrent hidden layer and the readout."""

    n_hidden: int = param(128, doc="Recurrent hidden neurons", live=False, lo=2, hi=MAX_HIDDEN)
    neuron: str = param(
        "lif",
        doc="Hidden neuron model: LIF, or ALIF with an adaptive threshold",
        live=False,
        choices=NEURON_MODELS,
    )
    dt: float = param(1.0, unit="ms", doc="Time step", live=False, lo=0.0, hi=10.0, lo_open=True)
    tau_m: float = param(
        20.0,
        unit="ms",
        doc="Membrane time constant of the hidden neurons",
        live=False,
        lo=0.0,
        hi=1e4,
        lo_open=True,
    )
    tau_out: float = param(
        20.0, unit="ms", doc="Time constant of the leaky readout", live=False, lo=0.0, hi=1e4, lo_open=True
    )
    v_th: float = param(
        0.61,
        doc="Firing threshold (the baseline threshold of ALIF)",
        live=False,
        lo=0.0,
        hi=100.0,
        lo_open=True,
    )
    refractory: float = param(
        5.0,
        unit="ms",
        doc="Refractory period: the neuron integrates but cannot fire",
        live=False,
        lo=0.0,
        hi=1000.0,
    )
    tau_a: float = param(
        2000.0,
        unit="ms",
        doc="ALIF: time constant of the threshold adaptation",
        live=False,
        lo=0.0,
        hi=1e6,
        lo_open=True,
    )
    beta: float = param(
        0.0174, doc="ALIF: threshold increase per unit of adaptation", live=False, lo=0.0, hi=10.0
    )


@dataclass(frozen=True)
class ConnectivityConfig:
    """The two ragged tables, input -> hidden and hidden -> hidden (no self-connections)."""

    p_in: float = param(
        0.1,
        doc="Connection probability input -> hidden at the start (1: dense kernel)",
        live=False,
        lo=0.0,
        hi=1.0,
        lo_open=True,
    )
    p_rec: float = param(
        0.1,
        doc="Connection probability hidden -> hidden at the start (1: dense kernel)",
        live=False,
        lo=0.0,
        hi=1.0,
        lo_open=True,
    )
    padding: float = param(
        2.0, doc="Row capacity = expected row length x (1 + padding)", live=False, lo=0.0, hi=100.0
    )


@dataclass(frozen=True)
class LearningConfig:
    """e-prop with Adam at the end of each batch."""

    lr: float = param(1e-3, doc="Adam learning rate", lo=0.0, hi=1.0)
    adam_beta1: float = param(
        0.9, doc="Adam: decay of the first moment", live=False, lo=0.0, hi=1.0, hi_open=True
    )
    adam_beta2: float = param(
        0.999, doc="Adam: decay of the second moment", live=False, lo=0.0, hi=1.0, hi_open=True
    )
    adam_eps: float = param(1e-8, doc="Adam: denominator offset", live=False, lo=0.0, hi=1.0, lo_open=True)
    feedback: str = param(
        "symmetric",
        doc="Learning-signal weights: the readout's transposed, or fixed random",
        live=False,
        choices=FEEDBACK_KINDS,
    )
    c_reg: float = param(0.001, doc="Strength of the firing-rate regularisation", lo=0.0, hi=100.0)
    f_target: float = param(10.0, unit="Hz", doc="Target firing rate of the regularisation", lo=0.0, hi=500.0)
    tau_reg: float = param(
        500.0,
        unit="ms",
        doc="Time constant of the rate the regularisation sees",
        live=False,
        lo=0.0,
        hi=1e6,
        lo_open=True,
    )


@dataclass(frozen=True)
class RewiringConfig:
    """DEEP R on both tables at the end of each batch."""

    enabled: bool = param(True, doc="DEEP R: prune synapses whose weight changes sign, regrow as many")
    l1: float = param(1e-5, doc="L1 strength: added to each gradient as l1 * sign(w)", lo=0.0, hi=1.0)
    temperature: float = param(
        0.0, doc="Noise temperature: active weights get sqrt(2 lr T) N(0, 1) per batch", lo=0.0, hi=1.0
    )
    regrow_weight: float = param(
        1e-12,
        doc="Magnitude of a regrown synapse's weight (its sign is the pair's)",
        live=False,
        lo=0.0,
        hi=1.0,
        lo_open=True,
    )
    max_redraws: int = param(
        100,
        doc="Redraws allowed per regrown synapse before the regrowth stops",
        live=False,
        lo=1,
        hi=1_000_000,
    )


@dataclass(frozen=True)
class DataConfig:
    """The data set, its encoding and the batches."""

    name: str = param("digits", doc="Data set", live=False, choices=DATASET_NAMES)
    path: str = param("", doc="Folder (or file) of the data set's files (shd)", live=False)
    n_steps: int = param(
        40, unit="steps", doc="Time steps of one trial", live=False, lo=2, hi=MAX_TRIAL_STEPS
    )
    n_train: int = param(
        0, doc="Training examples used (0: all of the data set's)", live=False, lo=0, hi=10_000_000
    )
    n_test: int = param(
        0, doc="Test examples used (0: all of the data set's)", live=False, lo=0, hi=10_000_000
    )
    batch_size: int = param(
        32, doc="Examples per batch, run side by side in lanes", live=False, lo=1, hi=MAX_BATCH
    )


@dataclass(frozen=True)
class RunConfig:
    """Run-level settings of headless runs."""

    duration: float = param(
        10.0, unit="epochs", doc="Training time of a headless run", lo=0.0, hi=1e5, lo_open=True
    )
    record_interval: float = param(
        0.1,
        unit="epochs",
        doc="Time between metric records of the window's history",
        lo=0.0,
        hi=1e5,
        lo_open=True,
    )
    record_events: bool = param(True, doc="Keep a log of every synapse pruned or regrown")
    seed: int = seed_param()


@dataclass(frozen=True)
class ClassifierConfig(ConfigRoot):
    """The whole configuration of a sparse-classifier run."""

    EXPERIMENT: ClassVar[str] = "classifier"

    name: str = "custom"
    description: str = ""
    network: NetworkConfig = field(default_factory=NetworkConfig)
    connectivity: ConnectivityConfig = field(default_factory=ConnectivityConfig)
    learning: LearningConfig = field(default_factory=LearningConfig)
    rewiring: RewiringConfig = field(default_factory=RewiringConfig)
    data: DataConfig = field(default_factory=DataConfig)
    run: RunConfig = field(default_factory=RunConfig)

    @property
    def dense(self) -> bool:
        """Whether every connection is present: the dense kernel runs and nothing is rewired."""
        return self.connectivity.p_in == 1.0 and self.connectivity.p_rec == 1.0

    def validate(self, source: str | None = None) -> None:
        """Cross-field rules: the dense kernel needs both tables full; a data set needs its path."""
        c = self.connectivity
        if (c.p_in == 1.0) != (c.p_rec == 1.0):
            one = "connectivity.p_in" if c.p_in == 1.0 else "connectivity.p_rec"
            raise ConfigError(
                "1.0 selects the dense kernel, which needs both p_in and p_rec at 1.0; "
                "use 0.999 for a full ragged table",
                source=source,
                path=one,
            )
        if self.data.name == "shd" and not self.data.path:
            raise ConfigError(
                "the shd data set needs the folder holding shd_train.h5 and shd_test.h5",
                source=source,
                path="data.path",
            )
