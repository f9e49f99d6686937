"""Prediction ids, /feedback, capture and the feedback loop."""
