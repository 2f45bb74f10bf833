"""Schemathesis fuzzes the running API from its own OpenAPI document: no request it makes may
crash the server (5xx), and every answer must be one the document promises, in the shape it
promises. Short (a few examples per operation, fixed seed) so CI runs it in seconds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from api_client import Api, create_token
from harness import running

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def test_schemathesis_finds_nothing(tmp_path, db_url):  # noqa: ANN001
    # Webhooks the fuzzer subscribes point nowhere; one attempt each is enough.
    env = {"CALLYARD_OUTBOX__MAX_ATTEMPTS": "1", "CALLYARD_WEBHOOKS__TIMEOUT_SECONDS": "0.5"}
    with running(tmp_path, db_url, env=env, agents=("anna",)) as server:
        token = create_token(server, "admin")
        # Some data for the read endpoints to find.
        Api(server.url, token).ok(
            "POST",
            "/interactions",
            {"source": "sms", "thread": "t", "contact": {"kind": "phone", "value": "+1555"}, "body": "hi"},
            status=201,
        )
        st = Path(sys.executable).parent / "st"
        result = subprocess.run(
            [
                str(st),
                "run",
                f"{server.url}/api/v1/openapi.json",
                "--url",
                f"{server.url}/api/v1",
                "--header",
                f"Authorization: Bearer {token}",
                "--checks",
                CHECKS,
                "--phases",
                "examples,fuzzing,stateful",
                "--max-examples",
                "15",
                "--seed",
                "7",
                "--no-shrink",
                "--workers",
                "2",
                "--request-timeout",
                "10",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )
        report = result.stdout[-6000:] + result.stderr[-2000:]
        assert result.returncode == 0, report
        assert "26 passed" in result.stdout or "passed" in result.stdout, report
        crashes = [line for line in server.output if "API request" in line and "failed" in line]
        assert not crashes, crashes
