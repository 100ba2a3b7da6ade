"""openapi.yaml and the API's types (Sources/QuantAPI, shared by quantd and the client) agree.

interop-tool wire-examples prints every type with every field set, each beside the schema it must
match. Each example must validate against its schema with unknown properties forbidden (a field
the type has and openapi does not), and must hold every property the schema names (a field openapi
has and the type does not). Reflection lists optional fields no example sets, so a new field
cannot go unchecked."""
import copy
import json
import re

import jsonschema
import numpy as np
import pytest
from safetensors.numpy import save_file

from conftest import quantctl, quantctl_json, run_tool
from wire_schemas import inline, report_errors, resolve

WIRE = json.loads(run_tool("wire-examples"))

# Parts the types hold as free-form JSON (JSONValue): their inner fields are documented, not typed.
FREE_FORM = re.compile(r"(^JobRequest\.(recipe|training|evaluation)|\.recipe|(Summary|summary)\.(mixed_precision|calibration|training)"
                       r"|training\.request)$")


def missing(schema, instance, where):
    """Properties the schema names that the instance lacks, at every level the instance reaches
    (not inside the free-form parts)."""
    found = []
    for branch in schema.get("oneOf", []) + schema.get("anyOf", []):
        if jsonschema.Draft202012Validator(branch).is_valid(instance):
            found += missing(branch, instance, where)
    if isinstance(instance, dict) and "properties" in schema:
        for name, sub in schema["properties"].items():
            if name not in instance:
                found.append(f"{where}.{name}")
            elif not FREE_FORM.search(f"{where}.{name}"):
                found += missing(sub, instance[name], f"{where}.{name}")
    if isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for item in instance:
            found += missing(schema["items"], item, f"{where}[]")
    return found


def test_every_optional_field_has_an_example():
    assert WIRE["unset"] == []


def test_every_documented_response_body_has_a_type():
    named = {example["schema"] for example in WIRE["examples"]}
    for name in ["Problem", "Model", "Dataset", "Job", "TensorReport", "JobSummary", "ModelEvaluation"]:
        assert f"#/components/schemas/{name}" in named


@pytest.mark.parametrize("example", WIRE["examples"], ids=lambda e: f"{e['type']}")
def test_type_matches_its_schema(example):
    schema = inline(copy.deepcopy(resolve(example["schema"])))
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in jsonschema.Draft202012Validator(schema).iter_errors(example["example"])]
    assert errors == [], f"{example['type']} does not match {example['schema']}"
    assert missing(schema, example["example"], example["type"]) == []


# What quantd stores and serves as a job's report is written by QuantCore (TensorReport.json,
# Report.json), not through the QuantAPI types: each preset's report must match the same closed
# schemas the types do, so the writer and the types cannot drift apart.
PRESETS = sorted(json.loads(quantctl("presets", "--json").stdout))


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("reports") / "m.safetensors"
    rng = np.random.default_rng(3)
    save_file({"layers.0.weight": rng.standard_normal((64, 256)).astype(np.float32),
               "layers.0.bias": rng.standard_normal(64).astype(np.float32), "norm.weight": np.ones(256, np.float32)}, str(path))
    return path


@pytest.mark.parametrize("preset", PRESETS)
def test_reports_written_by_the_pipeline_match_the_schemas(preset, small_model, tmp_path):
    report = quantctl_json("quantize", small_model, "-o", tmp_path / "out", "--preset", preset)
    assert len(report["tensors"]) == 3
    assert any(t["method"] != "copy" for t in report["tensors"]), preset
    assert report_errors(report) == [], preset
