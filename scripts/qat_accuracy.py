"""Post-training quantization against QAT on the digits MLP, for docs/ACCURACY.md.

    python scripts/qat_accuracy.py QUANTCTL

Builds the fixture (scripts/make-digits-fixture.py); for each recipe runs `quantctl quantize` and
`quantctl qat` (digits_eval.QAT_TRAINING: 20 epochs, Adam, lr 0.003, seed 1, on the fp32 model's own
training split), and measures test accuracy on the held-out split that neither training saw. Prints
Markdown, with the training time the QAT report measured.
"""
import sys
import tempfile
from pathlib import Path

import digits_eval as digits


def main(quantctl):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        summary = digits.make_fixture(tmp)
        fp32 = summary["fp32_test_accuracy"]
        print(f"Digits MLP 64-256-128-10 (ReLU); fp32 test accuracy {100 * fp32:.2f} % on {summary['test_samples']} held-out samples.\n")
        print("| weights | post-training | QAT | PTQ vs fp32 | QAT vs fp32 | QAT training time (20 epochs) |")
        print("|---|---|---|---|---|---|")
        # The same training without quantization: how much of QAT's number is just more training.
        digits.QAT_RECIPES["none (fp32 fine-tuned)"] = {"targets": ["no-tensor-matches-this"]}
        for name in ["none (fp32 fine-tuned)"] + [n for n in digits.QAT_RECIPES if n != "none (fp32 fine-tuned)"]:
            ptq, qat, report = digits.ptq_and_qat(quantctl, tmp, name, tmp)
            print(f"| {name} | {100 * ptq:.2f} % | {100 * qat:.2f} % | {100 * (ptq - fp32):+.2f} | {100 * (qat - fp32):+.2f} | "
                  f"{report['training']['seconds']:.2f} s |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
