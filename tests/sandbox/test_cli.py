"""`python -m sandbox` starts, prints its one line, and serves."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests


def test_command_line_starts_and_serves():
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            "0",
            "--sites",
            "gamma",
            "--log-level",
            "ERROR",
            "--oauth-client",
            "tandem:secret:http://127.0.0.1:8000/cb,http://127.0.0.1:8000/cb2",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("sandbox: listening on http://127.0.0.1:")
        assert line.endswith("(sites: gamma)")
        url = line.split(" ")[3]
        site = requests.get(f"{url}/sandbox/sites/gamma", timeout=5).json()
        assert site["projects"][0]["key"] == "GAM"
        assert site["baseUrl"] == f"{url}/jira/gamma"
        (client,) = requests.get(f"{url}/sandbox/oauth/clients", timeout=5).json()
        assert client["client_id"] == "tandem" and "client_secret" not in client
        assert client["redirect_uris"] == ["http://127.0.0.1:8000/cb", "http://127.0.0.1:8000/cb2"]
    finally:
        process.terminate()
        process.wait(timeout=5)


ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - the point is that the sandbox refuses it


@pytest.mark.parametrize(
    "args",
    [["--host", ALL_INTERFACES], ["--sites", "A B"], ["--oauth-client", "id-without-secret"]],
)
def test_command_line_refuses_bad_settings(args):
    done = subprocess.run(
        [sys.executable, "-m", "sandbox", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("sandbox: ")
