"""GPTQ against round-to-nearest on the test accuracy of many digits MLPs, for docs/ACCURACY.md.

    python scripts/gptq_across_models.py QUANTCTL [--models 20] [--hidden 256,128]

One model's accuracy moves in steps of one test sample (0.19 points) and, at int4 g128,
round-to-nearest is already within a sample or two of fp32 on the committed fixture: a single model
cannot tell the two methods apart there. This trains MODELS fixtures (scripts/make-digits-fixture.py
--seed 0..MODELS-1: other splits and initialisations, the same recipe), quantizes each with both
methods and prints per-model accuracies, then means, wins, the mean distance from fp32, and on how
many models GPTQ's output SQNR beat round-to-nearest's on every layer. Markdown. `--hidden 32,16`
gives a narrow MLP that 4-bit weights do hurt.
"""
import argparse
import statistics
import tempfile

import digits_eval as digits

CONFIGS = [(4, 128), (3, 128)]


def main(quantctl, models, hidden):
    rows = []
    every_layer = {config: 0 for config in CONFIGS}
    print("| seed | fp32 | " + " | ".join(f"int{b} g{g} nearest | int{b} g{g} GPTQ" for b, g in CONFIGS) + " |")
    print("|---|---|" + "---|---|" * len(CONFIGS))
    with tempfile.TemporaryDirectory() as tmp:
        for seed, fp32, results, layers in digits.nearest_and_gptq_across_models(quantctl, range(models), CONFIGS, tmp, hidden):
            rows.append((fp32, results))
            for config, (nearest, gptq) in layers.items():
                every_layer[config] += all(gptq[name] > nearest[name] for name in nearest)
            cells = " | ".join(f"{100 * n:.2f} | {100 * g:.2f}" for n, g in (results[c] for c in CONFIGS))
            print(f"| {seed} | {100 * fp32:.2f} | {cells} |", flush=True)
    print()
    print("| weights | mean nearest | mean GPTQ | mean fp32 | GPTQ wins / ties / losses | mean difference (± s.e.) | mean distance from fp32: nearest / GPTQ | output SQNR better on every layer |")
    print("|---|---|---|---|---|---|---|---|")
    for config in CONFIGS:
        nearest = [100 * r[config][0] for _, r in rows]
        gptq = [100 * r[config][1] for _, r in rows]
        fp32 = [100 * f for f, _ in rows]
        diff = [g - n for n, g in zip(nearest, gptq)]
        wins, ties = sum(d > 0 for d in diff), sum(d == 0 for d in diff)
        error = statistics.stdev(diff) / len(diff) ** 0.5 if len(diff) > 1 else float("nan")
        distance = [statistics.mean(abs(a - f) for a, f in zip(m, fp32)) for m in (nearest, gptq)]
        print(f"| int{config[0]} g{config[1]} | {statistics.mean(nearest):.2f} | {statistics.mean(gptq):.2f} | {statistics.mean(fp32):.2f} | "
              f"{wins} / {ties} / {len(diff) - wins - ties} | {statistics.mean(diff):+.2f} (± {error:.2f}) | {distance[0]:.2f} / {distance[1]:.2f} | "
              f"{every_layer[config]} of {len(rows)} models |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(usage=__doc__)
    parser.add_argument("quantctl")
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--hidden", type=lambda v: tuple(int(w) for w in v.split(",")), default=(256, 128))
    arguments = parser.parse_args()
    print(f"Digits MLP 64-{'-'.join(map(str, arguments.hidden))}-10, {arguments.models} models.\n")
    main(arguments.quantctl, arguments.models, arguments.hidden)
