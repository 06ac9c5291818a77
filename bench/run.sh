#!/usr/bin/env bash
# Run the llm-router benchmark; see bench/README.md.  Arguments go to run.py
# (try --help).  Needs only Python 3.11+ from the system: run.py uses the
# standard library and installs everything else it needs.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
exec "$python" "$here/run.py" "$@"
