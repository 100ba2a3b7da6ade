"""Several quantd replicas on one real PostgreSQL server and one shared data directory: each job
runs exactly once, a replica killed mid-job loses nothing, a replica cut off from the network past its
lease (in its own network namespace) has its late result refused, and PostgreSQL restarting mid-run
loses nothing. The server is Debian's postgresql, started by scripts/postgres.sh on a free port."""
import concurrent.futures
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time
import uuid

import numpy as np
import pytest
import requests

from safetensors.numpy import save_file

from service import Quantd
from test_api import model_bytes, upload

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "postgres.sh"
ADMIN_KEY = "qs_scale_out_admin_key_for_tests"
RECIPE = {"preset": "int8"}


@pytest.fixture(scope="module")
def postgres():
    # Directly under /tmp: the server runs as an unprivileged user, who cannot enter pytest's
    # private temporary folders.
    directory = pathlib.Path("/tmp") / f"qs-pg-{uuid.uuid4().hex[:8]}"
    url = subprocess.run(["bash", str(SCRIPT), "start", str(directory), str(os.getpid())],
                         capture_output=True, text=True, check=True).stdout.strip()
    yield directory, url.rsplit("/", 1)[0]
    subprocess.run(["bash", str(SCRIPT), "stop", str(directory)], check=False)


@pytest.fixture
def database(postgres):
    _, base = postgres
    name = "qs_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", base + "/postgres", "-q", "-c", f"CREATE DATABASE {name}"], check=True)
    return base + "/" + name


def replicas(database, data_dir, count, env=None):
    started = []
    for index in range(count):
        started.append(Quantd(data_dir=data_dir, admin_key=ADMIN_KEY,
                              extra_args=["--database", database, "--replica-id", f"r{index}", "--lease-seconds", "3"],
                              env={"QUANTD_API_KEY": ADMIN_KEY, **(env or {})}))
    return started


def submit(replica, model_id):
    r = replica.post("/v1/jobs", json={"model_id": model_id, "recipe": RECIPE})
    assert r.status_code in (201, 202), r.text
    return r.json()["id"]


def events(database, job_id):
    """The job's state changes, read from PostgreSQL: (to_state, reason) in order."""
    out = subprocess.run(["psql", database, "-At", "-F", "\t", "-c",
                          f"SELECT to_state, coalesce(reason, '') FROM job_events WHERE job_id = '{job_id}' ORDER BY id"],
                         capture_output=True, text=True, check=True).stdout
    return [tuple(line.split("\t", 1)) for line in out.splitlines()]


def test_two_hundred_jobs_through_three_replicas_each_run_once(database, tmp_path):
    group = replicas(database, tmp_path / "data", 3)
    try:
        model = upload(group[0], model_bytes(tmp_path)).json()["id"]
        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            ids = list(pool.map(lambda i: submit(group[i % 3], model), range(200)))
        assert len(set(ids)) == 200
        finished = [group[i % 3].wait_job(job_id, timeout=240) for i, job_id in enumerate(ids)]
        assert all(job["status"] == "succeeded" for job in finished), [j for j in finished if j["status"] != "succeeded"][:3]
        claimed_by = set()
        for job_id in ids:
            log = events(database, job_id)
            assert [state for state, _ in log] == ["queued", "running", "succeeded"], log
            claimed_by.add(log[1][1].split("claimed by ")[1].split("#")[0])
        # Every replica's workers took part, and each job left exactly one artifact.
        assert claimed_by == {"r0", "r1", "r2"}, claimed_by
        artifacts = list((tmp_path / "data" / "artifacts").rglob("attempt-*"))
        assert len(artifacts) == 200 and all(a.name.startswith("attempt-1.") for a in artifacts)
        # Any replica serves any job's artifact.
        assert group[2].get(f"/v1/jobs/{ids[0]}/artifact").status_code == 200
        metrics = requests.get(group[1].url + "/metrics").text
        assert 'quantd_replica_info{replica="r1",database="postgresql"} 1' in metrics
    finally:
        for replica in group:
            replica.stop()


