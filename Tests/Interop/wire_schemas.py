"""openapi.yaml's schemas, closed (an undocumented property is an error), for the tests that hold
what quantd and quantctl write to them."""
import copy

import jsonschema
import yaml

from conftest import ROOT

SPEC = yaml.safe_load((ROOT / "openapi.yaml").read_text())


def resolve(pointer):
    node = SPEC
    for part in pointer.lstrip("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def inline(schema):
    """The schema with every $ref replaced by its target, and objects with named properties closed."""
    if isinstance(schema, list):
        return [inline(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return inline(resolve(schema["$ref"]))
    out = {key: inline(value) for key, value in schema.items()}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def schema_errors(name, instance):
    """Where `instance` breaks components/schemas/`name`, closed."""
    schema = inline(copy.deepcopy(resolve(f"#/components/schemas/{name}")))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in jsonschema.Draft202012Validator(schema).iter_errors(instance)]


def report_errors(report):
    """Where a quantization report (quantctl quantize --json, GET /v1/jobs/{id}/report) breaks the
    TensorReport and JobSummary schemas."""
    errors = [f"{t.get('name')}: {e}" for t in report["tensors"] for e in schema_errors("TensorReport", t)]
    return errors + [f"summary: {e}" for e in schema_errors("JobSummary", report["summary"])]
