//! The sealed sheets of a common scoring stream opened (ADR 0042's cheap path, ADR 0059): each `score.submitted`
//! read, checked as `audit_plain.sealed_sheet` and `_confirm_plain` check it, its marks decrypted with the
//! dossier's revealed key (AES-256-GCM, the sheet's context as associated data) and summed in half points.
//!
//! It answers only where `audit_recompute._opened_sheets` (the Python loop over the parsed events) answers the
//! same numbers: anything else (a field of another type or form, a duplicate name in an object, a number that is
//! not a plain literal, a time or schema it does not read as surely as Python does, a tag that fails) is `None`,
//! and the Python path reads the stream. A property test holds the two to each other
//! (tools/tests/test_audit_recompute.py).

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::json::{self, Node};
use crate::write_string;

/// Half points stay below this (`audit_recompute._HALF_LIMIT`): any sum of them is exact.
const HALF_LIMIT: f64 = (1u64 << 40) as f64;

/// An object's members by name (looked up in order: a handful each), or `None` where a name is given twice (the
/// Python path keeps the last). Each name's `mark` is compared before its bytes: most names differ in it.
pub(crate) struct Fields<'n, 'a>(pub(crate) Vec<(&'n str, &'n Node<'a>)>, Vec<u64>);

/// A name's length and its first and last bytes, in one word: equal for equal names, rarely for others.
fn mark(name: &str) -> u64 {
    let b = name.as_bytes();
    let (first, last) = (b.first().copied().unwrap_or(0), b.last().copied().unwrap_or(0));
    (b.len() as u64) << 16 | (first as u64) << 8 | last as u64
}

impl<'n, 'a> Fields<'n, 'a> {
    pub(crate) fn get(&self, name: &str) -> Option<&'n Node<'a>> {
        let wanted = mark(name);
        self.1.iter().zip(&self.0).find(|(m, (key, _))| **m == wanted && *key == name).map(|(_, (_, node))| *node)
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

pub(crate) fn fields<'n, 'a>(node: &'n Node<'a>) -> Option<Fields<'n, 'a>> {
    let Node::Object(members) = node else { return None };
    let mut found: Vec<(&'n str, &'n Node<'a>)> = Vec::with_capacity(members.len());
    let mut marks: Vec<u64> = Vec::with_capacity(members.len());
    for (name, item) in members {
        let name = name.as_str();
        let marked = mark(name);
        if marks.iter().zip(&found).any(|(m, (key, _))| *m == marked && *key == name) {
            return None;
        }
        found.push((name, item));
        marks.push(marked);
    }
    Some(Fields(found, marks))
}

pub(crate) fn text<'n>(node: Option<&'n Node>) -> Option<&'n str> {
    node?.as_str()
}

pub(crate) fn is_integer(node: Option<&Node>) -> bool {
    matches!(node, Some(Node::Number(text)) if !text.contains(['.', 'e', 'E']))
}

/// `audit_plain.code`: `[A-Za-z0-9._-]{1,40}`.
pub(crate) fn code(value: &str) -> bool {
    (1..=40).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

const INVALID: u8 = 0xff;

/// base64url without padding, as scoring's `unb64` reads text of its alphabet (`None` for another character,
/// and for a length of 4k + 1, which it refuses; bits left over in the last character are ignored, as
/// `a2b_base64` ignores them).
pub(crate) fn unb64(value: &str) -> Option<Vec<u8>> {
    const SEXTETS: [u8; 256] = {
        let mut table = [INVALID; 256];
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut k = 0;
        while k < 64 {
            table[alphabet[k] as usize] = k as u8;
            k += 1;
        }
        table
    };
    let bytes = value.as_bytes();
    if bytes.len() % 4 == 1 {
        return None;
    }
    // one pass: a character outside the alphabet leaves its sextet's high bit in `seen` (checked at the end)
    let mut seen = 0u8;
    let mut sextet = |b: u8| {
        let found = SEXTETS[b as usize];
        seen |= found;
        (found & 0x3f) as u32
    };
    let whole = bytes.len() / 4 * 3;
    let mut out = vec![0u8; whole + (bytes.len() % 4).saturating_sub(1)];
    let mut quads = bytes.chunks_exact(4);
    for (q, three) in (&mut quads).zip(out[..whole].chunks_exact_mut(3)) {
        let word = sextet(q[0]) << 18 | sextet(q[1]) << 12 | sextet(q[2]) << 6 | sextet(q[3]);
        three.copy_from_slice(&[(word >> 16) as u8, (word >> 8) as u8, word as u8]);
    }
    out.truncate(whole);
    match *quads.remainder() {
        [a, b] => out.push(((sextet(a) << 18 | sextet(b) << 12) >> 16) as u8),
        [a, b, c] => {
            let word = sextet(a) << 18 | sextet(b) << 12 | sextet(c) << 6;
            out.extend_from_slice(&[(word >> 16) as u8, (word >> 8) as u8]);
        }
        _ => {}
    }
    if seen & 0x80 != 0 {
        return None; // not the alphabet (the model's pattern)
    }
    Some(out)
}

/// Whether Python's `datetime.fromisoformat` surely reads it: `YYYY-MM-DDTHH:MM:SS`, then `.` and 3 or 6 digits
/// or nothing, then `Z`, `±HH:MM` or nothing, every field within its range.
fn iso_time(value: &str) -> bool {
    let b = value.as_bytes();
    let number = |from: usize, to: usize| -> Option<u32> {
        let part = b.get(from..to)?;
        part.iter().all(u8::is_ascii_digit).then(|| part.iter().fold(0, |n, d| n * 10 + (d - b'0') as u32))
    };
    let (Some(year), Some(month), Some(day)) = (number(0, 4), number(5, 7), number(8, 10)) else { return false };
    let (Some(hour), Some(minute), Some(second)) = (number(11, 13), number(14, 16), number(17, 19)) else {
        return false;
    };
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return false;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if year == 0 || !(1..=12).contains(&month) || day == 0 || day > days[month as usize - 1] || hour > 23
        || minute > 59 || second > 59
    {
        return false;
    }
    let mut rest = &b[19..];
    if rest.first() == Some(&b'.') {
        let digits = rest[1..].iter().take_while(|d| d.is_ascii_digit()).count();
        if digits != 3 && digits != 6 {
            return false;
        }
        rest = &rest[1 + digits..];
    }
    match rest {
        [] | [b'Z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            let digits = [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit());
            digits && (h1 - b'0') * 10 + (h2 - b'0') < 24 && (m1 - b'0') * 10 + (m2 - b'0') < 60
        }
        _ => false,
    }
}

/// `audit_hash.schema_version` surely reads it: digits after the last `/v`, then `.json` or nothing.
fn schema_version(value: &str) -> bool {
    let Some(at) = value.rfind("/v") else { return false };
    let digits = value[at + 2..].strip_suffix(".json").unwrap_or(&value[at + 2..]);
    (1..=9).contains(&digits.len()) && digits.bytes().all(|d| d.is_ascii_digit())
}

/// What `audit_recompute._readable` asks of an event: every attribute there, those it reads readable.
pub(crate) fn readable(event: &Fields) -> bool {
    const PRESENT: [&str; 10] = ["id", "streamid", "subject", "data", "actorid", "correlationid", "causationid",
                                 "source", "prevhash", "hash"];
    PRESENT.iter().all(|name| event.has(name))
        && is_integer(event.get("streamversion"))
        && text(event.get("dataschema")).is_some_and(schema_version)
        && text(event.get("time")).is_some_and(iso_time)
        && text(event.get("actorroles")).is_some()
}

/// A point in half points: an int or float within ±2^40 that is a whole or half number (plain literals only).
fn halves(node: &Node) -> Option<i64> {
    let Node::Number(literal) = node else { return None };
    if literal.len() > 15 {
        return None; // the long-number test's territory: the Python path reads it
    }
    let value: f64 = literal.parse().ok()?;
    let twice = 2.0 * value;
    (twice.fract() == 0.0 && -HALF_LIMIT < value && value < HALF_LIMIT).then_some(twice as i64)
}

/// A score's code and points (in half points), read without a map: each name once, other names ignored.
fn score_of<'n>(score: &'n Node) -> Option<(&'n str, i64)> {
    let Node::Object(members) = score else { return None };
    let (mut code, mut points) = (None, None);
    for (at, (name, item)) in members.iter().enumerate() {
        let name = name.as_str();
        if members[..at].iter().any(|(earlier, _)| earlier.as_str() == name) {
            return None; // a name given twice: the Python path reads the last
        }
        match name {
            "code" => code = Some(item.as_str()?),
            "points" => points = Some(halves(item)?),
            _ => {}
        }
    }
    Some((code?, points?))
}

/// `sheet_aad`: the RFC 8785 (and orjson) bytes of a first-round sheet's context.
fn sheet_aad(dossier_id: &str, sheet_id: &str, member_id: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + dossier_id.len() + sheet_id.len() + member_id.len());
    out.extend_from_slice(b"{\"dossier_id\":");
    write_string(dossier_id, &mut out);
    out.extend_from_slice(b",\"member_id\":");
    write_string(member_id, &mut out);
    out.extend_from_slice(b",\"scoring_round\":1,\"sheet_id\":");
    write_string(sheet_id, &mut out);
    out.extend_from_slice(b",\"type\":\"score.submitted\"}");
    out
}

/// A stream's opened sheets as `audit_recompute.Marks`: members, totals, columns, magnitude.
pub(crate) type Marks = (Vec<String>, Vec<i64>, Vec<i64>, i64);

/// One member's opened sheet: the member, the sum of all its points, its points on each of the sheet's
/// criteria (in the order asked), and the sum of their magnitudes, all in half points.
type Opened = (String, i64, Vec<i64>, i64);

struct Stream<'k> {
    dossier_id: &'k str,
    digest: &'k str,
    aead: LessSafeKey,
    eligible: &'k [String],
    criteria: &'k [String],
}

impl Stream<'_> {
    fn open(&self, raw: &[u8], seen: &[Opened]) -> Option<Opened> {
        let parsed = json::parse(raw).ok()?;
        let event = fields(&parsed)?;
        if text(event.get("type"))? != "score.submitted" || !readable(&event) {
            return None;
        }
        let data = fields(event.get("data")?)?;
        const KNOWN: [&str; 10] = ["sheet_id", "member_id", "scoring_round", "rulebook_id", "rulebook_version",
                                   "score_sheet", "sealed", "scores", "total", "comment"];
        if data.len() != 7 + ["scores", "total", "comment"].iter().filter(|k| data.has(k)).count()
            || !data.0.iter().all(|(k, _)| KNOWN.contains(k))
        {
            return None;
        }
        let sheet_id = text(data.get("sheet_id"))?;
        let member = text(data.get("member_id"))?;
        let first_round = matches!(data.get("scoring_round"), Some(Node::Number("1")));
        let clear = |name: &str| matches!(data.get(name), None | Some(Node::Null));
        let comment_empty = match data.get("comment") {
            None => true,
            Some(node) => node.as_str() == Some(""),
        };
        if !first_round || !clear("scores") || !clear("total") || !comment_empty
            || !text(data.get("rulebook_id")).is_some_and(code) || !is_integer(data.get("rulebook_version"))
            || !text(data.get("score_sheet")).is_some_and(code)
            || !self.eligible.iter().any(|m| m == member) || seen.iter().any(|(m, ..)| m == member)
        {
            return None;
        }
        let sealed = fields(data.get("sealed")?)?;
        let alg_ok = match sealed.get("alg") {
            None => true,
            Some(node) => node.as_str() == Some("A256GCM"),
        };
        let (kid, digest) = (text(sealed.get("kid"))?, text(sealed.get("key_digest"))?);
        let (nonce, ciphertext) = (text(sealed.get("nonce"))?, text(sealed.get("ciphertext"))?);
        if sealed.len() != 4 + usize::from(sealed.has("alg")) || !alg_ok || !code(kid)
            || digest != self.digest
            || nonce.len() != 16 || !(1..=20000).contains(&ciphertext.len())
        {
            return None;
        }
        let nonce = Nonce::try_assume_unique_for_key(&unb64(nonce)?).ok()?; // (12 bytes, else `None`)
        let aad = sheet_aad(self.dossier_id, sheet_id, member);
        let mut sealed = unb64(ciphertext)?;
        let marks = self.aead.open_in_place(nonce, Aad::from(&aad), &mut sealed).ok()?;
        let parsed = json::parse(marks).ok()?;
        let marks = fields(&parsed)?;
        marks.get("total")?; // as scoring's `unsealed` reads the marks (it raises without a total)
        let Node::Array(scores) = marks.get("scores")? else { return None };
        // each criterion's points (the last given for a code, as a dict keeps it), sorted by code (a sheet lists
        // them sorted already: then nothing is moved) to be found by halving
        let mut points: Vec<(&str, i64)> = scores.iter().map(score_of).collect::<Option<_>>()?;
        if points.is_empty() {
            return None;
        }
        if !points.windows(2).all(|pair| pair[0].0 < pair[1].0) {
            points.reverse(); // the last given for a code first among its equals once stably sorted
            points.sort_by(|a, b| a.0.cmp(b.0));
            points.dedup_by(|later, kept| later.0 == kept.0);
        }
        let on = |criterion: &String| {
            points.binary_search_by(|(code, _)| (*code).cmp(criterion.as_str())).ok().map(|at| points[at].1)
        };
        let on_criteria = self.criteria.iter().map(on).collect::<Option<Vec<_>>>()?;
        let total = points.iter().map(|(_, value)| value).sum();
        let magnitude = points.iter().map(|(_, value)| value.abs()).sum();
        Some((member.to_owned(), total, on_criteria, magnitude))
    }
}

