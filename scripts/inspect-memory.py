"""Measures quantctl inspect's peak memory on a 1 GiB safetensors file (issue acceptance: < 64 MiB).

Writes a real 1 GiB file (random data, written in chunks; not sparse) then runs
`/usr/bin/time -v quantctl inspect` on it and prints the peak RSS.
Usage: python3 scripts/inspect-memory.py QUANTCTL [WORKDIR]
"""
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

quantctl = sys.argv[1]
workdir = sys.argv[2] if len(sys.argv) > 2 else tempfile.gettempdir()
path = os.path.join(workdir, "one-gib.safetensors")
tensor_bytes = 4 << 20  # [1024, 1024] F32
count = (1 << 30) // tensor_bytes
header = {"__metadata__": {"format": "pt"}}
for i in range(count):
    header[f"layers.{i}.weight"] = {"dtype": "F32", "shape": [1024, 1024],
                                    "data_offsets": [i * tensor_bytes, (i + 1) * tensor_bytes]}
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
chunk = os.urandom(tensor_bytes)
with open(path, "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text)
    for _ in range(count):
        f.write(chunk)
try:
    result = subprocess.run(["/usr/bin/time", "-v", quantctl, "inspect", path], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    peak_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    size = os.path.getsize(path)
    print(f"file {size} bytes, {count} tensors; quantctl inspect peak RSS {peak_kib} KiB ({peak_kib / 1024:.1f} MiB)")
finally:
    os.remove(path)
