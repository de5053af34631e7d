//! The auditor's per-event work, compiled: each record of a topic read as JSON, the attributes its hash covers
//! written in RFC 8785 form, SHA-256 over them, and what the chain check keeps of it.
//!
//! It answers only where its answer is, field for field, what the kit's Python answers
//! (`binhchon_tools.audit_chain.read_values`): anything unusual (not strict JSON, a number RFC 8785 refuses, a
//! field of another type than the usual one, a legacy or unknown hash scheme, a type the main process wants
//! whole) is left to the Python path (`None`), which decides as before. Property tests hold the two to each other
//! and the canonical form to the `rfc8785` package (tools/tests/test_audit_core.py; docs/adr/0059).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use sha2::{Digest, Sha256};
use std::cmp::Ordering;
use std::collections::HashSet;

/// The module's own allocations (parsed records, the chain check's bookkeeping, the decider's sheets) by mimalloc:
/// glibc's malloc spent a sixth of the read consolidating the small chunks each record frees, and the chain check
/// frees on Python's thread what the reading threads allocated. Python's own objects keep Python's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod chains;
mod decide;
mod fetch;
mod json;
mod sheets;
use json::{Node, Text};

const HASH_ALG: &str = "cloudevent-jcs-sha256";

/// The attributes `cloudevent-jcs-sha256` covers (binhchon_kit.canonical.HASHED_ATTRIBUTES).
const HASHED_ATTRIBUTES: [&str; 17] = [
    "specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema", "data",
    "correlationid", "causationid", "actorid", "actorroles", "streamid", "streamversion", "prevhash", "hashalg",
];

const SAFE_INT: u64 = (1u64 << 53) - 1;

/// Why a value has no RFC 8785 form here (the Python path then answers).
struct Refused;

/// RFC 8785 (JCS) of a JSON value, appended to `out`.
fn write_jcs(value: &Node, out: &mut Vec<u8>) -> Result<(), Refused> {
    match value {
        Node::Null => out.extend_from_slice(b"null"),
        Node::True => out.extend_from_slice(b"true"),
        Node::False => out.extend_from_slice(b"false"),
        Node::Number(text) => write_number(text, out)?,
        Node::Text(text) => write_text(text, out),
        Node::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_jcs(item, out)?;
            }
            out.push(b']');
        }
        Node::Object(members) => write_object(members.iter().map(|(key, item)| (key, item)), out)?,
    }
    Ok(())
}

/// Keys compared as RFC 8785 sorts them: by UTF-16 code units. UTF-8's byte order is the code points', which
/// differs from UTF-16's only where a character of U+E000..U+FFFF (lead byte 0xEE or 0xEF) meets one beyond the
/// BMP (lead byte 0xF0..0xF4, a surrogate pair in UTF-16, below U+E000 there) at the first difference.
fn utf16_order(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    match a.iter().zip(b).position(|(x, y)| x != y) {
        None => a.len().cmp(&b.len()),
        Some(at) => {
            let (x, y) = (a[at], b[at]);
            if (matches!(x, 0xee | 0xef) && y >= 0xf0) || (matches!(y, 0xee | 0xef) && x >= 0xf0) {
                y.cmp(&x)
            } else {
                x.cmp(&y)
            }
        }
    }
}

/// An object's members in RFC 8785's order; of several members of one name, the last (as `json.loads` keeps).
fn write_object<'n, 'a: 'n>(members: impl Iterator<Item = (&'n Text<'a>, &'n Node<'a>)>, out: &mut Vec<u8>)
                            -> Result<(), Refused> {
    let mut sorted: Vec<(&Text, &Node)> = members.collect();
    sorted.sort_by(|a, b| utf16_order(a.0.as_str(), b.0.as_str())); // stable: equal names keep their order
    out.push(b'{');
    let mut first = true;
    for (index, (key, item)) in sorted.iter().enumerate() {
        if sorted.get(index + 1).is_some_and(|next| next.0.as_str() == key.as_str()) {
            continue; // a later member of the same name wins
        }
        if !first {
            out.push(b',');
        }
        first = false;
        write_text(key, out);
        out.push(b':');
        write_jcs(item, out)?;
    }
    out.push(b'}');
    Ok(())
}

fn write_text(text: &Text, out: &mut Vec<u8>) {
    match text {
        Text::Plain(plain) => {
            out.push(b'"');
            out.extend_from_slice(plain.as_bytes());
            out.push(b'"');
        }
        Text::Decoded(decoded) => write_string(decoded, out),
    }
}

