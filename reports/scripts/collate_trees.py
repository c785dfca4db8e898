"""Turns reports/trees-vs-lightgbm.jsonl into the markdown table of the report.

The last line per (system, dataset, threads) wins, so a rerun replaces an earlier measurement.

    python3 reports/scripts/collate_trees.py reports/trees-vs-lightgbm.jsonl
"""
import json
import sys

rows = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if line:
        r = json.loads(line)
        rows[(r["system"], r["dataset"], r["threads"])] = r

print("| dataset | threads | train s (ours / lgbm = ratio) | predict s (ours / lgbm = ratio) "
      "| peak MB (ours / lgbm = ratio) | test metric (ours / lgbm, diff) | load |")
print("|---|---|---|---|---|---|---|")
keys = sorted({(d, t) for (_, d, t) in rows})
for d, t in keys:
    a, b = rows.get(("autotab", d, t)), rows.get(("lightgbm", d, t))
    if not (a and b):
        continue
    def ratio(k):
        return f"{a[k]:.3f} / {b[k]:.3f} = {a[k] / b[k]:.2f}x"
    mem = f"{a['max_rss_kb'] / 1024:.0f} / {b['max_rss_kb'] / 1024:.0f} = {a['max_rss_kb'] / b['max_rss_kb']:.2f}x"
    metric = f"{a['metric']} {a['value']:.4f} / {b['value']:.4f}, {a['value'] - b['value']:+.4f}"
    load = f"{a['load1']:.1f} / {b['load1']:.1f}"
    print(f"| {d} | {t} | {ratio('train_s')} | {ratio('predict_s')} | {mem} | {metric} | {load} |")
