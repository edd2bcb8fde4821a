"""Channel pruning and regrowth (SCA) on the window: its views, parameter groups and step units."""

from __future__ import annotations

from gui.experiment import Experiment, ParameterGroup, StepAction, ViewSpec
from gui.experiments.channels.views.compaction_view import CompactionView
from gui.experiments.channels.views.cost_view import CostView
from gui.experiments.channels.views.importance_view import ImportanceView
from gui.experiments.channels.views.kept_view import KeptView
from gui.experiments.channels.views.learning_view import LearningView
from gui.experiments.channels.views.masks_view import ChannelMasksView

CHANNEL_MASKS = Experiment(
    key="channels",
    title="Channel masks",
    # Ctrl+1 ... Ctrl+6 bring them forward in this order
    views=(
        ViewSpec(ChannelMasksView, "left"),
        ViewSpec(KeptView, "right"),
        ViewSpec(ImportanceView, "centre"),
        ViewSpec(LearningView, "centre"),
        ViewSpec(CostView, "right"),
        ViewSpec(CompactionView, "left"),
    ),
    # the live parameters (s, p, the update interval, lambda, use_rate; the learning rate) are in
    # the first two groups; the panel marks the structural ones, which apply on Reset
    parameter_groups=(
        ParameterGroup("Pruning (SCA)", "pruning"),
        ParameterGroup("Learning", "learning"),
        ParameterGroup("Network", "network"),
        ParameterGroup("Data", "data"),
        ParameterGroup("Run", "run"),
    ),
    # a step of this experiment is a training batch: the smallest unit on Right, as elsewhere
    step_actions=(
        StepAction("batch", "Step batch", "Right", "Train one batch and stop"),
        StepAction(
            "epoch",
            "Step epoch",
            "Shift+Right",
            "Train to the end of the epoch: every batch, then the test set and (by default) the mask update",
        ),
    ),
)

#: The declaration the registry finds (:data:`gui.experiment.BUILTIN_GUI_EXPERIMENTS`).
GUI_EXPERIMENT = CHANNEL_MASKS
