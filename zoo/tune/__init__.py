"""`zoo tune`: hyperparameter search with Optuna (TPE sampling, pruning through Optuna's Lightning callback)
over any registered model; see `zoo.tune.cli` for the command and `zoo.tune.space` for search spaces."""
