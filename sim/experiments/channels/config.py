"""The channel-pruning experiment's configuration: network, pruning, learning, data, run.

Every parameter is declared once (:func:`sim.parameters.param`) with its unit,
range and whether it is live. Live parameters (the channel sparsity ``s``, the
update fraction ``p``, the update interval and the first update's batch, the L1
strength on BN scales, the learning rate) apply from the next batch; structural
ones (the layer list, steps per sample, the pruning mode, the data set, the
batch size) rebuild the network.

The clock is the training batch: one engine step trains one batch (the test
set is scored at every epoch's end). Progress is counted in *epochs*
(``run.duration``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from sim.errors import ConfigError
from sim.parameters import ConfigRoot, param, seed_param

#: How channels are masked (:mod:`sim.experiments.channels.nn.sca`; no torch imported here).
PRUNING_MODES = ("sca", "prune_only", "random", "none")
#: Data sets of images (``sim.data.images``).
IMAGE_DATASET_NAMES = ("digits", "shapes", "cifar10")
#: Optimisers of the network's weights.
OPTIMISERS = ("adam", "sgd")
MAX_BATCH = 4096
MAX_STEPS = 64


@dataclass(frozen=True)
class NetworkConfig:
    """The layers and the neurons."""

    layers: str = param(
        "16C3-AP2-32C3-AP2-32C3-AP2-4FC",
        doc="Layers joined by '-': NCK conv block (N channels, KxK), APK average pooling, NFC readout",
        live=False,
    )
    steps: int = param(4, unit="steps", doc="Time steps per sample (T)", live=False, lo=1, hi=MAX_STEPS)
    tau: float = param(2.0, doc="Membrane time constant, in steps (LIF decay)", live=False, lo=1.0, hi=1e4)
    v_th: float = param(1.0, doc="Firing threshold", live=False, lo=0.0, hi=100.0, lo_open=True)


@dataclass(frozen=True)
class PruningConfig:
    """Which output channels are masked, and how the mask changes."""

    mode: str = param(
        "sca",
        doc="sca: prune by activity and regrow by |dL/dgamma|; prune_only; random: a fixed random "
        "mask; none: dense",
        live=False,
        choices=PRUNING_MODES,
    )
    sparsity: float = param(
        0.5, doc="Channel sparsity s: share of all channels masked", lo=0.0, hi=1.0, hi_open=True
    )
    fraction: float = param(
        0.1, doc="Update fraction p: share of the kept channels swapped at each update", lo=0.0, hi=1.0
    )
    interval: int = param(
        0,
        unit="batches",
        doc="Batches between mask updates (0: at every epoch's end)",
        lo=0,
        hi=10_000_000,
    )
    first: int = param(
        0,
        unit="batches",
        doc="Batches before the first mask update (0: at the first interval's end, as every later one)",
        lo=0,
        hi=10_000_000,
    )
    use_rate: bool = param(False, doc="Add the spike rate to the importance (mean |V|)")
    normalise: bool = param(
        False,
        doc="Rank each block's importance relative to its own mean (off: raw mean |V| across blocks, "
        "as the paper)",
    )
    grace: int = param(
        0,
        unit="updates",
        doc="Updates after its regrowth during which a channel is not pruned again (0: judged at "
        "the next update, as the paper)",
        lo=0,
        hi=1000,
    )
    anneal: bool = param(
        False,
        doc="The update fraction p decays as a cosine over the run, to 0 at its end (off: p at every "
        "update, as the paper)",
    )
    l1: float = param(1e-4, doc="L1 strength lambda on the BatchNorm scales", lo=0.0, hi=1.0)


@dataclass(frozen=True)
class LearningConfig:
    """Surrogate-gradient BPTT."""

    optimiser: str = param("adam", doc="Optimiser of the weights", live=False, choices=OPTIMISERS)
    lr: float = param(1e-3, doc="Learning rate", lo=0.0, hi=10.0, lo_open=True)
    momentum: float = param(0.9, doc="Momentum (sgd)", live=False, lo=0.0, hi=1.0, hi_open=True)
    cosine: bool = param(True, doc="Anneal the learning rate to 0 over run.duration (cosine)", live=False)


@dataclass(frozen=True)
class DataConfig:
    """The images and the batches."""

    name: str = param("shapes", doc="Data set", live=False, choices=IMAGE_DATASET_NAMES)
    path: str = param("", doc="Folder of the data set's files (cifar10)", live=False)
    n_train: int = param(
        0, doc="Training images used (0: all of the data set's)", live=False, lo=0, hi=10_000_000
    )
    n_test: int = param(0, doc="Test images used (0: all of the data set's)", live=False, lo=0, hi=10_000_000)
    batch_size: int = param(32, doc="Images per batch", live=False, lo=1, hi=MAX_BATCH)
    classes: int = param(4, doc="Shape classes (shapes)", live=False, lo=2, hi=6)
    noise: float = param(0.1, doc="Pixel noise (shapes)", live=False, lo=0.0, hi=1.0)
    size: int = param(16, unit="px", doc="Image side (shapes)", live=False, lo=8, hi=64)


@dataclass(frozen=True)
class RunConfig:
    """Run-level settings of headless runs."""

    duration: float = param(
        10.0, unit="epochs", doc="Training time of a headless run", lo=0.0, hi=1e5, lo_open=True
    )
    record_interval: float = param(
        1.0, unit="epochs", doc="Time between metric records", lo=0.0, hi=1e5, lo_open=True
    )
    seed: int = seed_param()


@dataclass(frozen=True)
class ChannelsConfig(ConfigRoot):
    """The whole configuration of a channel-pruning run."""

    EXPERIMENT: ClassVar[str] = "channels"

    name: str = "custom"
    description: str = ""
    network: NetworkConfig = field(default_factory=NetworkConfig)
    pruning: PruningConfig = field(default_factory=PruningConfig)
    learning: LearningConfig = field(default_factory=LearningConfig)
    data: DataConfig = field(default_factory=DataConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def data_options(self) -> dict[str, object]:
        """The options of :func:`sim.data.images.load_image_dataset` this data set takes."""
        if self.data.name == "shapes":
            return {"n_classes": self.data.classes, "noise": self.data.noise, "size": self.data.size}
        return {}

    def validate(self, source: str | None = None) -> None:
        """The layer string reads; the data set's images fit the network and its classes match the
        readout; cifar10 needs its folder."""
        from sim.data.images import image_dataset_shape
        from sim.experiments.channels.layers import Readout, parse_layers, plan_shapes

        try:
            layers = parse_layers(self.network.layers)
            c, h, w, classes = image_dataset_shape(self.data.name, **self.data_options())
            plan_shapes(layers, (c, h, w))
        except ConfigError as exc:
            raise ConfigError(exc.reason, source=source, path=exc.path) from None
        readout = layers[-1]
        assert isinstance(readout, Readout)
        if readout.classes != classes:
            raise ConfigError(
                f"the readout has {readout.classes} classes ({readout.classes}FC), but "
                f"{self.data.name} has {classes}",
                source=source,
                path="network.layers",
            )
        if self.data.name == "cifar10" and not self.data.path:
            raise ConfigError(
                "the cifar10 data set needs the folder holding data_batch_*.bin and test_batch.bin",
                source=source,
                path="data.path",
            )
