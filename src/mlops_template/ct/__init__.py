"""Continuous training: the pieces of the retrain job (`python -m mlops_template.retrain`).

`payload` reads why the job runs (an Alertmanager webhook body or a schedule), `gitlab`
talks to GitLab's REST API, `git` and `dvc` wrap the commands the job runs, `compare`
measures the new model against the one in production, `describe` writes the MR text.
"""
