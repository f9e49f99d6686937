"""Hyperparameter search (`make tune`): Optuna trials of the model families on the
train/validation split, a leaderboard, and `--apply` to write the winner into params.yaml."""
