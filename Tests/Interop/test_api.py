"""API v1 against a real quantd on 127.0.0.1 (--port 0, temporary data directory), over real sockets."""
import hashlib
import json
import os
import signal
import socket
import struct
import time

import numpy as np
import pytest
import requests
from safetensors.numpy import save_file

from service import Quantd


@pytest.fixture(scope="module")
def server():
    q = Quantd()
    yield q
    q.stop()


def model_bytes(tmp, rows=32, cols=64, name="m.safetensors", seed=0):
    path = tmp / name
    rng = np.random.default_rng(seed)
    save_file({"w": rng.standard_normal((rows, cols)).astype(np.float32), "b": np.zeros(cols, np.float32)}, str(path))
    return path


def upload(server, path, key=None, name="m"):
    with open(path, "rb") as f:
        return server.post(f"/v1/models?name={name}", key, data=f, headers={"Content-Type": "application/octet-stream"})


def test_open_routes_and_auth(server, tmp):
    assert requests.get(server.url + "/healthz").status_code == 200
    assert requests.get(server.url + "/readyz").json()["status"] == "ready"
    metrics = requests.get(server.url + "/metrics").text
    assert "quantd_http_requests_total" in metrics and "quantd_queue_depth" in metrics
    missing = requests.get(server.url + "/v1/models")
    wrong = requests.get(server.url + "/v1/models", headers={"Authorization": "Bearer qs_nope"})
    malformed = requests.get(server.url + "/v1/models", headers={"Authorization": "Basic abc"})
    key = server.tenant_key("revoked")
    assert server.get("/v1/models", key).status_code == 200
    import subprocess
    from conftest import BIN
    subprocess.run([str(BIN / "quantd"), "keys", "revoke", key[:11], "--data-dir", str(server.data_dir)], check=True, capture_output=True)
    revoked = server.get("/v1/models", key)
    for r in (missing, wrong, malformed, revoked):
        assert r.status_code == 401 and r.headers["Content-Type"] == "application/problem+json"
        assert r.json()["detail"] == missing.json()["detail"]  # the same answer, whatever the reason
        assert key not in r.text


def test_upload_raw_and_multipart(server, tmp):
    path = model_bytes(tmp)
    raw = upload(server, path)
    assert raw.status_code == 201, raw.text
    assert raw.headers["Location"] == f"/v1/models/{raw.json()['id']}"
    assert raw.json()["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    with open(path, "rb") as f:
        multi = requests.post(server.url + "/v1/models?name=multi", headers=server.headers(), files={"file": ("m.safetensors", f)})
    assert multi.status_code == 201, multi.text
    assert multi.json()["sha256"] == raw.json()["sha256"] and multi.json()["tensor_count"] == 2
    tensors = server.get(f"/v1/models/{raw.json()['id']}/tensors").json()["tensors"]
    assert {t["name"]: t["shape"] for t in tensors} == {"w": [32, 64], "b": [64]}


def test_upload_errors_leave_nothing(server, tmp):
    junk = tmp / "junk.bin"
    junk.write_bytes(b"hello, not a model at all")
    r = upload(server, junk)
    assert r.status_code == 415 and "neither safetensors nor GGUF" in r.json()["detail"]
    bad = tmp / "bad.safetensors"
    header = b'{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'
    bad.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 8)
    r = upload(server, bad)
    assert r.status_code == 422 and "dataOutOfBounds" in r.json()["detail"]
    assert list((server.data_dir / "tmp").iterdir()) == []


def test_dropped_upload_leaves_nothing(server, tmp):
    host, port = server.url.split("//")[1].split(":")
    s = socket.create_connection((host, int(port)))
    s.sendall(f"POST /v1/models?name=x HTTP/1.1\r\nAuthorization: Bearer {server.admin_key}\r\nContent-Length: 10000000\r\n\r\n".encode() + b"x" * 100000)
    time.sleep(0.2)
    s.close()
    time.sleep(0.5)
    assert list((server.data_dir / "tmp").iterdir()) == []


