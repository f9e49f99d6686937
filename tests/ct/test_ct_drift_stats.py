"""The drift statistics (mlops_template.core.drift) against values computed by hand and by scipy."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlops_template.core import drift


def test_psi_on_known_proportions_by_hand() -> None:
    expected, actual = [0.5, 0.5], [0.25, 0.75]
    by_hand = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    assert drift.psi(expected, actual) == pytest.approx(by_hand, rel=1e-12)
    assert by_hand == pytest.approx(0.274653, abs=1e-6)


def test_psi_is_zero_for_identical_and_symmetric_in_its_arguments() -> None:
    p, q = [0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]
    assert drift.psi(p, p) == 0.0
    assert drift.psi(p, q) == pytest.approx(drift.psi(q, p))
    assert drift.psi(p, q) > 0.2  # a reversed distribution is a large shift


def test_psi_floors_empty_bins_instead_of_infinity() -> None:
    value = drift.psi([0.5, 0.5, 0.0], [0.5, 0.0, 0.5])
    floor = drift.EPS
    by_hand = (floor - 0.5) * math.log(floor / 0.5) + (0.5 - floor) * math.log(0.5 / floor)
    assert value == pytest.approx(by_hand)
    assert math.isfinite(value)


def test_chi_square_pvalue_matches_scipy() -> None:
    proportions = [0.2, 0.3, 0.5]
    counts = np.array([30.0, 25.0, 45.0])
    expected = np.array(proportions) * counts.sum()
    assert drift.chi_square_pvalue(proportions, counts) == pytest.approx(
        stats.chisquare(counts, expected).pvalue, rel=1e-9
    )
    statistic = float(((counts - expected) ** 2 / expected).sum())  # by hand, 2 dof
    assert drift.chi_square_pvalue(proportions, counts) == pytest.approx(
        math.exp(-statistic / 2), rel=1e-9
    )


def test_chi_square_pvalue_of_no_data_is_one() -> None:
    assert drift.chi_square_pvalue([0.5, 0.5], np.zeros(2)) == 1.0


def test_counts_numeric_use_right_closed_bins_and_skip_missing() -> None:
    ref = drift.NumericBins(edges=[1.0, 2.0], proportions=[0.3, 0.3, 0.4])
    column = pd.Series([0.5, 1.0, 1.5, 2.0, 2.5, 9.0, None])
    assert drift.counts(column, ref).tolist() == [2.0, 2.0, 2.0]


def test_counts_categorical_put_unknown_values_in_other() -> None:
    ref = drift.CategoricalBins(categories=["a", "b", drift.OTHER], proportions=[1, 0, 0])
    column = pd.Series(["a", "b", "b", "zzz", None])
    assert drift.counts(column, ref).tolist() == [1.0, 2.0, 1.0]
