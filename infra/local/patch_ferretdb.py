"""Make FerretDB 1.24's SQLite backend use its own `_id` index (see install.sh). Idempotent; fails loudly if
the source does not look as expected, so a version bump cannot silently build an unpatched binary."""

import sys
from pathlib import Path

source = Path(sys.argv[1]) / "internal" / "backends" / "sqlite" / "metadata" / "metadata.go"
text = source.read_text()
before = """IDColumn = DefaultColumn + "->'$._id'\""""
after = 'IDColumn = DefaultColumn + `->"_id"`'
if after in text:
    sys.exit(0)
if before not in text:
    sys.exit(f"patch_ferretdb: {source} has no line {before!r}; review the patch for this FerretDB version")
source.write_text(text.replace(before, after))
print(f"[infra] patched {source.name}: _id lookups use the _id index", file=sys.stderr)
