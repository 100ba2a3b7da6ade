"""Our importance matrix from text (quantctl imatrix: the reference forward pass) against
llama.cpp's own llama-imatrix on the same GGUF, text, context and chunks."""
import subprocess

import gguf
import numpy as np

import llama_runtime
from conftest import BIN, ROOT
from test_llama_cpp import convert


def read_imatrix(path):
    reader = gguf.GGUFReader(path)
    tensors = {t.name: np.array(t.data, dtype=np.float64).ravel() for t in reader.tensors}
    names = sorted(name[:-len(".in_sum2")] for name in tensors if name.endswith(".in_sum2"))
    return {name: (tensors[name + ".in_sum2"], tensors[name + ".counts"]) for name in names}


def test_quantctl_imatrix_equals_llama_imatrix(checkpoints, tmp_path):
    directory = checkpoints["llama3"]
    f16 = convert(directory, "f16", tmp_path)
    text = tmp_path / "text.txt"
    text.write_text((ROOT / "docs" / "MODELS.md").read_text() + (ROOT / "README.md").read_text())
    llama_cpp = llama_runtime.directory()
    theirs = tmp_path / "theirs.gguf"
    run = subprocess.run([str(llama_cpp / "bin" / "llama-imatrix"), "-m", str(f16), "-f", str(text), "-o", str(theirs), "-c", "64", "-b", "64",
                          "--chunks", "4", "-t", "2", "--no-ppl"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    ours = tmp_path / "ours.gguf"
    run = subprocess.run([str(BIN / "quantctl"), "imatrix", str(directory), "--text", str(text), "-o", str(ours), "--context", "64", "--chunks", "4"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    a, b = read_imatrix(ours), read_imatrix(theirs)
    assert set(a) == set(b) and len(a) == 2 * 7  # 2 layers: q, k, v, output, gate, up, down
    for name in a:
        assert (a[name][1] == b[name][1]).all(), name  # token counts
        # llama.cpp multiplies F16 weights with activations rounded to F16: about 1e-3 apart.
        np.testing.assert_allclose(a[name][0], b[name][0], rtol=5e-3, err_msg=name)  # measured: 8.5e-4 at most
    # and our reader takes the file as llama-quantize would
    result = subprocess.run([str(BIN / "quantctl"), "quantize", str(directory), "-o", str(tmp_path / "q.gguf"), "--preset", "q4_k_m", "--imatrix", str(ours)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
