"""What every part uses: params, paths, atomic io, errors, the feature schema, the model bundle,
the model card, quality metrics and drift statistics. Imports nothing from the other parts."""
