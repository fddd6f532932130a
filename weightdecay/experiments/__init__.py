"""The second source document's experiment, and the record of a training run."""

from weightdecay.experiments.bayes import FORM_LABELS, FORMS, BayesExperiment, run_bayes_experiment
from weightdecay.experiments.result import TrainingRun

__all__ = [
    "FORMS",
    "FORM_LABELS",
    "BayesExperiment",
    "TrainingRun",
    "run_bayes_experiment",
]
