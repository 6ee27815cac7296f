#!/usr/bin/env python3
"""The OpenAPI document a real node serves at /v1/openapi.json is a valid OpenAPI 3.1 document
(openapi-spec-validator), and schemathesis, driven by it against that node, finds no server
error and no response that breaks the document (status codes, content types, schemas). Both are
installed from PyPI when missing. Bounded: 20 examples per operation, 5 minutes at most."""

import json
import os
import shutil
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plumetest import Cluster, Runner, http_get, wait_until  # noqa: E402


def ensure_tools():
    missing = []
    for module, package in [("openapi_spec_validator", "openapi-spec-validator"), ("schemathesis", "schemathesis")]:
        try:
            __import__(module)
        except ImportError:
            missing.append(package)
    if missing:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing], check=True)


def test_served_document_is_valid_openapi_3_1(cluster):
    from openapi_spec_validator import validate
    with urllib.request.urlopen(cluster.url("n1", "/v1/openapi.json"), timeout=5) as response:
        assert response.status == 200
        assert response.headers["X-Request-Id"], "no X-Request-Id"
        document = json.loads(response.read())
    assert document["openapi"] == "3.1.0"
    validate(document)  # raises on an invalid document
    assert "/v1/users/me" in document["paths"] and "patch" in document["paths"]["/v1/users/me"]


def test_schemathesis_finds_no_server_error_or_schema_break(cluster):
    seed = os.environ.get("PLUME_SCHEMATHESIS_SEED", "20261202")
    result = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", cluster.url("n1", "/v1/openapi.json"),
         "--max-examples", "20", "--seed", seed,
         "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"],
        capture_output=True, text=True, timeout=300)
    summary = "\n".join(result.stdout.splitlines()[-30:])
    print(f"  schemathesis (seed {seed}, replay with PLUME_SCHEMATHESIS_SEED):\n{summary}")
    assert result.returncode == 0, f"schemathesis failed (exit {result.returncode}): {result.stderr[-2000:]}"


def main():
    ensure_tools()
    runner = Runner()
    cluster = Cluster(1, name="openapi-test")
    try:
        cluster.start_all()
        ready, _ = wait_until(lambda: http_get(cluster.url("n1", "/ready"))[0] == 200, 60)
        if not ready:
            print(cluster.log_excerpt("n1"))
            raise SystemExit("the node never became ready")
        runner.run("test_served_document_is_valid_openapi_3_1", test_served_document_is_valid_openapi_3_1, cluster)
        runner.run("test_schemathesis_finds_no_server_error_or_schema_break",
                   test_schemathesis_finds_no_server_error_or_schema_break, cluster)
    finally:
        cluster.stop_all()
        if runner.failed:
            print(cluster.log_excerpt("n1"))
        shutil.rmtree(cluster.dir, ignore_errors=True)
    sys.exit(runner.finish())


if __name__ == "__main__":
    main()
