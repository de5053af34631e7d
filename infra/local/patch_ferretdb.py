"""Lets FerretDB 1.24's PostgreSQL backend answer `{_id: <string or ObjectId>}` from its unique `_id` index.

FerretDB pushes an equality down as  _jsonb->$1 @> $2 ; containment cannot be served by the btree index it builds
on (_jsonb->'_id'), so every lookup by key scanned the whole table (docs/adr/0012). `_id` can never hold an array,
so for it containment and equality agree: the patched query is  _jsonb->'_id' = $1 , which the index answers.
Same results; every other field keeps FerretDB's own query. Usage: patch_ferretdb.py SOURCE_DIR (idempotent).
"""

from __future__ import annotations

import sys
from pathlib import Path

MARK = "binhchon: _id equality by the index"
ANCHOR = """func filterEqual(p *metadata.Placeholder, k any, v any, operator string) (filter string, args []any) {
"""
PATCH = ANCHOR + f"""	// {MARK}: _id never holds an array, so `=` (served by the unique _id index) equals `@>`
	if k == "_id" && operator == "->" {{
		switch v.(type) {{
		case string, types.ObjectID:
			return fmt.Sprintf(`%s->'_id' = %s`, metadata.DefaultColumn, p.Next()),
				[]any{{string(must.NotFail(sjson.MarshalSingleValue(v)))}}
		}}
	}}

"""


def main(source: Path) -> None:
    query = source / "internal" / "backends" / "postgresql" / "query.go"
    text = query.read_text()
    if MARK in text:
        return
    if text.count(ANCHOR) != 1:
        sys.exit(f"{query}: the function to patch is not as expected (FerretDB version changed?)")
    query.write_text(text.replace(ANCHOR, PATCH))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
