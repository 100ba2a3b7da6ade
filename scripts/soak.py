"""Soak test (run once, reported, not in CI): a live quantd under a continuous job stream plus
polling for DURATION seconds; samples RSS and open file descriptors every 30 s.

    python3 scripts/soak.py QUANTD_BINARY [DURATION_SECONDS=1800]
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import requests
from safetensors.numpy import save_file

binary, duration = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 1800
data = pathlib.Path(tempfile.mkdtemp(prefix="qs-soak-"))
proc = subprocess.Popen([binary, "--port", "0", "--data-dir", str(data), "--workers", "2"],
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
url = proc.stdout.readline().strip().split(" ")[-1]
key = (data / "admin.key").read_text().strip()
headers = {"Authorization": f"Bearer {key}"}
model_path = data / "model.safetensors"
save_file({f"layers.{i}.weight": np.random.default_rng(i).standard_normal((256, 512)).astype(np.float32) for i in range(8)}, str(model_path))
with open(model_path, "rb") as f:
    model = requests.post(url + "/v1/models?name=soak", headers=headers, data=f).json()["id"]

stop = time.time() + duration
counts = {"submitted": 0, "polled": 0, "server_errors": 0, "gone": 0, "finished": 0}
lock = threading.Lock()
recent = []


def submitter():
    presets = ["int8", "int4-g128", "q8_0", "fp16"]
    n = 0
    while time.time() < stop:
        r = requests.post(url + "/v1/jobs", headers=headers, json={"model_id": model, "recipe": {"preset": presets[n % 4]}})
        n += 1
        with lock:
            if r.status_code == 202:
                counts["submitted"] += 1
                recent.append(r.json()["id"])
                del recent[:-50]
            else:
                counts["server_errors"] += 1
        time.sleep(0.5)


def poller():
    session = requests.Session()
    while time.time() < stop:
        with lock:
            ids = list(recent[-10:])
        for job_id in ids:
            r = session.get(f"{url}/v1/jobs/{job_id}", headers=headers)
            finished = r.status_code == 200 and r.json()["status"] in ("succeeded", "failed", "cancelled")
            # Keep the disk bounded: finished jobs are deleted (another poller may have done it: 404).
            deleted = session.delete(f"{url}/v1/jobs/{job_id}", headers=headers).status_code if finished else None
            with lock:
                counts["polled"] += 1
                if r.status_code >= 500 or (deleted or 0) >= 500:
                    counts["server_errors"] += 1
                elif r.status_code == 404 or deleted == 404:
                    counts["gone"] += 1
                if deleted == 204:
                    counts["finished"] += 1
                if finished and job_id in recent:
                    recent.remove(job_id)
        time.sleep(0.02)


threads = [threading.Thread(target=submitter)] + [threading.Thread(target=poller) for _ in range(4)]
for t in threads:
    t.start()
samples = []
while time.time() < stop:
    status = pathlib.Path(f"/proc/{proc.pid}/status").read_text()
    rss = int(next(l for l in status.splitlines() if l.startswith("VmRSS")).split()[1]) // 1024
    fds = len(os.listdir(f"/proc/{proc.pid}/fd"))
    with lock:
        samples.append({"t": round(duration - (stop - time.time())), "rss_mib": rss, "fds": fds, **counts})
    print(samples[-1], flush=True)
    time.sleep(30)
for t in threads:
    t.join()
proc.terminate()
proc.wait(30)
first, last = samples[1] if len(samples) > 1 else samples[0], samples[-1]
print("JSON", json.dumps({"duration_s": duration, "samples": samples, "rss_first_mib": first["rss_mib"], "rss_last_mib": last["rss_mib"],
                          "rss_max_mib": max(s["rss_mib"] for s in samples), "fds_first": first["fds"], "fds_last": last["fds"],
                          "fds_max": max(s["fds"] for s in samples)}))
