"""The quick-suite tables of results/README.md, made from a committed long table.

    python results/quick_tables.py results/quick-heldout.csv

prints, per dataset, each variant's final value of the dataset's main metrics at every seed
of the table, the worst seed against the noise calibration row on the first (headline)
metric, and every other main metric on which some seed is worse than the noise row.
tests/e2e/test_claims.py checks that results/README.md holds exactly this output.
"""

from __future__ import annotations

import sys

DATASETS = {  # dataset -> its main metrics; the first is the headline of "above noise"
    "digits": ("fid", "frechet_data"),
    "grid25": ("high_quality_pct", "modes_covered", "reverse_kl"),
    "ring8": ("high_quality_pct", "modes_covered", "reverse_kl"),
}
NOISE, REAL = "calib-noise", "calib-real"


def num(x: float) -> str:
    """Three significant digits, no exponent (the precision the tables print)."""
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.3g}"


def finals(path):
    """dataset -> variant -> metric -> {seed: final value}; and metric -> higher_is_better."""
    from ganbench.store import results

    fin = results.final_values(results.load(path))
    table: dict = {}
    for r in fin.itertuples():
        table.setdefault(r.dataset, {}).setdefault(r.variant, {}).setdefault(
            r.metric, {})[int(r.seed)] = float(r.value)
    higher = {m: str(h) == "True" for m, h in zip(fin["metric"], fin["higher_is_better"])}
    return table, higher


def worse(value: float, noise: float, higher: bool) -> bool:
    return value < noise if higher else value > noise


def ratio(value: float, noise: float, higher: bool) -> float:
    """How many times better than noise (> 1) the value is."""
    return value / noise if higher else noise / value


def tables(path) -> str:
    table, higher = finals(path)
    out = []
    for ds, metrics in DATASETS.items():
        rows = table[ds]
        noise, real = rows[NOISE], rows[REAL]
        seeds = sorted(next(v for k, v in rows.items() if k not in (NOISE, REAL))[metrics[0]])
        cal = "; ".join(f"{label}: " + ", ".join(
            f"{m} {num(next(iter(row[m].values())))}" for m in metrics)
            for label, row in (("noise row", noise), ("real data", real)))
        out.append(f"**{ds}** ({cal})\n")
        s = " / ".join(map(str, seeds))
        head = [f"{m} (seeds {s})" for m in metrics]
        out.append("| variant | " + " | ".join(head) + f" | {metrics[0]}: worst seed vs noise "
                   "| worse than noise on |")
        out.append("|---" * (len(metrics) + 3) + "|")
        for variant in sorted(k for k in rows if k not in (NOISE, REAL)):
            by = rows[variant]
            cells = [" / ".join(num(by[m][seed]) for seed in seeds) for m in metrics]
            h = higher[metrics[0]]
            noise0 = next(iter(noise[metrics[0]].values()))
            worst = min(by[metrics[0]].values()) if h else max(by[metrics[0]].values())
            r = ratio(worst, noise0, h)
            cells.append(f"{num(r)}x better" if r >= 1 else f"{num(1 / r)}x worse")
            bad = []
            for m in metrics:
                n = next(iter(noise[m].values()))
                k = sum(worse(by[m][seed], n, higher[m]) for seed in seeds)
                if k:
                    bad.append(f"{m} ({k}/{len(seeds)} seeds)")
            cells.append(", ".join(bad) or "—")
            out.append(f"| {variant} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(tables(sys.argv[1]), end="")
