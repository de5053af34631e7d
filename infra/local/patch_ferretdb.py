"""Build-time patches to FerretDB 1.24's PostgreSQL backend, so that binhchon's lists are answered by the database.

1. `_id` equality by the unique `_id` index (docs/adr/0012). FerretDB pushes an equality down as
   _jsonb->$1 @> $2 ; containment cannot be served by the btree index on (_jsonb->'_id'). `_id` can never hold an
   array, so for it containment and equality agree: the patched query is  _jsonb->'_id' = $1 .
2. Keyset pages (docs/adr/0016). FerretDB 1.24 pushes down no range, no sort on a field and no limit with a filter,
   so a page of 20 read every matching row and sorted it in Go. Patched:
   - a range ($gt, $gte, $lt, $lte) with a string operand on a top-level field becomes a WHERE condition that the
     field's index serves; like every pushed-down condition it only narrows what FerretDB then filters itself;
   - a find whose filter is *only* string equalities on top-level fields and a string range on the sort field,
     sorted on that one field, is limited in the database: the (skip + limit) first documents whose field is a
     string, walked in the field's index, plus every document whose field is an array (the only other kind a
     string range can match, found by the same index). FerretDB still filters, sorts, skips and limits that.

3. A single-document insert in one statement (docs/adr/0016, build b6). FerretDB wraps every insert in a
   transaction: BEGIN, INSERT, COMMIT, three round trips to PostgreSQL. A single INSERT of one row is atomic on its
   own, so an insert of one document into a collection that already exists runs as one autocommit statement; a
   unique violation is still FerretDB's duplicate-key error (E11000). The creation of a collection, a batch of
   several documents and capped collections keep FerretDB's transaction.

4. No lifetime tracking in a release build (build b7). ``resource.Track`` registers every iterator, cursor,
   transaction and row set in a pprof profile (a lock, a stack walk) and gives it a finalizer that panics if it is
   never released: a leak detector for FerretDB's own tests, about 8% of its CPU per insert in our bench. A build
   without the ``ferretdb_debug`` or ``race`` tag (ours) skips both; ``Untrack`` likewise.

5. A single-document update in one statement (build b8). FerretDB's update handlers read the documents first, then
   call UpdateAll once per changed document, which wraps its UPDATE in BEGIN/COMMIT: a transaction holding one
   statement, which is atomic on its own. A call with one document runs that UPDATE in autocommit.

6. `_id` among a list by the unique `_id` index (build b9). FerretDB pushes no ``$in`` down, so a lookup of a page's
   twenty ids read the whole collection into Go. ``{_id: {$in: [...]}}`` whose members are all strings or ObjectIds
   becomes  _jsonb->'_id' IN ($1, ...) : `_id` never holds an array, so that is exactly the documents ``$in``
   matches (FerretDB still filters them itself, as for every pushed-down condition). A list with any other member,
   an empty one or one over 1,000 members is left to FerretDB, as before; and (build b10) a list with a string
   holding a NUL, which PostgreSQL's jsonb cannot hold: pushed down, it failed (22P05) where $in matches nothing.

Every edit is anchored on FerretDB 1.24.0's text and fails loudly if the text moved. New Go files are written
whole. Usage: patch_ferretdb.py SOURCE_DIR (idempotent).
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

KEYSET_MARK = "binhchon: keyset pages"
INSERT_MARK = "binhchon: a single document inserted in one statement"
TRACK_MARK = "binhchon: no lifetime tracking in a release build"
UPDATE_MARK = "binhchon: a single document updated in one statement"
IN_MARK = "binhchon: _id among a list by the index"
# the keyset edit's own text (applied before this one): the $in case goes in front of it
IN_ANCHOR = f"""				case "$gt", "$gte", "$lt", "$lte":
					// {KEYSET_MARK}: a string range, served by the field's index (binhchon_keyset.go)
"""

# (file, anchor, replacement): each anchor must occur exactly once in FerretDB 1.24.0's file
EDITS: list[tuple[str, str, str]] = [
    ("internal/backends/postgresql/query.go", ANCHOR, PATCH),
    (
        "internal/backends/postgresql/query.go",
        """				default:
					// $gt and $lt
					// TODO https://github.com/FerretDB/FerretDB/issues/1875
					continue
