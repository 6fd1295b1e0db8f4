#!/usr/bin/env python3
"""Checks that no source file includes a header from a floor it may not use.

The floors and what each may use are the `floor_uses` table of the top-level meson.build
(docs/ARCHITECTURE.md §15), read from there so that the build and this check cannot disagree.
main/ may use every floor. A file that includes from a floor above its own (or beside it,
where the table does not allow it) is printed with its line, and the check fails.
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parents[2])
meson = (root / "meson.build").read_text()
table = re.search(r"floor_uses = \{(.*?)\n\}", meson, re.S)
if table is None:
    sys.exit("check_layers: no floor_uses table in meson.build")
uses = {}
for name, below in re.findall(r"'(\w+)'\s*:\s*\[([^\]]*)\]", table.group(1)):
    uses[name] = set(re.findall(r"'(\w+)'", below))
uses["main"] = set(uses) | {"main"}

include = re.compile(r'^\s*#\s*include\s+"(\w+)/[^"]+"', re.M)
faults = []
checked = 0
for floor in sorted(uses):
    for path in sorted((root / floor).glob("*")):
        if path.suffix not in (".h", ".cc"):
            continue
        checked += 1
        text = path.read_text()
        for m in include.finditer(text):
            target = m.group(1)
            if target != floor and target in uses and target not in uses[floor]:
                line = text.count("\n", 0, m.start()) + 1
                faults.append(f"{path.relative_to(root)}:{line}: {floor}/ may not include "
                              f"{target}/ (allowed: {', '.join(sorted(uses[floor])) or 'none'})")
if checked == 0:
    sys.exit("check_layers: found no sources under " + str(root))
for f in faults:
    print(f)
print(f"check_layers: {checked} files, {len(faults)} includes against the floors")
sys.exit(1 if faults else 0)