/// A number as its JSON text gave it: an integer (no point, no exponent: Python reads an `int`) within
/// ±(2^53 - 1) as its digits; a float (Python's `float` of the text, correctly rounded as Rust's is) as
/// ECMAScript writes it. RFC 8785 refuses larger integers, and Python reads an overflowing float as infinity,
/// which it refuses too.
fn write_number(text: &str, out: &mut Vec<u8>) -> Result<(), Refused> {
    if !text.contains(['.', 'e', 'E']) {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if digits.len() > 16 {
            return Err(Refused);
        }
        let magnitude: u64 = digits.parse().map_err(|_| Refused)?;
        if magnitude > SAFE_INT {
            return Err(Refused);
        }
        if negative && magnitude != 0 {
            out.push(b'-');
        }
        // JSON writes an integer without leading zeros: its digits are already its shortest form (written as
        // they are rather than through a `String` per number)
        out.extend_from_slice(digits.as_bytes());
        return Ok(());
    }
    let float: f64 = text.parse().map_err(|_| Refused)?;
    if !float.is_finite() {
        return Err(Refused);
    }
    let mut buffer = ryu_js::Buffer::new();
    out.extend_from_slice(buffer.format_finite(float).as_bytes());
    Ok(())
}

/// A string as RFC 8785 writes it: `"` and `\` escaped, `\b \f \n \r \t`, the other controls as lowercase
/// `\u00xx`, everything else as UTF-8.
pub(crate) fn write_string(text: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut start = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        let escaped: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => {
                out.extend_from_slice(&bytes[start..at]);
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(byte >> 4) as usize]);
                out.push(HEX[(byte & 15) as usize]);
                start = at + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..at]);
        out.extend_from_slice(escaped);
        start = at + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// `binhchon_kit.canonical.read_json`'s long-number test: the text mapped byte by byte (digits and `D` to `D`;
/// `, [` space, tab, CR, LF, `-` and `:` to `:`) holds `:` and 19 `D`, or starts with 19 `D`; that is, a run of
/// 19 or more such digits right after one of those bytes or at the text's start. Any 19 bytes in a row hold one
/// position that is a multiple of 19, so only those are looked at, and the run around a digit found there.
fn long_number(text: &[u8]) -> bool {
    let digit = |byte: u8| byte.is_ascii_digit() || byte == b'D';
    let mut at = 18;
    while at < text.len() {
        if !digit(text[at]) {
            at += 19;
            continue;
        }
        let mut start = at;
        while start > 0 && digit(text[start - 1]) {
            start -= 1;
        }
        let mut end = at + 1;
        while end < text.len() && digit(text[end]) {
            end += 1;
        }
        if end - start >= 19
            && (start == 0 || matches!(text[start - 1], b':' | b',' | b'[' | b' ' | b'\t' | b'\r' | b'\n' | b'-'))
        {
            return true;
        }
        at = end + (18 + 19 - end % 19) % 19; // the next such position past the run
    }
    false
}

/// What the chain check keeps of one record (`audit_chain.Read`, without the parsed event).
pub(crate) struct Read {
    stream: String,
    version: i64,
    id: String,
    hash: String,
    prev: String,
    event_type: String,
    source: String,
    signature: Option<String>,
    kid: Option<String>,
    holds: bool,
    exact: bool,
}

/// An optional attribute: absent or `null` is `None`; a string is itself; anything else is the Python path's.
fn optional_text(node: Option<&Node>) -> Result<Option<String>, Refused> {
    match node {
        None | Some(Node::Null) => Ok(None),
        Some(Node::Text(text)) => Ok(Some(text.as_str().to_owned())),
        Some(_) => Err(Refused),
    }
}

/// An integer attribute as Python's `int` of what `json.loads` read: an integer literal within i64.
fn integer(node: &Node) -> Option<i64> {
    match node {
        Node::Number(text) if !text.contains(['.', 'e', 'E']) => text.parse().ok(),
        _ => None,
    }
}

/// The attributes the chain check reads, found in one pass over the event (the last of a name wins, as
/// `json.loads` keeps it).
#[derive(Default)]
struct Attributes<'n, 'a> {
    event_type: Option<&'n Node<'a>>,
    hashalg: Option<&'n Node<'a>>,
    version: Option<&'n Node<'a>>,
    hash: Option<&'n Node<'a>>,
    source: Option<&'n Node<'a>>,
    stream: Option<&'n Node<'a>>,
    id: Option<&'n Node<'a>>,
    prev: Option<&'n Node<'a>>,
    signature: Option<&'n Node<'a>>,
    kid: Option<&'n Node<'a>>,
}