def test_a_replica_killed_mid_job_and_the_job_finishes_once_elsewhere(database, tmp_path):
    data = tmp_path / "data"
    slow = replicas(database, data, 1, env={"QUANTD_TEST_CHUNK_DELAY_MS": "400"})[0]
    others = []
    try:
        model = upload(slow, model_bytes(tmp_path, rows=256, cols=256)).json()["id"]
        job_id = submit(slow, model)
        end = time.time() + 30
        while slow.get(f"/v1/jobs/{job_id}").json()["status"] != "running":
            assert time.time() < end
            time.sleep(0.05)
        others = [Quantd(data_dir=data, admin_key=ADMIN_KEY, extra_args=["--database", database, "--replica-id", "survivor", "--lease-seconds", "3"],
                         env={"QUANTD_API_KEY": ADMIN_KEY})]
        slow.stop(signal.SIGKILL)
        job = others[0].wait_job(job_id, timeout=60)
        assert job["status"] == "succeeded" and job["attempt"] == 2
        log = events(database, job_id)
        assert [state for state, _ in log] == ["queued", "running", "queued", "running", "succeeded"], log
        assert "claimed by survivor" in log[3][1]
        assert others[0].get(f"/v1/jobs/{job_id}/artifact").status_code == 200
    finally:
        slow.stop()
        for replica in others:
            replica.stop()


def test_postgres_restarted_mid_run_loses_nothing(postgres, database, tmp_path):
    directory, _ = postgres
    group = replicas(database, tmp_path / "data", 2, env={"QUANTD_TEST_CHUNK_DELAY_MS": "20"})
    try:
        model = upload(group[0], model_bytes(tmp_path, rows=128, cols=128)).json()["id"]
        ids = [submit(group[i % 2], model) for i in range(30)]
        subprocess.run(["bash", str(SCRIPT), "halt", str(directory)], check=True)
        ready = requests.get(group[0].url + "/readyz")
        assert ready.status_code == 503 and ready.json()["database"] is False
        refused = group[1].post("/v1/jobs", json={"model_id": model, "recipe": RECIPE})
        assert refused.status_code == 503 and refused.headers["Content-Type"].startswith("application/problem+json")
        time.sleep(2)
        subprocess.run(["bash", str(SCRIPT), "resume", str(directory)], check=True)
        end = time.time() + 30
        while requests.get(group[0].url + "/readyz").status_code != 200:
            assert time.time() < end
            time.sleep(0.2)
        finished = [group[i % 2].wait_job(job_id, timeout=180) for i, job_id in enumerate(ids)]
        assert [job["status"] for job in finished] == ["succeeded"] * 30
        for job_id in ids:
            assert [state for state, _ in events(database, job_id)].count("succeeded") == 1
    finally:
        for replica in group:
            replica.stop()


class Namespace:
    """A network namespace joined to this one by a veth pair: quantd inside reaches PostgreSQL at
    `host_address`, and `cut()` takes the link down (packets vanish; no connection is reset)."""

    def __init__(self):
        tag = uuid.uuid4().hex[:6]
        self.name, self.host_link, self.inner_link = f"qs{tag}", f"qs{tag}h", f"qs{tag}n"
        octet = int(tag[:2], 16)
        self.host_address, self.inner_address = f"10.231.{octet}.1", f"10.231.{octet}.2"
        self.created = False

    def ip(self, *args, inside=False):
        prefix = ["ip", "netns", "exec", self.name] if inside else []
        subprocess.run([*prefix, "ip", *args], check=True)

    def create(self):
        self.ip("netns", "add", self.name)
        self.created = True
        self.ip("link", "add", self.host_link, "type", "veth", "peer", "name", self.inner_link)
        self.ip("link", "set", self.inner_link, "netns", self.name)
        self.ip("addr", "add", f"{self.host_address}/30", "dev", self.host_link)
        self.ip("addr", "add", f"{self.inner_address}/30", "dev", self.inner_link, inside=True)
        self.ip("link", "set", "lo", "up", inside=True)
        self.ip("link", "set", self.inner_link, "up", inside=True)
        self.restore()

    def cut(self):
        self.ip("link", "set", self.host_link, "down")

    def restore(self):
        self.ip("link", "set", self.host_link, "up")

    def delete(self):
        if self.created:
            subprocess.run(["ip", "netns", "del", self.name], check=False)


