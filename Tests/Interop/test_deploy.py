"""The container setup, tested without a Docker engine: the release build script the Dockerfile runs
is run here, the binaries it makes are started as the image would start them, and the Dockerfile
and compose file are checked for the shape Deploy/README.md promises."""
import json
import os
import pathlib
import re
import sqlite3
import struct
import subprocess

import pytest
import requests
import yaml

from conftest import BIN

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "Deploy"


def dockerfile_instructions():
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip())
            for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def quantd_env_options():
    """Every QUANTD_* variable that `quantd --help` documents."""
    help_text = subprocess.run([str(BIN / "quantd"), "serve", "--help"], capture_output=True, text=True, check=True).stdout
    return set(re.findall(r"QUANTD_[A-Z_]+", help_text))


def test_dockerfile_shape():
    steps = dockerfile_instructions()
    froms = [args for op, args in steps if op == "FROM"]
    assert len(froms) == 2, froms
    # The build stage: the official Swift image at this toolchain's minor version.
    version = re.search(r"Swift version (\d+\.\d+)", subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout
                        + subprocess.run(["swift", "--version"], capture_output=True, text=True).stderr).group(1)
    assert re.match(rf"swift:{re.escape(version)}-\w+ AS build", froms[0]), froms[0]
    assert re.match(r"(debian|ubuntu):[\w.-]*slim|(debian|ubuntu):[\w.-]+", froms[1]), froms[1]
    runs = [args for op, args in steps if op == "RUN"]
    assert any("Deploy/build-release.sh" in r for r in runs), "the build stage must run the shared build script"
    installs = [r for r in runs if "apt-get install" in r]
    assert len(installs) == 1
    packages = set(re.findall(r"\b(lib[\w.+-]+|ca-certificates)\b", installs[0]))
    assert packages == {"libcurl4", "libsqlite3-0", "libopenblas0-pthread", "libpq5", "ca-certificates"}, packages
    users = [args for op, args in steps if op == "USER"]
    assert users and users[-1] not in ("root", "0"), users
    assert ("EXPOSE", "8080") in steps
    assert any(op == "VOLUME" and "/data" in args for op, args in steps)
    health = [args for op, args in steps if op == "HEALTHCHECK"]
    assert health and "quantctl" in health[0] and "health" in health[0], health
    assert any(op == "ENTRYPOINT" and "quantd" in args for op, args in steps)
    # Every path the build copies exists in the repository.
    for op, args in steps:
        if op == "COPY" and "--from" not in args:
            for source in args.split()[:-1]:
                assert list(ROOT.glob(source)), f"COPY {source}: nothing in the repository matches"


