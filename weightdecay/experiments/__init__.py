"""One seeded entry point per experiment of the source documents."""

from weightdecay.experiments.bayes import FORM_LABELS, FORMS, BayesExperiment, run_bayes_experiment
from weightdecay.experiments.linear import LinearExperiment, run_linear_experiment
from weightdecay.experiments.result import TrainingRun

__all__ = [
    "FORMS",
    "FORM_LABELS",
    "BayesExperiment",
    "LinearExperiment",
    "TrainingRun",
    "run_bayes_experiment",
    "run_linear_experiment",
]
