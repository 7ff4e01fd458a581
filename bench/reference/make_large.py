"""Writes the large-table benchmark input: diamonds repeated to 1,000,000 rows with 20
extra numeric columns no model uses (seeded, so every run writes the same file).

    python make_large.py DATA_DIR OUT_CSV
"""

import sys

import numpy as np
import pandas as pd

data, out = sys.argv[1], sys.argv[2]
df = pd.read_csv(f"{data}/diamonds.csv")
reps = -(-1_000_000 // len(df))
big = pd.concat([df] * reps, ignore_index=True).iloc[:1_000_000]
rng = np.random.default_rng(7)
for i in range(20):
    big[f"extra_{i:02d}"] = np.round(rng.normal(size=len(big)), 6)
big.to_csv(out, index=False)