@pytest.fixture
def namespace():
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("network namespaces need root and iproute2")
    space = Namespace()
    try:
        space.create()
    except subprocess.CalledProcessError as error:
        space.delete()
        pytest.skip(f"cannot create a network namespace here: {error}")
    yield space
    space.delete()


def many_tensor_model(path, count=60):
    rng = np.random.default_rng(1)
    save_file({f"layer{i}.weight": rng.standard_normal((64, 64)).astype(np.float32) for i in range(count)}, str(path))
    return path


def test_a_replica_cut_off_past_its_lease_has_its_late_result_refused(namespace, tmp_path):
    """The replica in the namespace runs a slow job; the link goes down for longer than its lease;
    a replica on the host takes the job over and finishes it. When the link comes back, the cut-off
    replica learns that its lease is gone and its result is not recorded."""
    directory = pathlib.Path("/tmp") / f"qs-pg-{uuid.uuid4().hex[:8]}"
    started = subprocess.run(["bash", str(SCRIPT), "start", str(directory), str(os.getpid())], capture_output=True, text=True, check=True,
                             env={**os.environ, "QS_PG_LISTEN": f"127.0.0.1,{namespace.host_address}"})
    base = started.stdout.strip().rsplit("/", 1)[0]
    port = base.rsplit(":", 1)[1]
    name = "qs_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", base + "/postgres", "-q", "-c", f"CREATE DATABASE {name}"], check=True)
    data, log = tmp_path / "data", tmp_path / "cut-off.log"
    cut_off = Quantd(data_dir=data, admin_key=ADMIN_KEY, wrapper=["ip", "netns", "exec", namespace.name], log=log,
                     extra_args=["--host", namespace.inner_address, "--database", f"postgres://quantd@{namespace.host_address}:{port}/{name}",
                                 "--replica-id", "cut-off", "--lease-seconds", "3"],
                     env={"QUANTD_API_KEY": ADMIN_KEY, "QUANTD_TEST_CHUNK_DELAY_MS": "1000"})
    survivor = None
    try:
        model = upload(cut_off, many_tensor_model(tmp_path / "many.safetensors")).json()["id"]
        job_id = submit(cut_off, model)
        end = time.time() + 30
        while cut_off.get(f"/v1/jobs/{job_id}").json()["status"] != "running":
            assert time.time() < end
            time.sleep(0.05)
        namespace.cut()
        survivor = Quantd(data_dir=data, admin_key=ADMIN_KEY, env={"QUANTD_API_KEY": ADMIN_KEY},
                          extra_args=["--database", f"{base}/{name}", "--replica-id", "survivor", "--lease-seconds", "3"])
        job = survivor.wait_job(job_id, timeout=60)
        assert job["status"] == "succeeded" and job["attempt"] == 2
        namespace.restore()
        end = time.time() + 60
        while "lease_lost" not in log.read_text():
            assert time.time() < end, log.read_text()
            time.sleep(0.2)
        assert cut_off.proc.poll() is None
        log_states = [state for state, _ in events(f"{base}/{name}", job_id)]
        assert log_states == ["queued", "running", "queued", "running", "succeeded"], log_states
        assert "claimed by survivor" in events(f"{base}/{name}", job_id)[3][1]
        artifacts = [a.name for a in (data / "artifacts").rglob("attempt-*")]
        assert len(artifacts) == 1 and artifacts[0].startswith("attempt-2."), artifacts
    finally:
        namespace.restore()
        cut_off.stop()
        if survivor:
            survivor.stop()
        subprocess.run(["bash", str(SCRIPT), "stop", str(directory)], check=False)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_nginx_from_the_scale_compose_file_spreads_requests_over_three_replicas(database, tmp_path):
    """Deploy/nginx.conf as shipped, with the compose service names replaced by local ports: an
    upload streams through it, jobs submitted and polled through it run, and artifacts come back."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not pathlib.Path(nginx).exists():
        pytest.skip("nginx is not installed (Debian package nginx-light; scripts/ensure-deps.sh installs it)")
    group = replicas(database, tmp_path / "data", 3)
    port = free_port()
    config = (ROOT / "Deploy" / "nginx.conf").read_text()
    for index, replica in enumerate(group, start=1):
        config = config.replace(f"server quantd-{index}:8080", "server " + replica.url.removeprefix("http://"))
    config = config.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    config = config.replace("http {", f"http {{\n    client_body_temp_path {tmp_path}/body;\n    proxy_temp_path {tmp_path}/proxy;", 1)
    assert "quantd-" not in config
    (tmp_path / "nginx.conf").write_text(config)
    proxy = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", str(tmp_path / "nginx-error.log"),
                              "-g", f"daemon off; pid {tmp_path}/nginx.pid; user root;"],
                             stdout=subprocess.DEVNULL, stderr=open(tmp_path / "nginx.log", "w"))
    front = requests.Session()
    front.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
    base = f"http://127.0.0.1:{port}"
    try:
        end = time.time() + 20
        while True:
            try:
                if front.get(base + "/healthz").status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert proxy.poll() is None and time.time() < end, (tmp_path / "nginx.log").read_text()
            time.sleep(0.1)
        path = model_bytes(tmp_path, rows=256, cols=512)
        with open(path, "rb") as body:
            uploaded = front.post(base + "/v1/models?name=m", data=body, headers={"Content-Type": "application/octet-stream"})
        assert uploaded.status_code == 201, uploaded.text
        model = uploaded.json()["id"]
        ids = []
        for _ in range(30):
            submitted = front.post(base + "/v1/jobs", json={"model_id": model, "recipe": RECIPE})
            assert submitted.status_code in (201, 202), submitted.text
            ids.append(submitted.json()["id"])
        end = time.time() + 120
        while not all(front.get(f"{base}/v1/jobs/{job_id}").json()["status"] == "succeeded" for job_id in ids):
            assert time.time() < end
            time.sleep(0.2)
        through_nginx = front.get(f"{base}/v1/jobs/{ids[-1]}/artifact")
        assert through_nginx.status_code == 200 and through_nginx.content == group[0].get(f"/v1/jobs/{ids[-1]}/artifact").content
        # least_conn spread the submits: every replica took some.
        for replica in group:
            metrics = requests.get(replica.url + "/metrics").text
            assert 'quantd_http_requests_total{route="/v1/jobs",status="201"}' in metrics or \
                'quantd_http_requests_total{route="/v1/jobs",status="202"}' in metrics, replica.url
    finally:
        proxy.terminate()
        proxy.wait(10)
        for replica in group:
            replica.stop()


def psql(url, sql):
    return subprocess.run(["psql", url, "-At", "-c", sql], capture_output=True, text=True, check=True).stdout.strip()


def test_replicas_migrating_at_once_migrate_once_and_backup_restores(database, tmp_path):
    """Four `quantd migrate` at once (as replicas starting together): the advisory lock lets one
    migrate and the others find the schema done. Then `quantd backup` writes a pg_dump archive that
    pg_restore loads into an empty database with the same rows."""
    from conftest import BIN
    migrations = [subprocess.Popen([str(BIN / "quantd"), "migrate", "--database", database, "--data-dir", str(tmp_path / "data")],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for process in migrations:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, out + err
    assert psql(database, "SELECT COUNT(*), COUNT(DISTINCT id) FROM quantd_migrations") == "1|1"
    group = replicas(database, tmp_path / "data", 1)
    try:
        model = upload(group[0], model_bytes(tmp_path)).json()["id"]
        group[0].wait_job(submit(group[0], model))
    finally:
        group[0].stop()
    backup = tmp_path / "backup"
    done = subprocess.run([str(BIN / "quantd"), "backup", "--database", database, "--data-dir", str(tmp_path / "data"), "--to", str(backup)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (backup / "quant.pgdump").is_file()
    restored = database.rsplit("/", 1)[0] + "/restored_" + uuid.uuid4().hex[:8]
    psql(database.rsplit("/", 1)[0] + "/postgres", f"CREATE DATABASE {restored.rsplit('/', 1)[1]}")
    subprocess.run(["pg_restore", "--no-owner", "--dbname", restored, str(backup / "quant.pgdump")], check=True)
    for table in ["tenants", "api_keys", "models", "jobs", "job_events", "quantd_migrations"]:
        assert psql(restored, f"SELECT COUNT(*) FROM {table}") == psql(database, f"SELECT COUNT(*) FROM {table}"), table
    assert psql(restored, "SELECT state FROM jobs") == "succeeded"
