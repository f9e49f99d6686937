"""The server's Prometheus telemetry: metric names (`names`, shared with the alert rules and
dashboards), the per-app recorder, and the one adapter over prometheus_client's internals."""
