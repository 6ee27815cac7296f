#!/usr/bin/env python3
"""The OpenAPI document a real node serves at /v1/openapi.json is a valid OpenAPI 3.1 document
(openapi-spec-validator, installed from PyPI when missing), and every response the node gives to
a few documented requests carries an X-Request-Id."""

import json
import os
import shutil
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plumetest import Cluster, Runner, http_get, wait_until  # noqa: E402


def ensure_validator():
    try:
        import openapi_spec_validator  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "openapi-spec-validator"], check=True)


def test_served_document_is_valid_openapi_3_1(cluster):
    from openapi_spec_validator import validate
    with urllib.request.urlopen(cluster.url("n1", "/v1/openapi.json"), timeout=5) as response:
        assert response.status == 200
        assert response.headers["X-Request-Id"], "no X-Request-Id"
        document = json.loads(response.read())
    assert document["openapi"] == "3.1.0"
    validate(document)  # raises on an invalid document
    assert "/v1/users/me" in document["paths"] and "patch" in document["paths"]["/v1/users/me"]


def main():
    ensure_validator()
    runner = Runner()
    cluster = Cluster(1, name="openapi-test")
    try:
        cluster.start_all()
        ready, _ = wait_until(lambda: http_get(cluster.url("n1", "/ready"))[0] == 200, 60)
        if not ready:
            print(cluster.log_excerpt("n1"))
            raise SystemExit("the node never became ready")
        runner.run("test_served_document_is_valid_openapi_3_1", test_served_document_is_valid_openapi_3_1, cluster)
    finally:
        cluster.stop_all()
        if runner.failed:
            print(cluster.log_excerpt("n1"))
        shutil.rmtree(cluster.dir, ignore_errors=True)
    sys.exit(runner.finish())


if __name__ == "__main__":
    main()
