"""Merge-request review: the quality gate, the per-epoch table and the MR report (`make gate`,
`make report`)."""
