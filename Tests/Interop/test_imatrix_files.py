"""llama.cpp importance matrices (llama-imatrix's output) as quantctl --imatrix and as server datasets:
both files (GGUF written with gguf-py's GGUFWriter in llama.cpp's layout, and the legacy .dat) give
each tensor exactly the bytes of our weighted quantizer fed `in_sum2 / counts` (or `values / ncall`),
matched by llama.cpp name from Hugging Face names; tensors without an entry are quantized without
weights; damaged files are clear errors."""
import json
import os
import struct
import subprocess

import gguf
import numpy as np
import pytest
from safetensors.numpy import save_file

from conftest import BIN
from wire_schemas import report_errors
from test_blocks_interop import tool

F = np.float32
QUANTCTL = BIN / "quantctl"
COLS = {"self_attn.q_proj": 512, "self_attn.k_proj": 512, "self_attn.v_proj": 512, "self_attn.o_proj": 256,
        "mlp.gate_proj": 512, "mlp.up_proj": 512, "mlp.down_proj": 256}
GGUF_PART = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
             "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
LAYERS = 2
MISSING = "blk.1.ffn_up.weight"  # not in the importance matrix: quantized without weights


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A small Llama-shaped model with Hugging Face names, and its importance matrix in both files:
    mean squares m with counts 8 (GGUF: in_sum2 = 8 m) and ncall 4 (legacy: values = 4 m), powers of
    two, so that both give exactly m."""
    root = tmp_path_factory.mktemp("imatrix")
    rng = np.random.default_rng(11)
    tensors, means = {}, {}
    for layer in range(LAYERS):
        for part, cols in COLS.items():
            rows = 32
            tensors[f"model.layers.{layer}.{part}.weight"] = rng.standard_normal((rows, cols)).astype(F)
            name = f"blk.{layer}.{GGUF_PART[part]}.weight"
            if name != MISSING:
                m = (rng.standard_normal(cols) ** 2 * np.where(rng.uniform(size=cols) < 0.05, 40, 1)).astype(F)
                m[5] = 0  # a column never active
                means[name] = m
    model = root / "model.safetensors"
    save_file(tensors, str(model))

    matrix = root / "imatrix.gguf"
    writer = gguf.GGUFWriter(str(matrix), "imatrix")
    writer.add_string("general.type", "imatrix")
    writer.add_array("imatrix.datasets", ["wiki.train.raw"])
    writer.add_uint32("imatrix.chunk_count", 4)
    writer.add_uint32("imatrix.chunk_size", 512)
    for name, m in means.items():
        writer.add_tensor(name + ".in_sum2", (m * F(8)).reshape(1, -1))
        writer.add_tensor(name + ".counts", np.array([[8]], F))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    legacy = root / "imatrix.dat"
    legacy.write_bytes(legacy_bytes({name: (4, m * F(4)) for name, m in means.items()}, chunks=4, dataset="wiki.train.raw"))
    return root, model, matrix, legacy, tensors, means


def legacy_bytes(entries, chunks=None, dataset=None):
    out = struct.pack("<i", len(entries))
    for name, (ncall, values) in entries.items():
        raw = name.encode()
        out += struct.pack("<i", len(raw)) + raw + struct.pack("<ii", ncall, len(values)) + np.asarray(values, F).tobytes()
    if chunks is not None:
        out += struct.pack("<i", chunks) + struct.pack("<i", len(dataset)) + dataset.encode()
    return out


def quantize(model, out, *args):
    result = subprocess.run([str(QUANTCTL), "quantize", str(model), "-o", str(out), "--json", *map(str, args)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def expected_blocks(tmp, qtype, x, importance):
    src, weights, dst = tmp / "x.f32", tmp / "w.f32", tmp / "q.bin"
    src.write_bytes(np.ascontiguousarray(x, F).tobytes())
    if importance is None:
        tool("avx512", "quantize-blocks", qtype, src, dst)
    else:
        weights.write_bytes(np.ascontiguousarray(importance, F).tobytes())
        tool("avx512", "quantize-blocks-weighted", qtype, src, weights, dst)
    return dst.read_bytes()


def hf_to_gguf(name):
    layer, rest = name[len("model.layers."):].split(".", 1)
    return f"blk.{layer}.{GGUF_PART[rest[:-len('.weight')]]}.weight"


@pytest.mark.parametrize("which", ["gguf", "legacy"])
def test_an_importance_matrix_weights_every_tensor_as_llama_quantize_does(files, which, tmp_path):
    root, model, matrix, legacy, tensors, means = files
    out = tmp_path / "out.gguf"
    report = quantize(model, out, "--preset", "q4_k_m", "--imatrix", matrix if which == "gguf" else legacy)
    reader = gguf.GGUFReader(str(out))
    assert report_errors(report) == []
    by_name = {t["name"]: t for t in report["tensors"]}
    types = set()
    for tensor in reader.tensors:
        qtype = tensor.tensor_type.name
        types.add(qtype)
        llama_name = hf_to_gguf(tensor.name)
        importance = means.get(llama_name)
        expected = expected_blocks(tmp_path, qtype, tensors[tensor.name], importance)
        assert bytes(tensor.data.tobytes()) == expected, (tensor.name, qtype)
        entry = by_name[tensor.name]
        if importance is None:
            assert "no entry for this tensor" in entry["note"]
            assert "calibration" not in entry
        else:
            assert entry["calibration"]["importance_entry"] == llama_name
    assert {"Q4_K", "Q6_K"} <= types  # the mix gives attn_v / ffn_down more bits
    summary = report["summary"]["calibration"]["importance_matrix"]
    assert summary == {"format": which, "entries": len(means), "tensors_weighted": len(means), "datasets": ["wiki.train.raw"], "chunks": 4}
    fields = {f.name: f for f in reader.fields.values()}
    assert fields["quantize.imatrix.file"].contents() == ("imatrix.gguf" if which == "gguf" else "imatrix.dat")
    assert fields["quantize.imatrix.dataset"].contents() == "wiki.train.raw"
    assert fields["quantize.imatrix.entries_count"].contents() == len(means)
    assert fields["quantize.imatrix.chunks_count"].contents() == 4


def test_the_weights_reach_blocks_of_32_and_help(files, tmp_path):
    """Q5_0 with the matrix: each tensor's bytes are the weighted quantizer's, and the error weighted
    by the columns' mean squares (the expected output error) falls on every weighted tensor."""
    root, model, matrix, legacy, tensors, means = files
    plain, weighted = tmp_path / "plain.gguf", tmp_path / "weighted.gguf"
    quantize(model, plain, "--preset", "q5_0")
    quantize(model, weighted, "--preset", "q5_0", "--imatrix", matrix)
    reads = {path: {t.name: t for t in gguf.GGUFReader(str(path)).tensors} for path in (plain, weighted)}
    for name, x in tensors.items():
        importance = means.get(hf_to_gguf(name))
        mine = reads[weighted][name]
        assert bytes(mine.data.tobytes()) == expected_blocks(tmp_path, "Q5_0", x, importance), name
        if importance is None:
            continue
        errors = {}
        for path in (plain, weighted):
            t = reads[path][name]
            y = gguf.quants.dequantize(t.data, t.tensor_type).reshape(x.shape)
            errors[path] = float((((y - x) ** 2) * importance).sum())
        assert errors[weighted] < errors[plain], name