""",
        f"""				case "$gt", "$gte", "$lt", "$lte":
					// {KEYSET_MARK}: a string range, served by the field's index (binhchon_keyset.go)
					if keyOperator == "->" {{
						if f, a := binhchonRange(p, rootKey, k, v); f != "" {{
							filters = append(filters, f)
							args = append(args, a...)
						}}
					}}

				default:
					continue
""",
    ),
    (
        "internal/backends/postgresql/query.go",
        IN_ANCHOR,
        f"""				case "$in":
					// {IN_MARK}: strings or ObjectIds, served by the unique _id index (binhchon_in.go)
					if rootKey == "_id" && keyOperator == "->" {{
						if f, a := binhchonIDIn(p, v); f != "" {{
							filters = append(filters, f)
							args = append(args, a...)
						}}
					}}

""" + IN_ANCHOR,
    ),
    (
        "internal/backends/collection.go",
        """type QueryParams struct {
	Filter *types.Document
	Sort   *types.Document
	Limit  int64
""",
        f"""type QueryParams struct {{
	Filter *types.Document
	Sort   *types.Document
	Limit  int64

	// {KEYSET_MARK}: set by the find handler when the whole filter is a keyset page; backends may ignore it
	BinhchonKeyset *BinhchonKeyset
""",
    ),
    (
        "internal/handler/msg_find.go",
        """	h.L.DebugContext(ctx, fmt.Sprintf("Converted %+v for %+v to %+v.", params, cInfo, qp))
""",
        f"""	// {KEYSET_MARK}: the backend may limit a keyset page (binhchon_keyset.go); the handler below still
	// filters, sorts, skips and limits everything the backend returns
	if !h.DisablePushdown && !cInfo.Capped() {{
		qp.BinhchonKeyset = binhchonKeyset(params)
	}}

	h.L.DebugContext(ctx, fmt.Sprintf("Converted %+v for %+v to %+v.", params, cInfo, qp))
""",
    ),
    (
        "internal/backends/postgresql/collection.go",
        """	var placeholder metadata.Placeholder

	var where string
	var args []any
""",
        f"""	// {KEYSET_MARK}: one query, limited in the database (binhchon_keyset.go)
	if params.BinhchonKeyset != nil && !meta.Capped() && !params.OnlyRecordIDs {{
		kq, kargs := binhchonKeysetQuery(q, params.BinhchonKeyset)

		rows, err := p.Query(ctx, kq, kargs...)
		if err != nil {{
			return nil, lazyerrors.Error(err)
		}}

		return &backends.QueryResult{{
			Iter: newQueryIterator(ctx, rows, params.OnlyRecordIDs),
		}}, nil
	}}

	var placeholder metadata.Placeholder

	var where string
	var args []any
""",
    ),
    (
        "internal/backends/postgresql/collection.go",
        """	if _, err := c.r.CollectionCreate(ctx, &metadata.CollectionCreateParams{
		DBName: c.dbName,
		Name:   c.name,
	}); err != nil {
		return nil, lazyerrors.Error(err)
	}

	p, err := c.r.DatabaseGetExisting(ctx, c.dbName)
	if err != nil {
		return nil, lazyerrors.Error(err)
	}

	meta, err := c.r.CollectionGet(ctx, c.dbName, c.name)
	if err != nil {
		return nil, lazyerrors.Error(err)
	}

	err = pool.InTransaction(ctx, p, func(tx pgx.Tx) error {
		batchSize := c.r.BatchSize
""",
        f"""	created, err := c.r.CollectionCreate(ctx, &metadata.CollectionCreateParams{{
		DBName: c.dbName,
		Name:   c.name,
	}})
	if err != nil {{
		return nil, lazyerrors.Error(err)
	}}

	p, err := c.r.DatabaseGetExisting(ctx, c.dbName)
	if err != nil {{
		return nil, lazyerrors.Error(err)
	}}

	meta, err := c.r.CollectionGet(ctx, c.dbName, c.name)
	if err != nil {{
		return nil, lazyerrors.Error(err)
	}}

	// {INSERT_MARK}: one statement, no transaction (binhchon_insert.go)
	if !created && p != nil && meta != nil && !meta.Capped() && len(params.Docs) == 1 {{
		return binhchonInsertOne(ctx, p, c.dbName, meta.TableName, params.Docs[0])
	}}

	err = pool.InTransaction(ctx, p, func(tx pgx.Tx) error {{
		batchSize := c.r.BatchSize
""",
    ),
    (
        "internal/backends/postgresql/collection.go",
        """	err = pool.InTransaction(ctx, p, func(tx pgx.Tx) error {
		for _, doc := range params.Docs {
			var b []byte
""",
        f"""	// {UPDATE_MARK}: no transaction around it (binhchon_update.go)
	if len(params.Docs) == 1 {{
		return binhchonUpdateOne(ctx, p, q, params.Docs[0])
	}}

	err = pool.InTransaction(ctx, p, func(tx pgx.Tx) error {{
		for _, doc := range params.Docs {{
			var b []byte
""",
    ),
    (
        "internal/util/resource/resource.go",
        """func Track(obj any, token *Token) {
	checkArgs(obj, token)
""",
        f"""func Track(obj any, token *Token) {{
	checkArgs(obj, token)

	// {TRACK_MARK} (Track): no profile entry, no finalizer
	if !debugbuild.Enabled {{
		return
	}}
""",
    ),
    (
        "internal/util/resource/resource.go",
        """func Untrack(obj any, token *Token) {
	checkArgs(obj, token)
""",
        f"""func Untrack(obj any, token *Token) {{
	checkArgs(obj, token)

	// {TRACK_MARK} (Untrack): nothing was tracked
	if !debugbuild.Enabled {{
		return
	}}
""",
    ),
]

FILES: dict[str, str] = {
    "internal/backends/postgresql/binhchon_in.go": """\
// Added by binhchon: infra/local/patch_ferretdb.py, docs/adr/0016 (build b9).

package postgresql

import (
	"fmt"
	"strings"

	"github.com/FerretDB/FerretDB/internal/backends/postgresql/metadata"
	"github.com/FerretDB/FerretDB/internal/handler/sjson"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/must"
)

// binhchonInMax is the longest $in list pushed down: one placeholder per member, far under PostgreSQL's 65,535.
const binhchonInMax = 1000

// binhchonIDIn is the condition for {_id: {$in: v}} when every member of v is a string or an ObjectId:
// _jsonb->'_id' IN ($1, ...), each member marshalled as filterEqual marshals an _id, so that the unique _id
// index answers it. `_id` never holds an array, so this is exactly the documents $in matches among those members;
// FerretDB filters what it returns again anyway. Any other list (empty, too long, any other member) gives "":
// not pushed down, FerretDB's own way.
func binhchonIDIn(p *metadata.Placeholder, v any) (string, []any) {
	list, ok := v.(*types.Array)
	if !ok || list.Len() == 0 || list.Len() > binhchonInMax {
		return "", nil
	}

	args := make([]any, 0, list.Len())

	for i := 0; i < list.Len(); i++ {
		member := must.NotFail(list.Get(i))

		switch m := member.(type) {
		case string:
			// a NUL is "\\u0000" in JSON, which PostgreSQL's jsonb refuses (22P05): an error where $in matches
			// nothing; such a list is left to FerretDB
			if strings.ContainsRune(m, 0) {
				return "", nil
			}

			args = append(args, string(must.NotFail(sjson.MarshalSingleValue(member))))
		case types.ObjectID:
			args = append(args, string(must.NotFail(sjson.MarshalSingleValue(member))))
		default:
			return "", nil
		}
	}

	// placeholders only once the whole list is known to be pushed down: each Next() numbers an argument
	placeholders := make([]string, len(args))
	for i := range args {
		placeholders[i] = p.Next()
	}

	return fmt.Sprintf(`%s->'_id' IN (%s)`, metadata.DefaultColumn, strings.Join(placeholders, ", ")), args
}
""",
    "internal/backends/postgresql/binhchon_update.go": """\
// Added by binhchon: infra/local/patch_ferretdb.py, docs/adr/0016 (build b8).

package postgresql

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/FerretDB/FerretDB/internal/backends"
	"github.com/FerretDB/FerretDB/internal/handler/sjson"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/lazyerrors"
	"github.com/FerretDB/FerretDB/internal/util/must"
)

// binhchonUpdateOne writes one updated document back as one autocommit statement: UpdateAll's own UPDATE (q), with
// the same arguments and the same error handling, without the BEGIN and COMMIT around it.
//
// The update handlers read the document before UpdateAll, outside any transaction, and call UpdateAll once per
// changed document, so the transaction only ever held this one UPDATE: a single statement is atomic by itself (the
// row and its index entries, all or nothing), and it sees and locks the row as it would inside BEGIN/COMMIT. Two
// round trips to PostgreSQL fewer for every updateOne, replaceOne and findAndModify.
func binhchonUpdateOne(ctx context.Context, p *pgxpool.Pool, q string, doc *types.Document) (
	*backends.UpdateAllResult, error,
) {
	b, err := sjson.Marshal(doc)
	if err != nil {
		return nil, lazyerrors.Error(err)
	}

	id, _ := doc.Get("_id")
	must.NotBeZero(id)

	tag, err := p.Exec(ctx, q, b, must.NotFail(sjson.MarshalSingleValue(id)))
	if err != nil {
		return nil, lazyerrors.Error(err)
	}

	return &backends.UpdateAllResult{Updated: int32(tag.RowsAffected())}, nil
}
""",
    "internal/backends/postgresql/binhchon_insert.go": """\
// Added by binhchon: infra/local/patch_ferretdb.py, docs/adr/0016 (build b6).

package postgresql

import (
	"context"
	"errors"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/FerretDB/FerretDB/internal/backends"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/lazyerrors"
)

// binhchonInsertOne inserts one document into an existing, uncapped collection as one autocommit statement.
//
// InsertAll runs BEGIN, INSERT, COMMIT: three round trips to PostgreSQL for every insert_one. A single INSERT of
// one row is atomic by itself (PostgreSQL runs it in its own transaction: the row and its index entries, all or
// nothing), so the transaction adds nothing here but two round trips. The statement and the error mapping are
// InsertAll's: a unique violation (_id or a unique index) is ErrorCodeInsertDuplicateID, which the insert
// handler reports as E11000, and the row is not stored.
func binhchonInsertOne(ctx context.Context, p *pgxpool.Pool, schema, table string, doc *types.Document) (
	*backends.InsertAllResult, error,
) {
	q, args, err := prepareInsertStatement(schema, table, false, []*types.Document{doc})
	if err != nil {
		return nil, lazyerrors.Error(err)
	}

	if _, err = p.Exec(ctx, q, args...); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UniqueViolation {
			return nil, backends.NewError(backends.ErrorCodeInsertDuplicateID, err)
		}

		return nil, lazyerrors.Error(err)
	}

	return new(backends.InsertAllResult), nil
}
""",
    "internal/backends/binhchon_keyset.go": """\
// Added by binhchon: infra/local/patch_ferretdb.py, docs/adr/0016.

package backends

// BinhchonKeyset is a find the PostgreSQL backend may limit: sorted on one top-level Field, whose whole filter is
// Ranges on Field and Equals on top-level fields, every operand a string. Limit is the find's skip + limit.
type BinhchonKeyset struct {
	Field      string
	Descending bool
	Limit      int64
	Ranges     []BinhchonCondition
	Equals     []BinhchonCondition
}

// BinhchonCondition is `Field Op Value`, Op one of "=", "<", "<=", ">", ">=". Value is a string operand, or,
// when Number is set (equality only), an integer operand written in decimal.
type BinhchonCondition struct {
	Field  string
	Op     string
	Value  string
	Number bool
}
""",
    "internal/handler/binhchon_keyset.go": """\
// Added by binhchon: infra/local/patch_ferretdb.py, docs/adr/0016.

package handler

import (
	"strconv"
	"strings"

	"github.com/FerretDB/FerretDB/internal/backends"
	"github.com/FerretDB/FerretDB/internal/handler/common"
	"github.com/FerretDB/FerretDB/internal/types"
)

// binhchonRangeOps are the range operators a keyset page may use, as SQL.
var binhchonRangeOps = map[string]string{"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}

// binhchonTopLevel tells a plain top-level field name (no operator, no dot notation).
func binhchonTopLevel(k string) bool {
	return k != "" && !strings.HasPrefix(k, "$") && !strings.ContainsRune(k, '.')
}

// binhchonExactInteger bounds the integers whose equality is pushed down: every double up to it is exact.
const binhchonExactInteger = int64(1) << 53

// binhchonInteger is {field: n}: an int, a long or a double equal to n, as FerretDB compares numbers.
func binhchonInteger(field string, n int64) backends.BinhchonCondition {
	return backends.BinhchonCondition{Field: field, Op: "=", Value: strconv.FormatInt(n, 10), Number: true}
}

// binhchonKeyset returns the find as a keyset page the backend may limit, or nil for any other shape.
//
// It accepts only what the backend translates exactly: the sort is one top-level field; every filter key is
// $comment, a top-level field equal to a string ({f: "x"} or {f: {$eq: "x"}}), or a string range on the sort
// field; at least one range. Anything else (another operator or type, a duplicated key, $natural, no limit)
// returns nil, and the find runs as FerretDB runs it.
func binhchonKeyset(params *common.FindParams) *backends.BinhchonKeyset {
	const maxRows = 1 << 40 // skip + limit never overflows

	if params.Limit <= 0 || params.Limit > maxRows || params.Skip < 0 || params.Skip > maxRows {
		return nil
	}

	if params.Sort.Len() != 1 || params.Filter.Len() == 0 {
		return nil
	}

	field := params.Sort.Keys()[0]
	if !binhchonTopLevel(field) {
		return nil
	}

	direction, err := params.Sort.Get(field)
	if err != nil {
		return nil
	}

	descending := false

	switch direction {
	case int64(1):
	case int64(-1):
		descending = true
	default:
		return nil
	}

	res := &backends.BinhchonKeyset{Field: field, Descending: descending, Limit: params.Skip + params.Limit}
	seen := map[string]bool{}

	for _, k := range params.Filter.Keys() {
		if seen[k] {
			return nil
		}

		seen[k] = true

		if k == "$comment" {
			continue
		}

		if !binhchonTopLevel(k) {
			return nil
		}

		v, err := params.Filter.Get(k)
		if err != nil {
			return nil
		}

		switch v := v.(type) {
		case string:
			res.Equals = append(res.Equals, backends.BinhchonCondition{Field: k, Op: "=", Value: v})

		case int32:
			res.Equals = append(res.Equals, binhchonInteger(k, int64(v)))

		case int64:
			if v > binhchonExactInteger || v < -binhchonExactInteger {
				return nil // beyond 2^53 a double and a long compare in ways jsonb does not reproduce
			}

			res.Equals = append(res.Equals, binhchonInteger(k, v))

		case *types.Document:
			if v.Len() == 0 {
				return nil
			}

			ops := map[string]bool{}

			for _, op := range v.Keys() {
				if ops[op] {
					return nil
				}

				ops[op] = true

				operand, err := v.Get(op)
				if err != nil {
					return nil
				}

				s, ok := operand.(string)
				if !ok {
					return nil
				}

				switch op {
				case "$eq":
					res.Equals = append(res.Equals, backends.BinhchonCondition{Field: k, Op: "=", Value: s})
				case "$gt", "$gte", "$lt", "$lte":
					if k != field {
						return nil
					}

					res.Ranges = append(res.Ranges,
						backends.BinhchonCondition{Field: k, Op: binhchonRangeOps[op], Value: s})
				default:
					return nil
				}
			}

		default:
			return nil
		}
	}

	if len(res.Ranges) == 0 {
		return nil
	}

	return res
}
""",
    "internal/backends/postgresql/binhchon_keyset.go": """\
// Added by binhchon: infra/local/patch_ferretdb.py, docs/adr/0016.

package postgresql

import (
	"fmt"
	"strings"

	"github.com/FerretDB/FerretDB/internal/backends"
	"github.com/FerretDB/FerretDB/internal/backends/postgresql/metadata"
	"github.com/FerretDB/FerretDB/internal/handler/sjson"
	"github.com/FerretDB/FerretDB/internal/util/must"
)

// binhchonSQLRangeOps maps the range operators to SQL.
var binhchonSQLRangeOps = map[string]string{"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}

// binhchonQuote quotes a field name as an SQL literal, as metadata.quoteString does for the index it creates
// (standard_conforming_strings is checked on when FerretDB connects).
func binhchonQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// binhchonField is  _jsonb->'field' , written with the name inline: the very expression of the index FerretDB
// creates for createIndex({field: 1}) or ({field: -1}), so PostgreSQL can walk that index.
func binhchonField(field string) string {
	return metadata.DefaultColumn + "->" + binhchonQuote(field)
}

// binhchonIsString is true when the field holds a BSON string: the document's schema says so (a JSON string
// may also be an ObjectId, binary data or a regex pattern).
func binhchonIsString(field string) string {
	return metadata.DefaultColumn + "->'$s'->'p'->" + binhchonQuote(field) + `->'t' = '"string"'`
}

// binhchonArrays selects the documents whose field is a non-empty array, by a range of the field's index.
// jsonb orders Null < String < Number < Boolean < Array < Object, arrays by length first (an empty top-level
// array sorts before null): every non-empty array is above true and below the smallest object {}.
func binhchonArrays(field string) string {
	return fmt.Sprintf(`(%[1]s > 'true'::jsonb AND %[1]s < '{}'::jsonb)`, binhchonField(field))
}

// binhchonString is a string operand as its sjson (JSON) text.
func binhchonString(s string) string {
	return string(must.NotFail(sjson.MarshalSingleValue(s)))
}

// binhchonRange pushes {field: {op: "string"}} down. Only strings and arrays holding a string can match a
// string range; strings compare in the database's collation, code point order under C.UTF-8, which is the
// byte order of UTF-8 that FerretDB and MongoDB compare in. The condition keeps both, so the handler's own
// filter decides: it only narrows. Other operand types are not pushed down.
func binhchonRange(p *metadata.Placeholder, field, op string, v any) (string, []any) {
	s, ok := v.(string)
	if !ok {
		return "", nil
	}

	sql := fmt.Sprintf(
		`((%s AND %s %s %s::jsonb) OR %s)`,
		binhchonIsString(field), binhchonField(field), binhchonSQLRangeOps[op], p.Next(), binhchonArrays(field),
	)

	return sql, []any{binhchonString(s)}
}

// binhchonEqualNumber is exactly FerretDB's {field: n} for an integer n: the field is an int, a long or a double
// of that value (jsonb compares numbers by value: 4 = 4.0), or an array with such an element. A date is a JSON
// number too: the schema's type keeps it out.
func binhchonEqualNumber(p *metadata.Placeholder, field, value string) (string, []any) {
	f := binhchonField(field)
	schema := metadata.DefaultColumn + "->'$s'->'p'->" + binhchonQuote(field)
	numeric := `IN ('"int"'::jsonb, '"long"'::jsonb, '"double"'::jsonb)`
	v := p.Next()
	sql := fmt.Sprintf(
		`(CASE jsonb_typeof(%[1]s) `+
			`WHEN 'number' THEN %[2]s->'t' %[4]s AND %[1]s = %[3]s::jsonb `+
			`WHEN 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements(%[1]s) WITH ORDINALITY AS binhchon_e(v, i) `+
			`WHERE binhchon_e.v = %[3]s::jsonb AND %[2]s->'i'->((binhchon_e.i - 1)::int)->'t' %[4]s) `+
			`ELSE false END)`,
		f, schema, v, numeric,
	)

	return sql, []any{value}
}

// binhchonEqual is exactly FerretDB's {field: "value"}: the field is that BSON string, or an array with an
// element that is that BSON string (the element's type is in the schema's "i" list). CASE, unlike AND, fixes
// the order of evaluation: jsonb_array_elements is only called on an array.
func binhchonEqual(p *metadata.Placeholder, field, value string) (string, []any) {
	f := binhchonField(field)
	schema := metadata.DefaultColumn + "->'$s'->'p'->" + binhchonQuote(field)
	v := p.Next()
	sql := fmt.Sprintf(
		`(CASE jsonb_typeof(%[1]s) `+
			`WHEN 'string' THEN %[2]s->'t' = '"string"' AND %[1]s = %[3]s::jsonb `+
			`WHEN 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements(%[1]s) WITH ORDINALITY AS binhchon_e(v, i) `+
			`WHERE binhchon_e.v = %[3]s::jsonb AND %[2]s->'i'->((binhchon_e.i - 1)::int)->'t' = '"string"') `+
			`ELSE false END)`,
		f, schema, v,
	)

	return sql, []any{binhchonString(value)}
}

// binhchonKeysetQuery answers a keyset page with two selects from the same table:
//   - the documents whose field is a BSON string and that match the whole filter exactly (the conditions
//     below are FerretDB's own semantics for these operands, not a superset), in the field's order, LIMIT
//     skip + limit: PostgreSQL walks the field's index and stops;
//   - every document whose field is a non-empty array and that matches the equalities (an index range, empty
//     when no document holds an array there): such a document can match a string range and sort anywhere.
//
// No other document can match a string range. So the first (skip + limit) documents of the real answer are
// all among these rows, whatever order ties take; the handler filters and sorts them and keeps its page.
func binhchonKeysetQuery(selectClause string, k *backends.BinhchonKeyset) (string, []any) {
	var p metadata.Placeholder
	var args []any

	var ranges []string

	for _, r := range k.Ranges {
		ranges = append(ranges, fmt.Sprintf(`%s %s %s::jsonb`, binhchonField(k.Field), r.Op, p.Next()))
		args = append(args, binhchonString(r.Value))
	}

	equals := []string{"true"}

	for _, e := range k.Equals {
		equal := binhchonEqual
		if e.Number {
			equal = binhchonEqualNumber
		}

		sql, a := equal(&p, e.Field, e.Value)
		equals = append(equals, sql)
		args = append(args, a...)
	}

	// One CASE, not an AND of conditions: PostgreSQL has no statistics for these expressions and guesses 0.5
	// for a CASE but 0.005 for an equality, and at 0.005 it expects the LIMIT to need the whole range and
	// sorts it instead of walking the index (EXPLAIN, docs/adr/0016).
	exact := fmt.Sprintf(`(CASE WHEN %s THEN %s ELSE false END)`,
		binhchonIsString(k.Field), strings.Join(equals, " AND "))

	order := " ASC"
	if k.Descending {
		order = " DESC"
	}

	limit := p.Next()
	args = append(args, k.Limit)

	stringRows := strings.Join(append(ranges, exact), " AND ")
	arrayRows := strings.Join(append([]string{binhchonArrays(k.Field)}, equals...), " AND ")

	q := fmt.Sprintf(
		`(%[1]s WHERE %[2]s ORDER BY %[3]s%[4]s LIMIT %[5]s) UNION ALL (%[1]s WHERE %[6]s)`,
		selectClause, stringRows, binhchonField(k.Field), order, limit, arrayRows,
	)

	return q, args
}
""",
}


def main(source: Path) -> None:
    texts: dict[Path, str] = {}
    for name, anchor, replacement in EDITS:
        path = source / name
        text = texts.get(path, path.read_text())
        marker = replacement.replace(anchor, "") if anchor in replacement else replacement
        if marker.strip() and marker.strip() in text:
            texts[path] = text  # applied by an earlier run
            continue
        if text.count(anchor) != 1:
            sys.exit(f"{path}: the code to patch is not as expected (FerretDB version changed?)")
        texts[path] = text.replace(anchor, replacement)
    for path, text in texts.items():
        if path.read_text() != text:
            path.write_text(text)
    for name, content in FILES.items():
        (source / name).write_text(content)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
