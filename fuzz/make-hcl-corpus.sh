#!/bin/bash
# Seeds fuzz/corpus/hcl_parse_eval: the VK manifests of fixtures/ and each
# expression of the hcl acceptance table as its own input.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
hcl="$here/../crates/hcl/tests"
out="$here/corpus/hcl_parse_eval"
mkdir -p "$out"
cp "$here"/../fixtures/vk-docs/deployment/*.tf "$here"/../fixtures/vk-seed/*.tf "$out/"
python3 - "$hcl/acceptance.txt" "$out" <<'PY'
import os, sys
src, out = sys.argv[1], sys.argv[2]
n = 0
for line in open(src, encoding="utf-8"):
    line = line.strip()
    if not line or line.startswith("#") or "  =>  " not in line:
        continue
    expr = line.split("  =>  ")[0]
    if expr.startswith("<<"):
        expr = expr.replace("\\n", "\n")
    n += 1
    with open(os.path.join(out, "expr_%03d" % n), "w", encoding="utf-8") as f:
        f.write(expr)
PY
echo "seeded $(ls "$out" | wc -l) inputs in $out"
