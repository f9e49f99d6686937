"""Continuous training: the retrain job (`python -m mlops_template.ct.retrain`, `make retrain`)
and the offline drift report (`python -m mlops_template.ct.drift_report`, `make drift-report`).

`payload` reads why the job runs (an Alertmanager webhook body or a schedule), `settings` its
environment, `gitlab` talks to GitLab's REST API, `commands` runs git, DVC and GTO, `compare`
measures the new model against the one in production, `describe` writes the MR text.
"""
