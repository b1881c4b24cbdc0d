#!/bin/bash
# Seeds fuzz/corpus/package_reader from the example packages: each example zipped (mode byte 0),
# each of their YAML files alone (mode 1), and each file of hello_web as a replacement (mode 2).
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
examples="$here/../examples/packages"
out="$here/corpus/package_reader"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
n=0
for pkg in "$examples"/*/; do
  name="$(basename "$pkg")"
  (cd "$examples" && python3 - "$name" "$tmp/$name.zip" <<'PY'
import os, sys, zipfile
name, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
    for root, _, files in os.walk(name):
        for f in sorted(files):
            z.write(os.path.join(root, f))
PY
  )
  { printf '\x00'; cat "$tmp/$name.zip"; } > "$out/zip_$name"
  while IFS= read -r -d '' f; do
    n=$((n + 1))
    { printf '\x01'; cat "$f"; } > "$out/yaml_$n"
  done < <(find "$pkg" -name '*.yaml' -print0)
done
# Mode 2: the order of files is the BASE table of fuzz_targets/package_reader.rs.
i=0
for rel in version.yaml service.yaml full_description.md images/icon.png parameters/flavor.yaml \
  parameters/az.yaml parameters/subnet.yaml parameters/data_type.yaml parameters/data_size.yaml \
  parameters/page_title.yaml parameters/log_retention_days.yaml plans/free/plan.yaml \
  plans/free/display.yaml plans/free/deployment/settings.yaml plans/free/deployment/deploy.tf; do
  { printf '\x02'; printf "\\x$(printf %02x $i)"; cat "$examples/hello_web/$rel"; } > "$out/file_$i"
  i=$((i + 1))
done
echo "seeded $(ls "$out" | wc -l) inputs in $out"
