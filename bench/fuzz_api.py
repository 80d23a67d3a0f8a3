"""A long fuzz of ``matdiff serve``'s JSON API from its own OpenAPI description (schemathesis).

    python bench/fuzz_api.py                          # 200 examples per operation, at most 20 minutes
    python bench/fuzz_api.py --max-examples 1000 --max-time 3600
    python bench/fuzz_api.py --url http://127.0.0.1:8000

It starts its own server (real engine workers, default settings) on a free loopback
port unless ``--url`` names one, and runs every phase schemathesis has for a single
description (explicit examples, coverage of each schema's boundaries, random valid
and invalid requests) with the checks that matter here: no 5xx ever, and every
status, content type and body one the description declares. The short run of the
same in the test suite is tests/test_server_fuzz.py. Exit status: schemathesis's own
(0 when nothing failed).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from load import start_server

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server; default: start one")
    parser.add_argument("--max-examples", type=int, default=200, help="per operation and phase")
    parser.add_argument("--max-time", type=int, default=1200, help="seconds for the whole run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checks", default=CHECKS, help="schemathesis checks ('all' adds stricter ones)")
    arguments = parser.parse_args()

    process, url = (None, arguments.url) if arguments.url else start_server()
    try:
        command = [sys.executable, "-m", "schemathesis.cli", "run", url + "/openapi.json",
                   "--checks", arguments.checks, "--max-examples", str(arguments.max_examples),
                   "--max-time", str(arguments.max_time), "--seed", str(arguments.seed),
                   "--phases", "examples,coverage,fuzzing", "--suppress-health-check", "all",
                   "--request-timeout", "30", "--workers", "1"]
        print("$", " ".join(command[2:]), flush=True)
        return subprocess.run(command, timeout=arguments.max_time + 300).returncode
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
