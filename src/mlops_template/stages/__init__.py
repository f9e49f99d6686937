"""The DVC pipeline's stages, each run as `python -m mlops_template.stages.<stage>` by dvc.yaml:
load → preprocess → train → evaluate; plus the data sets and model families they use."""
