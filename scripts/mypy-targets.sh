#!/usr/bin/env bash
# What mypy checks: standards/, every app's services package (strict, pyproject.toml), every
# app's selectors and the MBR format. A new app is covered from its first commit.
cd "$(dirname "$0")/.."
for t in src/vein2vein/standards src/vein2vein/*/services src/vein2vein/*/services.py \
  src/vein2vein/*/selectors.py  \
  src/vein2vein/manufacturing/mbr/__init__.py; do
  [ -e "$t" ] || continue
  case "$t" in */__init__.py) t=$(dirname "$t") ;; esac
  printf '%s ' "$t"
done
