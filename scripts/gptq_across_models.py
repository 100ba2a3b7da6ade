"""GPTQ against round-to-nearest on the test accuracy of many digits MLPs, for docs/ACCURACY.md.

    python scripts/gptq_across_models.py QUANTCTL [MODELS=20]

One model's accuracy moves in steps of one test sample (0.19 points) and, at int4 g128,
round-to-nearest is already within a sample or two of fp32 on the committed fixture: a single model
cannot tell the two methods apart there. This trains MODELS fixtures (scripts/make-digits-fixture.py
--seed 0..MODELS-1: other splits and initialisations, the same recipe), quantizes each with both
methods and prints per-model accuracies, then means, wins and the mean distance from fp32. Markdown.
"""
import statistics
import sys
import tempfile

import digits_eval as digits

CONFIGS = [(4, 128), (3, 128)]


def main(quantctl, models):
    rows = []
    print("| seed | fp32 | " + " | ".join(f"int{b} g{g} nearest | int{b} g{g} GPTQ" for b, g in CONFIGS) + " |")
    print("|---|---|" + "---|---|" * len(CONFIGS))
    with tempfile.TemporaryDirectory() as tmp:
        for seed, fp32, results in digits.nearest_and_gptq_across_models(quantctl, range(models), CONFIGS, tmp):
            rows.append((fp32, results))
            cells = " | ".join(f"{100 * n:.2f} | {100 * g:.2f}" for n, g in (results[c] for c in CONFIGS))
            print(f"| {seed} | {100 * fp32:.2f} | {cells} |", flush=True)
    print()
    print("| weights | mean nearest | mean GPTQ | mean fp32 | GPTQ wins / ties / losses | mean difference (± s.e.) | mean distance from fp32: nearest / GPTQ |")
    print("|---|---|---|---|---|---|---|")
    for config in CONFIGS:
        nearest = [100 * r[config][0] for _, r in rows]
        gptq = [100 * r[config][1] for _, r in rows]
        fp32 = [100 * f for f, _ in rows]
        diff = [g - n for n, g in zip(nearest, gptq)]
        wins, ties = sum(d > 0 for d in diff), sum(d == 0 for d in diff)
        error = statistics.stdev(diff) / len(diff) ** 0.5 if len(diff) > 1 else float("nan")
        distance = [statistics.mean(abs(a - f) for a, f in zip(m, fp32)) for m in (nearest, gptq)]
        print(f"| int{config[0]} g{config[1]} | {statistics.mean(nearest):.2f} | {statistics.mean(gptq):.2f} | {statistics.mean(fp32):.2f} | "
              f"{wins} / {ties} / {len(diff) - wins - ties} | {statistics.mean(diff):+.2f} (± {error:.2f}) | {distance[0]:.2f} / {distance[1]:.2f} |")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and not sys.argv[2].isdigit()):
        sys.exit(__doc__)
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) == 3 else 20)
