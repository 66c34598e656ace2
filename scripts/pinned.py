"""Exit 0 when every `name==version` line of a pip requirements file is installed at that
version; otherwise name the first package that is missing or at another version and exit 1."""

import importlib.metadata
import re
import sys

PIN = re.compile(r"^\s*([A-Za-z0-9._-]+)(?:\[[^\]]*\])?\s*==\s*(\S+)")

for line in open(sys.argv[1], encoding="utf-8"):
    pin = PIN.match(line)
    if not pin:
        continue
    name, wanted = pin.groups()
    try:
        found = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        sys.exit(f"{name} is not installed (wanted {wanted})")
    if found != wanted:
        sys.exit(f"{name} is {found}, wanted {wanted}")