def test_job_lifecycle_report_and_artifact(server, tmp):
    model = upload(server, model_bytes(tmp)).json()
    body = {"model_id": model["id"], "recipe": {"preset": "int8"}, "name": "first"}
    r = server.post("/v1/jobs", json=body, headers={"Idempotency-Key": "lifecycle-1"})
    assert r.status_code == 202 and r.headers["Location"] == f"/v1/jobs/{r.json()['id']}"
    again = server.post("/v1/jobs", json=body, headers={"Idempotency-Key": "lifecycle-1"})
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"]
    conflict = server.post("/v1/jobs", json={**body, "name": "other"}, headers={"Idempotency-Key": "lifecycle-1"})
    assert conflict.status_code == 422
    job = server.wait_job(r.json()["id"])
    assert job["status"] == "succeeded" and job["progress"]["fraction"] == 1 and job["summary"]["tensors_quantized"] == 1
    report = server.get(f"/v1/jobs/{job['id']}/report").json()
    assert [t["name"] for t in report["tensors"]] == ["b", "w"] or [t["name"] for t in report["tensors"]] == ["w", "b"]
    art = server.get(f"/v1/jobs/{job['id']}/artifact")
    assert art.status_code == 200 and hashlib.sha256(art.content).hexdigest() == art.headers["ETag"].strip('"')
    assert "first.safetensors" in art.headers["Content-Disposition"]
    part = server.get(f"/v1/jobs/{job['id']}/artifact", headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == art.content[10:20]
    assert server.get(f"/v1/jobs/{job['id']}/artifact", headers={"Range": f"bytes={len(art.content)}-"}).status_code == 416
    assert server.get(f"/v1/jobs/{job['id']}/artifact", headers={"If-None-Match": art.headers["ETag"]}).status_code == 304
    listed = server.get("/v1/jobs?status=succeeded&limit=1").json()
    assert len(listed["jobs"]) == 1 and listed["next_cursor"]
    assert server.delete(f"/v1/jobs/{job['id']}").status_code == 204
    assert server.get(f"/v1/jobs/{job['id']}").status_code == 404


@pytest.mark.parametrize("recipe, field", [
    ({"preset": "int3"}, "recipe.preset"),
    ({"weights": {"bits": 12}}, "recipe.weights.bits"),
    ({"preset": "int8", "output": {"format": "gguf"}}, "recipe.weights.method"),
])
def test_invalid_recipes_name_the_field(server, tmp, recipe, field):
    model = upload(server, model_bytes(tmp)).json()
    r = server.post("/v1/jobs", json={"model_id": model["id"], "recipe": recipe})
    assert r.status_code == 422 and r.json()["field"] == field, r.text


def test_unknown_model_and_not_applicable(server, tmp):
    assert server.post("/v1/jobs", json={"model_id": "mdl_nope", "recipe": {"preset": "int8"}}).status_code == 404
    odd = upload(server, model_bytes(tmp, cols=40)).json()
    r = server.post("/v1/jobs", json={"model_id": odd["id"], "recipe": {"preset": "q4_0"}})
    assert r.status_code == 422 and "multiple of Q4_0" in r.json()["detail"]


def test_other_tenants_objects_are_missing(server, tmp):
    model = upload(server, model_bytes(tmp)).json()
    job = server.post("/v1/jobs", json={"model_id": model["id"], "recipe": {"preset": "int8"}}).json()
    server.wait_job(job["id"])
    other = server.tenant_key("other-tenant")
    for method, path in [("get", f"/v1/models/{model['id']}"), ("get", f"/v1/models/{model['id']}/tensors"),
                         ("delete", f"/v1/models/{model['id']}"), ("get", f"/v1/jobs/{job['id']}"),
                         ("get", f"/v1/jobs/{job['id']}/report"), ("get", f"/v1/jobs/{job['id']}/artifact"),
                         ("post", f"/v1/jobs/{job['id']}/cancel"), ("delete", f"/v1/jobs/{job['id']}")]:
        r = getattr(server, method)(path, other)
        assert r.status_code == 404, (method, path, r.status_code)
    assert server.post("/v1/jobs", other, json={"model_id": model["id"], "recipe": {"preset": "int8"}}).status_code == 404
    assert server.get("/v1/jobs", other).json()["jobs"] == []


def test_cancel_quota_and_sigterm_during_a_job(tmp):
    q = Quantd(env={"QUANTD_TEST_CHUNK_DELAY_MS": "300"})
    try:
        key = q.tenant_key("busy")
        model = upload(q, model_bytes(tmp, rows=64, cols=64), key).json()
        jobs = []
        for _ in range(300):  # workers drain a few meanwhile: submit until the quota answers
            jobs.append(q.post("/v1/jobs", key, json={"model_id": model["id"], "recipe": {"preset": "int8"}}))
            if jobs[-1].status_code != 202:
                break
        assert len(jobs) > 100 and all(j.status_code == 202 for j in jobs[:100])
        refused = jobs[-1]
        assert refused.status_code == 429 and refused.headers["Retry-After"] and refused.json()["type"].endswith("quota-exceeded")
        # Jobs are queued or running: the model cannot be deleted.
        assert q.delete(f"/v1/models/{model['id']}", key).status_code == 409
        first = jobs[-2].json()["id"]
        queued = jobs[-3].json()["id"]
        assert q.post(f"/v1/jobs/{queued}/cancel", key).json()["status"] == "cancelled"
        assert q.delete(f"/v1/jobs/{first}", key).status_code == 409  # still queued
        # SIGTERM while jobs run: the process exits cleanly and a restart finishes the job.
        assert q.stop(signal.SIGTERM) == 0
        q2 = Quantd(data_dir=q.data_dir)
        try:
            job = q2.wait_job(first, key, timeout=60)
            assert job["status"] == "succeeded"
        finally:
            q2.stop()
    finally:
        q.stop()


def test_limits_on_the_real_server(server):
    big = requests.get(server.url + "/healthz", headers={"X-Big": "y" * 40000})
    assert big.status_code == 431
    small = Quantd(extra_args=["--max-upload-bytes", "1000"])
    try:
        r = small.post("/v1/models", data=b"x" * 5000, headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 413
    finally:
        small.stop()
