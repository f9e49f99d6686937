"""The markdown tables `bench/serve.py` prints from its medians."""

from typing import Any


def row(name: str, r: dict[str, float], per: int = 1, unit: str = "rows", ratio: str = "–") -> str:
    """One table row: req/s (and rows/s for a batch), p50, p99, the ratio column, non-2xx."""
    rate = f"{r['rps']:.0f}" + (f" (= {per * r['rps']:,.0f} {unit}/s)" if per > 1 else "")
    return f"| {name} | {rate} | {r['p50']:.2f} | {r['p99']:.2f} | {ratio} | {r['errors']:.0f} |"


def table(args: Any, result: dict[str, Any]) -> list[str]:
    bare, one, batch = result["bare"], result["api"], result["batch"]
    v2, v2batch = result["v2"], result["v2batch"]
    cap, cap_batch = result["capture"], result["capture-batch"]

    def vs_bare(r: dict[str, float]) -> str:
        return f"{100 * r['rps'] / bare['rps']:.0f} %"

    lines = [
        f"| 1 worker each; wrk -t1 -c{args.connections}; median of {args.rounds} alternating "
        f"{args.duration} s runs | req/s | p50 ms | p99 ms | vs bare | non-2xx |",
        "|---|---:|---:|---:|---:|---:|",
        row("bare validating endpoint, 1 record", bare, ratio="100 %"),
        row("`/predict`, 1 record, all metrics", one, ratio=vs_bare(one)),
        row("`/predict`, batch of 256 (-c8)", batch, 256),
        row("`/v2/models/{name}/infer`, 1 record, all metrics", v2, ratio=vs_bare(v2)),
        row("`/v2/models/{name}/infer`, batch of 256 (-c8)", v2batch, 256),
        row(
            "`/predict`, 1 record, capture on (100 %)",
            cap,
            ratio=f"{vs_bare(cap)} ({100 * cap['rps'] / one['rps']:.0f} % of capture off)",
        ),
        row(
            "`/predict`, batch of 256, capture on (100 %)",
            cap_batch,
            256,
            ratio=f"{100 * cap_batch['rps'] / batch['rps']:.0f} % of capture off",
        ),
        row("`/feedback`, 1 label", result["fb1"], ratio=vs_bare(result["fb1"])),
        row("`/feedback`, 100 labels (-c8)", result["fb100"], 100, "labels"),
    ]
    if args.also is not None:
        from api.state import read_card

        family, also = read_card(args.also).model, result["also"]
        lines += [
            row(f"`/predict`, 1 record, `{family}` model", also, ratio=vs_bare(also)),
            row(f"`/predict`, batch of 256, `{family}` model", result["also-batch"], 256),
        ]
    cpu = [("`/predict`, 1 record", "api"), ("`/v2/models/{name}/infer`, 1 record", "v2")]
    cpu += [("`/predict`, batch of 256", "batch"), ("`/v2/models/{name}/infer`, batch", "v2batch")]
    cpu += [("`/predict`, 1 record, capture on", "capture")]
    cpu += [("`/predict`, batch of 256, capture on", "capture-batch")]
    cpu += [("`/feedback`, 1 label", "fb1"), ("`/feedback`, 100 labels", "fb100")]
    lines += ["", "| server CPU per request (worker, median) | µs |", "|---|---:|"]
    lines += [f"| {name} | {result[key]['cpu_us']:.0f} |" for name, key in cpu]
    lines += [
        "",
        f"V2 / `/predict` (same run): 1 record {100 * v2['rps'] / one['rps']:.0f} % of the req/s, "
        f"batch of 256 {100 * v2batch['rps'] / batch['rps']:.0f} %. Capture on / off: 1 record "
        f"{100 * cap['rps'] / one['rps']:.0f} % of the req/s "
        f"({100 * (cap['cpu_us'] / one['cpu_us'] - 1):+.0f} % CPU per request), batch of 256 "
        f"{100 * cap_batch['rps'] / batch['rps']:.0f} % "
        f"({100 * (cap_batch['cpu_us'] / batch['cpu_us'] - 1):+.0f} % CPU per request); "
        f"captured rows dropped (buffer full): {result['capture-dropped']['rows']:,.0f}.",
    ]
    return lines