def test_compose_shape():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    assert set(compose["services"]) == {"quantd", "prometheus"}
    assert set(compose["volumes"]) == {"quantd-data", "prometheus-data"}
    quantd = compose["services"]["quantd"]
    assert (DEPLOY / quantd["build"]["context"] / quantd["build"]["dockerfile"]).is_file()
    assert "quantd-data:/data" in quantd["volumes"]
    # The environment covers every option quantd reads from the environment.
    assert quantd_env_options() <= set(quantd["environment"]), quantd_env_options() - set(quantd["environment"])
    assert quantd["environment"]["QUANTD_DATA_DIR"] == "/data"
    assert quantd["healthcheck"]["test"][1:3] == ["quantctl", "health"]
    assert quantd["restart"] in ("always", "unless-stopped", "on-failure")
    limits = quantd["deploy"]["resources"]["limits"]
    assert "cpus" in limits and "memory" in limits
    prometheus = compose["services"]["prometheus"]
    assert prometheus["deploy"]["resources"]["limits"]
    # Every file mounted from the repository exists, and Prometheus scrapes quantd's /metrics.
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{volume}: {source} is missing"
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    job = config["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics" and job["static_configs"][0]["targets"] == ["quantd:8080"]
    readme = (DEPLOY / "README.md").read_text()
    for word in ["quantd-data", "prometheus-data", "quantd backup", "keys create", "keys revoke", "upgrade", "/metrics"]:
        assert word.lower() in readme.lower(), word



def test_scale_compose_shape():
    """Three replicas share one database URL, one data volume and one admin key, and each has its
    own id; nginx balances over exactly those replicas and Prometheus scrapes each of them."""
    compose = yaml.safe_load((DEPLOY / "docker-compose.scale.yml").read_text())
    replicas = {name: service for name, service in compose["services"].items() if name.startswith("quantd-")}
    assert set(compose["services"]) == {"postgres", "nginx", "prometheus", *replicas} and len(replicas) == 3
    ids = set()
    for name, service in replicas.items():
        environment = service["environment"]
        assert quantd_env_options() <= set(environment), quantd_env_options() - set(environment)
        assert environment["QUANTD_DATABASE"].startswith("postgres://") and "@postgres:5432/" in environment["QUANTD_DATABASE"]
        assert environment["QUANTD_REPLICA_ID"] == name
        assert environment["QUANTD_API_KEY"].startswith("${QUANTD_API_KEY:?")
        assert service["volumes"] == ["shared-data:/data"] and environment["QUANTD_DATA_DIR"] == "/data"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert service["healthcheck"]["test"][1:3] == ["quantctl", "health"]
        assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        ids.add(environment["QUANTD_REPLICA_ID"])
    assert len(ids) == 3 and len({s["environment"]["QUANTD_DATABASE"] for s in replicas.values()}) == 1
    postgres = compose["services"]["postgres"]
    assert postgres["environment"]["POSTGRES_DB"] == "quantd" and postgres["healthcheck"]["test"][1] == "pg_isready"
    nginx_conf = (DEPLOY / "nginx.conf").read_text()
    assert set(re.findall(r"server (quantd-\d):8080", nginx_conf)) == set(replicas)
    assert "proxy_request_buffering off" in nginx_conf and "client_max_body_size 0" in nginx_conf
    assert set(compose["services"]["nginx"]["depends_on"]) == set(replicas)
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{volume}: {source} is missing"
    scrape = yaml.safe_load((DEPLOY / "prometheus-scale.yml").read_text())["scrape_configs"][0]
    assert scrape["static_configs"][0]["targets"] == [f"{name}:8080" for name in sorted(replicas)]
    assert "docker-compose.scale.yml" in (DEPLOY / "README.md").read_text()


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """Runs Deploy/build-release.sh as the Dockerfile does (release, static Swift runtime)."""
    prefix = tmp_path_factory.mktemp("release")
    result = subprocess.run([str(DEPLOY / "build-release.sh"), str(prefix)], capture_output=True, text=True, timeout=3000)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return prefix / "bin"


def test_release_build_runs_like_the_image(release, tmp_path):
    for binary in ("quantd", "quantctl"):
        # The libraries the binary itself names (their own dependencies come with their packages).
        dynamic = subprocess.run(["readelf", "-d", str(release / binary)], capture_output=True, text=True, check=True).stdout
        names = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic))
        assert "libsqlite3.so.0" in names or binary == "quantctl", names
        # Only what the runtime image has: glibc, libstdc++/libgcc (in the slim image), libcurl4, libsqlite3-0,
        # libopenblas0-pthread.
        allowed = {"libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2", "libstdc++.so.6", "libgcc_s.so.1", "libcurl.so.4", "libsqlite3.so.0",
                   "libopenblas.so.0", "libpq.so.5",
                   "libdl.so.2", "libpthread.so.0", "librt.so.1", "libutil.so.1"}
        assert names <= allowed, f"{binary} needs {names - allowed}, which the runtime image does not install"
    # Started as the image starts it: environment only, data in a volume-like directory.
    data = tmp_path / "data"
    env = {**os.environ, "QUANTD_HOST": "127.0.0.1", "QUANTD_PORT": "0", "QUANTD_DATA_DIR": str(data), "QUANTD_WORKERS": "1"}
    proc = subprocess.Popen([str(release / "quantd")], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        url = proc.stdout.readline().strip().split(" ")[-1]
        health = subprocess.run([str(release / "quantctl"), "health", "--server", url], capture_output=True, text=True, timeout=30)
        assert health.returncode == 0, health.stderr
        assert requests.get(url + "/metrics", timeout=10).status_code == 200
        assert (data / "admin.key").stat().st_mode & 0o777 == 0o600
        key = (data / "admin.key").read_text().strip()
        header = json.dumps({"w": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 64]}}).encode()
        model = struct.pack("<Q", len(header)) + header + bytes(64)
        upload = requests.post(url + "/v1/models?name=m", data=model, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        assert upload.status_code == 201, upload.text
        # A backup while it runs, which a fresh quantd can start from.
        backup = tmp_path / "backup"
        out = subprocess.run([str(release / "quantd"), "backup", "--data-dir", str(data), "--to", str(backup)],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        with sqlite3.connect(backup / "quant.db") as db:
            assert db.execute("SELECT name FROM models").fetchall() == [("m",)]
        assert len([p for p in (backup / "blobs").rglob("*") if p.is_file()]) == 1
    finally:
        proc.terminate()
        proc.wait(30)
    down = subprocess.run([str(release / "quantctl"), "health", "--server", url], capture_output=True, text=True, timeout=30)
    assert down.returncode == 3
