#!/usr/bin/env bash
# clang-tidy over the project's own sources (not tests), with the checks in .clang-tidy. Needs a configured
# build/ (compile_commands.json). Slow on 2 cores: run before a release, not in every CI run.
set -euo pipefail
cd "$(dirname "$0")/.."
run-clang-tidy -p build -quiet "$(pwd)/(src|tools)/.*\.cpp$" 2>&1 | grep -E "warning:|error:" | grep -v "x86/" || echo "tidy: clean"