def test_damaged_and_mismatched_matrices_are_clear_errors(files, tmp_path):
    root, model, matrix, legacy, tensors, means = files
    data = legacy.read_bytes()

    def run(path, preset="q4_k"):
        return subprocess.run([str(QUANTCTL), "quantize", str(model), "-o", str(tmp_path / "o.gguf"), "--preset", preset, "--imatrix", str(path)],
                              capture_output=True, text=True)
    cases = {
        "truncated": (data[:len(data) // 2], "importance matrix: the file ends inside"),
        "short": (data[:100], "claims 512 values but the file holds"),
        "negative": (legacy_bytes({"blk.0.attn_q.weight": (1, -np.ones(512, F))}), "at least 0"),
        "nan": (legacy_bytes({"blk.0.attn_q.weight": (1, np.full(512, np.nan, F))}), "at least 0"),
        "narrow": (legacy_bytes({"blk.0.attn_q.weight": (1, np.ones(256, F))}), "has 1 x 256 values but 'model.layers.0.self_attn.q_proj.weight' has 512 columns"),
    }
    for label, (content, message) in cases.items():
        path = tmp_path / f"{label}.dat"
        path.write_bytes(content)
        result = run(path)
        assert result.returncode == 1 and message in result.stderr and "Fatal" not in result.stderr, (label, result.stderr)
    twice = struct.pack("<i", 2) + legacy_bytes({"a.weight": (1, np.ones(4, F))})[4:] * 2
    (tmp_path / "twice.dat").write_bytes(twice)
    result = run(tmp_path / "twice.dat")
    assert result.returncode == 1 and "appears twice" in result.stderr, result.stderr
    # Every prefix of a valid file is refused or read, never a crash.
    for cut in range(0, len(data), max(1, len(data) // 97)):
        (tmp_path / "cut.dat").write_bytes(data[:cut])
        assert run(tmp_path / "cut.dat").returncode in (0, 1)
    # A sample-reading method with a matrix says what it needs.
    recipe = tmp_path / "gptq.json"
    recipe.write_text(json.dumps({"weights": {"method": "gptq", "bits": 4, "dataset_id": "m"}}))
    result = subprocess.run([str(QUANTCTL), "quantize", str(model), "-o", str(tmp_path / "o.safetensors"), "--recipe", str(recipe),
                             "--dataset", str(matrix)], capture_output=True, text=True)
    assert result.returncode == 1 and "GPTQ needs calibration samples" in result.stderr, result.stderr
    # Q8_0 takes no weights: --imatrix with it is an error, not silently ignored.
    result = run(matrix, preset="q8_0")
    assert result.returncode == 1 and "no type in this recipe takes importance weights" in result.stderr, result.stderr


def test_the_server_takes_an_importance_matrix_as_a_dataset(files, tmp_path):
    from service import Quantd
    root, model, matrix, legacy, tensors, means = files
    cli = tmp_path / "cli.gguf"
    quantize(model, cli, "--preset", "q4_k_m", "--imatrix", legacy)
    server = Quantd()
    try:
        uploaded = server.post("/v1/models", data=model.read_bytes())
        assert uploaded.status_code == 201, uploaded.text
        model_id = uploaded.json()["id"]
        answer = server.post("/v1/datasets?name=llama-imatrix", data=legacy.read_bytes())
        assert answer.status_code == 201, answer.text
        dataset_id = answer.json()["id"]
        shown = server.get(f"/v1/datasets/{dataset_id}").json()
        assert shown["importance_matrix"] == {"format": "legacy", "entries": len(means), "datasets": ["wiki.train.raw"], "chunks": 4}
        env = {**os.environ, "QUANT_SERVER": server.url, "QUANT_API_KEY": server.admin_key}
        described = subprocess.run([str(QUANTCTL), "datasets", "show", dataset_id], capture_output=True, text=True, env=env)
        assert described.returncode == 0 and f"llama.cpp importance matrix (legacy file): {len(means)} entries, 4 chunks, computed on wiki.train.raw" in described.stdout, described
        job = server.post("/v1/jobs", json={"model_id": model_id, "recipe": {"preset": "q4_k_m", "weights": {"dataset_id": dataset_id}}})
        assert job.status_code in (201, 202), job.text
        done = server.wait_job(job.json()["id"])
        assert done["status"] == "succeeded", done
        artifact = server.get(f"/v1/jobs/{done['id']}/artifact")
        served = tmp_path / "served.gguf"
        served.write_bytes(artifact.content)
        ours = {t.name: bytes(t.data.tobytes()) for t in gguf.GGUFReader(str(cli)).tensors}
        theirs = {t.name: bytes(t.data.tobytes()) for t in gguf.GGUFReader(str(served)).tensors}
        assert ours == theirs
        fields = {f.name: f for f in gguf.GGUFReader(str(served)).fields.values()}
        assert fields["quantize.imatrix.file"].contents() == "llama-imatrix"
        # GPTQ reads samples: refused before it is queued.
        refused = server.post("/v1/jobs", json={"model_id": model_id, "recipe": {"weights": {"method": "gptq", "bits": 4, "dataset_id": dataset_id}}})
        assert refused.status_code == 422 and "GPTQ needs calibration samples" in refused.json()["detail"], refused.text
        # A damaged matrix is refused at upload, and nothing is kept.
        bad = legacy_bytes({"blk.0.attn_q.weight": (1, -np.ones(512, F))})
        answer = server.post("/v1/datasets", data=bad)
        assert answer.status_code == 422 and "at least 0" in answer.json()["detail"], answer.text
        answer = server.post("/v1/datasets", data=legacy.read_bytes()[:100])
        assert answer.status_code == 422 and "importance matrix" in answer.json()["detail"], answer.text
        assert len(server.get("/v1/datasets").json()["datasets"]) == 1
    finally:
        server.stop()
