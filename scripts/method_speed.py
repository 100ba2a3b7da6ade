"""Speed of the slower methods against plain int8 on a 100M-parameter model (issue 8's goal: mse
and kmeans within 10x of int8, both cores). Release quantctl, page cache warm, no fsync; each preset
runs RUNS times and the median wall time counts. Prints a table, then JSON.

    python scripts/method_speed.py QUANTCTL [RUNS=5]
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from safetensors.numpy import save_file

quantctl, runs = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5
presets = ["int8", "int4-g128", "int4-g128-mse", "int3-g64-mse", "kmeans-4", "kmeans-3"]
with tempfile.TemporaryDirectory() as tmp:
    model = os.path.join(tmp, "m.safetensors")
    rng = np.random.default_rng(0)
    save_file({f"layers.{i}.weight": rng.standard_normal((5000, 5000), dtype=np.float32) for i in range(4)}, model)
    subprocess.run(["cat", model], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
    results = {}
    for preset in presets:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run([quantctl, "quantize", model, "-o", os.path.join(tmp, "out"), "--preset", preset, "--no-fsync"],
                           stdout=subprocess.DEVNULL, check=True)
            times.append(time.perf_counter() - start)
        results[preset] = statistics.median(times)
base = results["int8"]
print(f"{'preset':<16}{'median s':>10}{'x int8':>9}")
for preset in presets:
    print(f"{preset:<16}{results[preset]:>10.3f}{results[preset] / base:>9.1f}")
print(json.dumps({"parameters": 100_000_000, "runs": runs, "seconds": results, "ratio_to_int8": {p: results[p] / base for p in presets}}))
