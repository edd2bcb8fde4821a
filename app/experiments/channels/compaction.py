"""Compaction as the application offers it: of a running network, a checkpoint or a finished run.

:func:`compact_engine` compacts an engine's current network
(:func:`sim.experiments.channels.nn.compaction.compact_state`) and
:func:`write_compaction` writes what a user keeps of it, atomically: the mask
(``mask.npz``: one boolean array per block, ``block_<b>``), the compact
network's weights (``compact_model.npz``: ``state_dict`` names, no pickle, with
its layer string and input shape) and the numbers (``compaction.json``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from app.headless import write_json, write_npz
from sim.data.images import image_dataset_shape
from sim.experiments.channels.data import dataset_for
from sim.experiments.channels.nn.compaction import CompactionResult, compact_state

#: The files :func:`write_compaction` writes.
COMPACTION_FILES: tuple[str, ...] = ("mask.npz", "compact_model.npz", "compaction.json")


def compact_engine(engine: Any, update_first: bool = False) -> CompactionResult:
    """Compact ``engine``'s network now, measured on the host's CPU or the engine's GPU."""
    config = engine.config
    device = "cuda" if engine.backend_name == "cuda" else "cpu"
    return compact_state(
        engine.state(),
        config,
        dataset_for(config, engine.seed),
        engine.seed,
        device,
        update_first=update_first,
    )


def write_compaction(out_dir: Path, result: CompactionResult, config: Any) -> list[Path]:
    """Write ``mask.npz``, ``compact_model.npz`` and ``compaction.json`` into ``out_dir``."""
    out_dir = Path(out_dir)
    masks = out_dir / "mask.npz"
    write_npz(masks, **{f"block_{b}": m for b, m in enumerate(result.masks)})
    model = out_dir / "compact_model.npz"
    c, h, w, _classes = image_dataset_shape(config.data.name, **config.data_options())
    write_npz(
        model,
        **result.weights,
        __layers__=np.array(result.layers),
        __in_shape__=np.array([c, h, w], np.int64),
        __steps__=np.array(config.network.steps, np.int64),
    )
    numbers = out_dir / "compaction.json"
    write_json(numbers, {"preset": config.name, **result.numbers()})
    return [masks, model, numbers]


def compaction_line(result: CompactionResult) -> str:
    """The result in one line: channels, parameters, SynOps, accuracy and inference time."""
    return (
        f"compacted to {result.layers}: {result.params_compact:,} of {result.params_dense:,} parameters "
        f"({result.params_compact / max(result.params_dense, 1):.0%}), "
        f"SynOps {result.synops_compact:,.0f} from {result.synops_dense:,.0f} per sample, "
        f"test accuracy {result.compact_test_accuracy:.3f} (masked {result.test_accuracy:.3f}), "
        f"inference {result.inference_ms_compact:.1f} ms from {result.inference_ms_dense:.1f} ms "
        f"per {result.inference_batch} images on {result.device}; {result.verdict_words()}"
    )
