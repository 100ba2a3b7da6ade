"""Starts a real quantd on 127.0.0.1 with --port 0 and a temporary data directory."""
import os
import pathlib
import signal
import subprocess
import tempfile
import time

import requests

from conftest import BIN


class Quantd:
    def __init__(self, data_dir=None, extra_args=(), env=None, admin_key=None, wrapper=(), log=None):
        """wrapper: a command to run quantd under (`ip netns exec NAME`); log: a file for its stderr."""
        self.data_dir = pathlib.Path(data_dir or tempfile.mkdtemp(prefix="qs-quantd-"))
        self.log = log
        self.proc = subprocess.Popen(
            [*wrapper, str(BIN / "quantd"), "--port", "0", "--data-dir", str(self.data_dir), "--workers", "2", *extra_args],
            stdout=subprocess.PIPE, stderr=open(log, "w") if log else subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
        line = self.proc.stdout.readline().strip()
        assert line.startswith("quantd listening on http://"), line + (pathlib.Path(log).read_text() if log else self.proc.stderr.read())
        self.url = line.split(" ")[-1]
        self.admin_key = admin_key or (self.data_dir / "admin.key").read_text().strip()

    def headers(self, key=None, **extra):
        return {"Authorization": f"Bearer {key or self.admin_key}", **extra}

    def get(self, path, key=None, **kw):
        return requests.get(self.url + path, headers=self.headers(key, **kw.pop("headers", {})), timeout=30, **kw)

    def post(self, path, key=None, **kw):
        return requests.post(self.url + path, headers=self.headers(key, **kw.pop("headers", {})), timeout=60, **kw)

    def delete(self, path, key=None, **kw):
        return requests.delete(self.url + path, headers=self.headers(key, **kw.pop("headers", {})), timeout=30, **kw)

    def tenant_key(self, tenant):
        out = subprocess.run([str(BIN / "quantd"), "keys", "create", "--tenant", tenant, "--data-dir", str(self.data_dir)],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def wait_job(self, job_id, key=None, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            job = self.get(f"/v1/jobs/{job_id}", key).json()
            if job["status"] in ("succeeded", "failed", "cancelled"):
                return job
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} did not finish: {job}")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
