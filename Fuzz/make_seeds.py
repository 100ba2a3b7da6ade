"""Writes the fuzz seed corpora: the malformed cases of the CLI tests plus valid sample files."""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "Interop"))
from test_cli import CASES  # noqa: E402  (only uses struct; no third-party imports)

out, tool = pathlib.Path(sys.argv[1]), sys.argv[2]
for kind in ("safetensors", "gguf"):
    (out / kind).mkdir(parents=True, exist_ok=True)
    subprocess.run([tool, f"sample-{kind}", str(out / kind / f"sample.{kind}")], check=True)
for name, data in CASES.items():
    kind = "gguf" if data[:3] == b"GGU" else "safetensors"
    (out / kind / f"{name}.bin").write_bytes(data)
