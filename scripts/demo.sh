#!/usr/bin/env bash
# `make demo`: the l96-closure experiment (runs/l96-closure.sh, issue 4 §5) at its small size
# on this machine — two-scale Lorenz-96 truth runs after spin-up, an MLP closure trained on
# them, one-scale forecasts from 100 held-out states with the MLP, with no closure and with a
# cubic polynomial closure, gyre compare against the truth, gyre report — about two minutes
# on 2 cores. It ends by printing the issue's goals with the measured numbers and where the
# report is. Files go to $GYRE_DEMO_DIR (default demo-output/).
set -euo pipefail
build=${1:-build}
export GYRE_RUN_DIR=${GYRE_DEMO_DIR:-demo-output}
exec bash "$(dirname "${BASH_SOURCE[0]}")/../runs/l96-closure.sh" "$build" small
