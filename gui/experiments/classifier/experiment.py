"""The sparse classifier (e-prop with DEEP R rewiring): its views, parameter groups and step units."""

from __future__ import annotations

from gui.experiment import Experiment, ParameterGroup, StepAction, ViewSpec
from gui.experiments.classifier.views.activity_view import ActivityView
from gui.experiments.classifier.views.learning_view import LearningView
from gui.experiments.classifier.views.masks_view import MasksView
from gui.experiments.classifier.views.rewiring_view import RewiringView
from gui.experiments.classifier.views.weights_view import WeightsView

SPARSE_CLASSIFIER = Experiment(
    key="classifier",
    title="Sparse classifier",
    # Ctrl+1 ... Ctrl+5 bring them forward in this order
    views=(
        ViewSpec(MasksView, "left"),
        ViewSpec(RewiringView, "right"),
        ViewSpec(LearningView, "centre"),
        ViewSpec(ActivityView, "centre"),
        ViewSpec(WeightsView, "left"),
    ),
    # the live parameters (learning rate, c_reg, f_target; DEEP R on or off, L1, temperature) are in the
    # first two groups; the panel marks the structural ones, which apply on Reset
    parameter_groups=(
        ParameterGroup("Learning (e-prop)", "learning"),
        ParameterGroup("Rewiring (DEEP R)", "rewiring"),
        ParameterGroup("Network", "network"),
        ParameterGroup("Connectivity", "connectivity"),
        ParameterGroup("Data", "data"),
        ParameterGroup("Run", "run"),
    ),
    step_actions=(
        StepAction("step", "Step", "Right", "Advance one time step (network.dt) of every example and stop"),
        StepAction(
            "batch",
            "Step batch",
            "Shift+Right",
            "Advance one trial (data.n_steps steps): a training batch ends with the weight update and "
            "DEEP R's rewiring",
        ),
        StepAction(
            "epoch", "Step epoch", "Ctrl+Right", "Advance one epoch (every training batch, then the test set)"
        ),
    ),
)

#: The declaration the registry finds (:data:`gui.experiment.BUILTIN_GUI_EXPERIMENTS`).
GUI_EXPERIMENT = SPARSE_CLASSIFIER
