"""Small generated tables, each with one shape that real tables have and naive pipelines get
wrong. Deterministic (seeded): `write(name, folder)` writes `<name>.csv` and returns
(path, target). `python -m tests.data.shapes FOLDER` writes them all.

* `duplicates` — passenger class, age group, sex → survived (1,316 rows, 24 distinct): identical
  rows are many people with the same attributes; de-duplicating leaves 20 rows.
* `skewed` — a diamonds-like price regression: right-skewed price, string categoricals, and 20
  outlier rows (a size of 0 or a hundredfold one) on which a constant-step SGD diverges.
* `ids` — a churn table with a text customer ID and an integer account number, both unique.
* `high_cardinality` — 4,000 rows with a 2,000-value categorical (a few frequent values carry
  the signal; most appear once or twice) next to two numbers and a hex order ID.
* `dates` — orders with an ISO 8601 timestamp and a customer column (for group/time splits):
  the weekend and the evening matter.
* `noise` — labels drawn independently of the features: nothing to learn, and the train stage
  must say so instead of saving a model no better than guessing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd


def duplicates() -> tuple[pd.DataFrame, str]:
    # (class, age, sex): (survived, died); the counts of the well-known 1912 passenger table
    spec = {
        ("1st", "adult", "male"): (57, 118),
        ("1st", "adult", "female"): (140, 4),
        ("1st", "child", "male"): (5, 0),
        ("1st", "child", "female"): (1, 0),
        ("2nd", "adult", "male"): (14, 154),
        ("2nd", "adult", "female"): (80, 13),
        ("2nd", "child", "male"): (11, 0),
        ("2nd", "child", "female"): (13, 0),
        ("3rd", "adult", "male"): (75, 387),
        ("3rd", "adult", "female"): (76, 89),
        ("3rd", "child", "male"): (13, 35),
        ("3rd", "child", "female"): (14, 17),
    }
    rows = []
    for (pclass, age, sex), (yes, no) in spec.items():
        rows += [(pclass, age, sex, "yes")] * yes + [(pclass, age, sex, "no")] * no
    frame = pd.DataFrame(rows, columns=["pclass", "age", "sex", "survived"])
    return frame.sample(frac=1.0, random_state=0).reset_index(drop=True), "survived"


def skewed(n: int = 6000) -> tuple[pd.DataFrame, str]:
    rng = np.random.default_rng(0)
    carat = np.clip(rng.lognormal(-0.4, 0.55, n), 0.2, 5.01)
    cuts = ["Fair", "Good", "Very Good", "Premium", "Ideal"]
    cut = rng.choice(cuts, n, p=[0.03, 0.09, 0.22, 0.26, 0.40])
    color = rng.choice(list("DEFGHIJ"), n)
    clarity = rng.choice(["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"], n)
    depth, table = rng.normal(61.7, 1.4, n), rng.normal(57.4, 2.2, n)
    x = 6.4 * carat ** (1 / 3) + rng.normal(0, 0.05, n)
    y = x + rng.normal(0, 0.05, n)
    z = 0.62 * x
    outliers = rng.choice(n, 20, replace=False)
    x[outliers[:8]] = 0
    y[outliers[8:14]] = 58.9
    z[outliers[14:]] = 31.8
    quality = np.array([cuts.index(c) for c in cut]) * 0.04
    price = np.exp(8.4 + 1.7 * np.log(carat) + quality + rng.normal(0, 0.15, n))
    frame = pd.DataFrame(
        {"carat": carat, "cut": cut, "color": color, "clarity": clarity, "depth": depth}
        | {"table": table, "x": x, "y": y, "z": z, "price": np.clip(price, 326, 18823).round()}
    )
    return frame, "price"


def ids(n: int = 3000) -> tuple[pd.DataFrame, str]:
    rng = np.random.default_rng(1)
    tenure = rng.integers(1, 72, n)
    monthly = rng.normal(70, 30, n).round(2)
    plan = rng.choice(["basic", "plus", "pro"], n)
    logit = -0.05 * tenure + 0.02 * (monthly - 70) + np.where(plan == "basic", 0.8, -0.4) + 1.0
    churn = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{v:07d}" for v in rng.permutation(10**6)[:n]],
            "account": rng.permutation(np.arange(10**5, 10**5 + 5 * n))[:n],
            "tenure": tenure,
            "monthly": monthly,
            "plan": plan,
            "churn": churn,
        }
    )
    return frame, "churn"


def high_cardinality(n: int = 4000, values: int = 2000) -> tuple[pd.DataFrame, str]:
    rng = np.random.default_rng(2)
    frequent = [f"shop{i:04d}" for i in range(20)]
    rare = [f"shop{i:04d}" for i in range(20, values)]
    # about half the rows come from 20 frequent shops, the rest spread over 1,980 rare ones
    shop = np.where(rng.random(n) < 0.5, rng.choice(frequent, n), rng.choice(rare, n))
    shop[: len(rare)] = rare  # every rare value appears at least once
    rng.shuffle(shop)
    effect = {s: rng.normal(0, 3) for s in frequent}
    amount = rng.lognormal(3, 0.5, n).round(2)
    age = rng.integers(18, 80, n)
    logit = np.array([effect.get(s, 0.0) for s in shop]) + 0.06 * (age - 50)
    label = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "fraud", "ok")
    order_id = [f"{v:08x}" for v in rng.permutation(16**7)[:n]]
    frame = pd.DataFrame(
        {"order_id": order_id, "shop": shop, "amount": amount, "age": age, "label": label}
    )
    return frame, "label"


def dates(n: int = 3000) -> tuple[pd.DataFrame, str]:
    rng = np.random.default_rng(3)
    start = np.datetime64("2024-01-01T00:00")
    when = start + rng.integers(0, 365 * 24 * 60, n).astype("timedelta64[m]")
    when = np.sort(when)
    stamp = pd.to_datetime(when)
    weekend = stamp.day_of_week >= 5
    evening = stamp.hour >= 18
    basket = rng.lognormal(3, 0.4, n).round(2)
    logit = 1.5 * weekend + 1.0 * evening + 0.02 * (basket - 20) - 1.0
    returned = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    frame = pd.DataFrame(
        {
            "ordered_at": stamp.strftime("%Y-%m-%dT%H:%M:00"),
            "customer": rng.choice([f"cust{i:03d}" for i in range(300)], n),
            "basket": basket,
            "returned": returned,
        }
    )
    return frame, "returned"


def noise(n: int = 2000) -> tuple[pd.DataFrame, str]:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "kind": rng.choice(["x", "y", "z"], n),
            "outcome": rng.choice(["no", "yes"], n, p=[0.6, 0.4]),
        }
    )
    return frame, "outcome"


SHAPES: dict[str, Callable[[], tuple[pd.DataFrame, str]]] = {
    "duplicates": duplicates,
    "skewed": skewed,
    "ids": ids,
    "high_cardinality": high_cardinality,
    "dates": dates,
    "noise": noise,
}


def write(name: str, folder: Path) -> tuple[Path, str]:
    """Write the table `name` to folder/<name>.csv; return (path, target column)."""
    frame, target = SHAPES[name]()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.csv"
    frame.to_csv(path, index=False)
    return path, target


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    for shape in SHAPES:
        print(*write(shape, out))
