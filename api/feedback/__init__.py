"""Prediction ids, labels coming back for them (`POST /feedback`), and opt-in capture of what
the model served. See docs/feedback.md."""
