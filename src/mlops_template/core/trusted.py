"""The exact types a model file of this template may hold: the one allow-list the loader trusts.

A skops file names the type of every object in it, and loading builds each object from its
name; some nodes *call* the named type or function with stored arguments (a
`ConstructorFromReduceNode` naming `builtins.exec` or `numpy.load` runs code). So
`mlops_template.core.bundle.load` refuses a file holding any name missing here: exact names,
never prefixes, and only the ones the template's own model families and preprocessing
produce (`tests/model/test_trusted_types.py` trains every family × task × preprocessing option
and fails when a real model holds a name missing here; it also fails if a name here is not a
class, or is a builtin that is not plain data).

To add a type: add its full name, as the loader's refusal message or
`skops.io.get_untrusted_types(file=...)` prints it, to `TYPES` in its group, one line. Keep names
that older models hold: the retrain job still reads the production model. Never add a function,
or anything from builtins beyond plain data, os, subprocess, operator, functools, importlib,
pickle, numpy.load and the like: that would let a model file run code.
"""

from __future__ import annotations

from typing import Any

import numpy as np

TYPES: frozenset[str] = frozenset(
    {
        # plain data, written by skops for any object
        "builtins.dict",
        "builtins.list",
        "builtins.slice",
        "builtins.str",
        "builtins.tuple",
        "numpy.dtype",
        "numpy.float64",
        "numpy.int64",
        "numpy.ndarray",
        "numpy.random.mtrand.RandomState",
        # the pipeline and its preprocessing (stages/preprocess.py, stages/train.py)
        "sklearn.pipeline.Pipeline",
        "sklearn.compose._column_transformer.ColumnTransformer",
        "sklearn.impute._base.SimpleImputer",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.preprocessing._encoders.OneHotEncoder",
        # train.model: linear
        "sklearn.linear_model._stochastic_gradient.SGDClassifier",
        "sklearn.linear_model._stochastic_gradient.SGDRegressor",
        "sklearn._loss._loss.CyHalfBinomialLoss",
        # train.model: random_forest
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.ensemble._forest.RandomForestRegressor",
        "sklearn.tree._classes.DecisionTreeClassifier",
        "sklearn.tree._classes.DecisionTreeRegressor",
        "sklearn.tree._tree.Tree",
        # train.model: mlp
        "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
        "sklearn.neural_network._multilayer_perceptron.MLPRegressor",
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.preprocessing._label.LabelBinarizer",
        # train.model: gradient_boosting
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn._loss.loss.HalfMultinomialLoss",
        "sklearn._loss.loss.HalfSquaredError",
        "sklearn._loss._loss.CyHalfMultinomialLoss",
        "sklearn._loss._loss.CyHalfSquaredError",
        "sklearn._loss.link.IdentityLink",
        "sklearn._loss.link.Interval",
        "sklearn._loss.link.LogitLink",
        "sklearn._loss.link.MultinomialLogit",
        "sklearn.preprocessing._label.LabelEncoder",
        "numpy.random._generator.Generator",
        "numpy.uint64",
    }
)


def names_in(schema: Any) -> set[str]:
    """Every type name in a skops `schema.json` tree: each node's `__module__.__class__`.

    Every object skops builds is named by such a pair (functions, types and reduce
    constructors too), so this is a superset of what `skops.io.get_untrusted_types` reports:
    it includes the types skops trusts by default, which this template trusts only by name.
    """
    names: set[str] = set()
    stack = [schema]
    while stack:  # iterative: a deeply nested hostile file can't exhaust the Python stack
        node = stack.pop()
        if isinstance(node, dict):
            cls, module = node.get("__class__"), node.get("__module__")
            if cls is not None or module is not None:
                names.add(f"{module}.{cls}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return names


class TreeError(ValueError):
    """A decision tree's node arrays point outside the tree or the input."""


def check_trees(model: Any) -> None:
    """Raise TreeError if a fitted sklearn tree in `model` could read out of bounds.

    scikit-learn walks `Tree.nodes` by the stored child and feature indices without bounds
    checks, so a crafted file (whose types are all trusted) could crash or read past memory
    when the model first runs. Trees built by scikit-learn number children after their
    parent, so requiring that also rules out cycles.
    """
    for tree, width in _trees(model):
        width = min(width, int(tree.n_features))
        state = tree.__getstate__()
        nodes, count = state["nodes"], int(state["node_count"])
        index = np.arange(len(nodes))
        left, right, feature = nodes["left_child"], nodes["right_child"], nodes["feature"]
        leaf = left == -1
        inner = ~leaf
        if len(nodes) != count or count < 1:
            raise TreeError(f"a tree holds {len(nodes)} nodes but says {count}")
        if np.any(right[leaf] != -1):
            raise TreeError("a tree leaf has a right child")
        bad = inner & ~(
            (left > index)
            & (left < count)
            & (right > index)
            & (right < count)
            & (feature >= 0)
            & (feature < width)
        )
        if np.any(bad):
            raise TreeError(f"tree node {int(np.flatnonzero(bad)[0])} points out of bounds")
    for predictor, width in _boosted(model):
        _check_predictor(predictor, width)


def _check_predictor(predictor: Any, width: int) -> None:
    """The same checks for a histogram gradient boosting tree (`TreePredictor.nodes`)."""
    nodes = predictor.nodes
    count = len(nodes)
    if count < 1:
        raise TreeError("a boosted tree has no nodes")
    index = np.arange(count)
    inner = nodes["is_leaf"] == 0
    left, right = nodes["left"].astype(np.int64), nodes["right"].astype(np.int64)
    feature = nodes["feature_idx"].astype(np.int64)
    bitsets = len(predictor.raw_left_cat_bitsets)
    categorical = inner & (nodes["is_categorical"] != 0)
    bad = inner & ~(
        (left > index) & (left < count) & (right > index) & (right < count) & (feature >= 0)
    )
    bad |= inner & (feature >= width)
    bad |= categorical & ((nodes["bitset_idx"] >= bitsets) | (nodes["bitset_idx"] < 0))
    if np.any(bad):
        raise TreeError(f"boosted tree node {int(np.flatnonzero(bad)[0])} points out of bounds")


def _trees(model: Any) -> list[tuple[Any, int]]:
    """(Tree, number of input columns) of every fitted sklearn tree in a pipeline or ensemble."""
    from sklearn.tree._tree import Tree

    found: list[tuple[Any, int]] = []
    stack: list[Any] = [model]
    while stack:
        obj = stack.pop()
        steps = getattr(obj, "steps", None)
        if isinstance(steps, list):
            stack.extend(step for _, step in steps)
        estimators = getattr(obj, "estimators_", None)
        if isinstance(estimators, list):
            stack.extend(estimators)
        tree = getattr(obj, "tree_", None)
        if isinstance(tree, Tree):
            found.append((tree, int(getattr(obj, "n_features_in_", tree.n_features))))
    return found


def _boosted(model: Any) -> list[tuple[Any, int]]:
    """(TreePredictor, number of input columns) of every histogram gradient boosting tree."""
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

    found: list[tuple[Any, int]] = []
    for obj in getattr(model, "steps", [(None, model)]):
        estimator = obj[1]
        for round_ in getattr(estimator, "_predictors", None) or []:
            for predictor in round_ if isinstance(round_, list) else []:
                if isinstance(predictor, TreePredictor):
                    found.append((predictor, int(estimator.n_features_in_)))
    return found