/// A common scoring stream's sealed sheets (the raw `score.submitted` records between its opening and its
/// completion) opened with the dossier's revealed key, or `None` where the Python path must read them: the
/// members sorted, each one's total, the sums over all members of each criterion asked (`criteria`, in its
/// order) and of every point's magnitude, all in half points (`audit_recompute.Marks`). `eligible`: the panel's
/// scoring members (as the plain check reads them).
/// `open_sheets` without Python: the stream's sealed sheets opened, or `None`.
pub(crate) fn open_marks(raws: &[&[u8]], dossier_id: &str, key: &[u8], digest: &str, eligible: &[String],
                         criteria: &[String]) -> Option<Marks> {
    let aead = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).ok()?);
    let stream = Stream { dossier_id, digest, aead, eligible, criteria };
    let mut opened: Vec<Opened> = Vec::with_capacity(raws.len());
    for raw in raws {
        let sheet = stream.open(raw, &opened)?;
        opened.push(sheet);
    }
    if opened.is_empty() {
        return None;
    }
    opened.sort_by(|a, b| a.0.cmp(&b.0));
    let mut columns = vec![0i64; criteria.len()];
    for (_, _, points, _) in &opened {
        columns.iter_mut().zip(points).for_each(|(column, point)| *column += point);
    }
    let magnitude = opened.iter().map(|sheet| sheet.3).sum();
    let totals = opened.iter().map(|sheet| sheet.1).collect();
    Some((opened.into_iter().map(|sheet| sheet.0).collect(), totals, columns, magnitude))
}

/// A common scoring stream's sealed sheets (the raw `score.submitted` records between its opening and its
/// completion) opened with the dossier's revealed key, or `None` where the Python path must read them: the
/// members sorted, each one's total, the sums over all members of each criterion asked (`criteria`, in its
/// order) and of every point's magnitude, all in half points (`audit_recompute.Marks`). `eligible`: the panel's
/// scoring members (as the plain check reads them).
#[pyfunction]
pub fn open_sheets<'py>(py: Python<'py>, raws: Vec<Bound<'py, PyBytes>>, dossier_id: &str, key: &[u8],
                        digest: &str, eligible: Vec<String>, criteria: Vec<String>)
                        -> Option<Marks> {
    let raws: Vec<&[u8]> = raws.iter().map(|raw| raw.as_bytes()).collect();
    py.detach(|| open_marks(&raws, dossier_id, key, digest, &eligible, &criteria))
}
