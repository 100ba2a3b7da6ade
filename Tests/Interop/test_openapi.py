"""openapi.yaml is a valid OpenAPI 3.1 document, and a live quantd conforms to it (schemathesis)."""
import os
import subprocess

from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from conftest import ROOT
from service import Quantd


def test_spec_is_valid():
    spec, _ = read_from_filename(str(ROOT / "openapi.yaml"))
    validate(spec)
    # Every route the server has is documented.
    paths = set(spec["paths"])
    assert paths == {"/healthz", "/readyz", "/metrics", "/v1/models", "/v1/models/{id}", "/v1/models/{id}/tensors", "/v1/jobs",
                     "/v1/jobs/{id}", "/v1/jobs/{id}/report", "/v1/jobs/{id}/artifact", "/v1/jobs/{id}/artifact/config", "/v1/jobs/{id}/cancel",
                     "/v1/datasets", "/v1/datasets/{id}"}


def test_live_server_conforms(tmp):
    """Every check, positive data acceptance included, bounded in time (60 s). Where the server
    validates what a schema cannot express (an upload that is not a model, a recipe that does not
    apply to the model, a cursor naming no job), Tests/Interop/schemathesis.toml lists the answers
    openapi.yaml documents for those operations.

    Python 3.11.7 sometimes raises "AST constructor recursion depth mismatch" inside hypothesis
    (a CPython bug, not a finding about our API); such a run, with no check failure in it, is
    repeated once."""
    server = Quantd()
    try:
        for attempt in range(2):
            result = subprocess.run(
                [str(ROOT / ".venv" / "bin" / "schemathesis"), "--config-file", str(ROOT / "Tests" / "Interop" / "schemathesis.toml"),
                 "run", str(ROOT / "openapi.yaml"), "--url", server.url,
                 "-H", f"Authorization: Bearer {server.admin_key}", "--max-time", os.environ.get("QS_SCHEMATHESIS_SECONDS", "60"),
                 "--checks", "all", "--seed", str(1 + attempt), "--workers", "1"],
                capture_output=True, text=True, timeout=600)
            tool_crash = "recursion depth mismatch" in result.stdout and "Failures:" not in result.stdout
            if result.returncode == 0 or not tool_crash:
                break
        alive = server.proc.poll() is None
    finally:
        server.stop()
    assert alive, "quantd died under schemathesis"
    assert result.returncode == 0, result.stdout[-6000:]