/// One record read and hashed, or `None`: the Python path answers for it.
pub(crate) fn read_one(value: &[u8], leave: &HashSet<String>) -> Option<Read> {
    let event = json::parse(value).ok()?;
    let Node::Object(members) = &event else { return None };
    let mut found = Attributes::default();
    for (name, item) in members {
        let slot = match name.as_str() {
            "type" => &mut found.event_type,
            "hashalg" => &mut found.hashalg,
            "streamversion" => &mut found.version,
            "hash" => &mut found.hash,
            "source" => &mut found.source,
            "streamid" => &mut found.stream,
            "id" => &mut found.id,
            "prevhash" => &mut found.prev,
            "signature" => &mut found.signature,
            "signaturekid" => &mut found.kid,
            _ => continue,
        };
        *slot = Some(item);
    }
    let text = |node: Option<&Node>| node?.as_str().map(str::to_owned);
    let event_type = found.event_type?.as_str()?;
    if leave.contains(event_type) || found.hashalg?.as_str()? != HASH_ALG {
        return None;
    }
    let version = integer(found.version?)?;
    let claimed = found.hash?.as_str()?;
    let source = match found.source {
        None => String::new(),
        Some(node) => node.as_str()?.to_owned(),
    };
    let read = Read {
        stream: text(found.stream)?,
        version,
        id: text(found.id)?,
        hash: claimed.to_owned(),
        prev: text(found.prev)?,
        event_type: event_type.to_owned(),
        source,
        signature: optional_text(found.signature).ok()?,
        kid: optional_text(found.kid).ok()?,
        holds: false,
        exact: !long_number(value),
    };
    let mut canonical = Vec::with_capacity(value.len());
    let hashed = members.iter().filter(|(name, _)| HASHED_ATTRIBUTES.contains(&name.as_str()));
    write_object(hashed.map(|(name, item)| (name, item)), &mut canonical).ok()?;
    let holds = hex(&Sha256::digest(&canonical)) == claimed;
    Some(Read { holds, ..read })
}

pub(crate) fn hex(digest: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(digest.len() * 2);
    for byte in digest {
        text.push(HEX[(byte >> 4) as usize] as char);
        text.push(HEX[(byte & 15) as usize] as char);
    }
    text
}

/// The reader's answers one record at a time, as tuples (the tests hold them to `read_value`'s; the chain check
/// reads with `read_packed`). Each record read and hashed, the GIL released meanwhile: per record the tuple `audit_chain.read_values`
/// answers (its parsed event `None`), or `None` where the Python path must answer. `leave`: the event types the
/// caller wants parsed whole (the Python path reads them).
#[pyfunction]
fn read_values<'py>(py: Python<'py>, values: Vec<Bound<'py, PyBytes>>, leave: Vec<String>)
                    -> PyResult<Vec<Option<Bound<'py, PyTuple>>>> {
    let leave: HashSet<String> = leave.into_iter().collect();
    let slices: Vec<&[u8]> = values.iter().map(|value| value.as_bytes()).collect();
    let reads: Vec<Option<Read>> = py.detach(|| slices.iter().map(|value| read_one(value, &leave)).collect());
    reads
        .into_iter()
        .map(|read| {
            read.map(|r| {
                PyTuple::new(py, [
                    r.stream.into_pyobject(py)?.into_any(),
                    r.version.into_pyobject(py)?.into_any(),
                    r.id.into_pyobject(py)?.into_any(),
                    r.hash.into_pyobject(py)?.into_any(),
                    r.prev.into_pyobject(py)?.into_any(),
                    r.event_type.into_pyobject(py)?.into_any(),
                    r.source.into_pyobject(py)?.into_any(),
                    r.signature.into_pyobject(py)?.into_any(),
                    r.kid.into_pyobject(py)?.into_any(),
                    pyo3::types::PyBool::new(py, r.holds).to_owned().into_any(),
                    py.None().into_bound(py),
                    pyo3::types::PyBool::new(py, r.exact).to_owned().into_any(),
                ])
            })
            .transpose()
        })
        .collect()
}

/// RFC 8785 of a JSON text's value (tests hold it to the `rfc8785` package), or `None` where it has none here.
#[pyfunction]
fn canonical_form<'py>(py: Python<'py>, text: &[u8]) -> Option<Bound<'py, PyBytes>> {
    let value = json::parse(text).ok()?;
    let mut out = Vec::with_capacity(text.len());
    write_jcs(&value, &mut out).ok()?;
    Some(PyBytes::new(py, &out))
}

/// Python's limit on an integer's digits read from text (`sys.get_int_max_str_digits()`; 0: none): the JSON
/// reader refuses integer literals beyond it, as `json.loads` does.
#[pyfunction]
fn set_int_max_str_digits(digits: usize) {
    json::INT_MAX_STR_DIGITS.store(digits, std::sync::atomic::Ordering::Relaxed);
}

#[pymodule]
fn _core(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(read_values, module)?)?;
    module.add_function(wrap_pyfunction!(set_int_max_str_digits, module)?)?;
    module.add_function(wrap_pyfunction!(canonical_form, module)?)?;
    module.add_function(wrap_pyfunction!(chains::read_packed, module)?)?;
    module.add_function(wrap_pyfunction!(sheets::open_sheets, module)?)?;
    module.add_class::<chains::Chains>()?;
    module.add_class::<decide::Decider>()?;
    module.add_class::<decide::Confirming>()?;
    module.add_class::<fetch::TopicReader>()?;
    module.add_class::<fetch::Fetched>()?;
    // what it holds of the kit's definitions, for a test to compare with the kit's own
    module.add("HASH_ALG", HASH_ALG)?;
    module.add("HASHED_ATTRIBUTES", HASHED_ATTRIBUTES.to_vec())?;
    module.add("GENESIS", chains::GENESIS)?;
    module.add("CHECKPOINT_TYPE", chains::CHECKPOINT_TYPE)?;
    Ok(())
}
