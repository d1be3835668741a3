#!/usr/bin/env bash
# Install the code location into a new virtual environment from deploy/requirements.lock (the
# code location's own dependencies, no test or benchmark tools) and package dbt's manifest, so
# that nothing parses or downloads when a pod starts.
#
#   deploy/build.sh VENV      (run from the repository root)
#
# deploy/Dockerfile runs exactly this; `make image-check` runs it on this machine in a fresh
# venv and loads the code location from it, which is how the image's commands are checked
# where no container runtime is available.
set -euo pipefail
venv=$(realpath -m "${1:?usage: deploy/build.sh VENV}")
python=${PYTHON:-python3.11}
uv_version=0.13.8

"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$uv_version"
"$venv/bin/uv" pip sync --quiet --compile-bytecode --python "$venv/bin/python" \
    deploy/requirements.lock
"$venv/bin/uv" pip install --quiet --python "$venv/bin/python" --no-deps -e .
# dbt parses the project for the in-memory database every Dagster dbt step uses (as
# `make manifest` does) and the manifest is written into dbt_analytics/target
# (dagster-dbt calls the `dbt` it finds on PATH: the venv's)
PATH="$venv/bin:$PATH" \
CREDIT_SCORING_HOME=${CREDIT_SCORING_HOME:-/tmp/credit-scoring-build} \
CREDIT_SCORING_DBT_DATABASE=:memory: \
    "$venv/bin/dagster-dbt" project prepare-and-package \
    --file credit_scoring/analytics/dbt_project.py
# and for the profile's `s3` target (a lake on S3-compatible storage), which a deployment's
# dbt steps use: dbt would otherwise parse the whole project again in every new pod
(cd dbt_analytics && CREDIT_SCORING_HOME=${CREDIT_SCORING_HOME:-/tmp/credit-scoring-build} \
    CREDIT_SCORING_DBT_DATABASE=:memory: \
    "$venv/bin/dbt" parse --quiet --target s3 --target-path target/s3 \
    --project-dir . --profiles-dir .)
