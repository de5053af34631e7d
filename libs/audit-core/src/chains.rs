//! The chain check's bookkeeping (`audit_chain.ChainCheck._take` and `finish`) compiled. The worker processes
//! read and hash the records (`read_packed`: what `read_values` answers, packed in one `bytes` per batch rather
//! than a tuple per record); the main process notes them here, keeping no Python object per record but the
//! raw values of the kept types, and checks every stream at the end with the same findings, in the same order
//! and words, as the Python check (`tools/tests/test_audit_core.py` holds the two to each other).

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::decide::{Confirming, Decided, Decider};
use crate::fetch::Fetched;
use crate::{read_one, Read};

pub(crate) const CHECKPOINT_TYPE: &str = "log.checkpoint";
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An attribute the other checks read as the record carried it: absent, a string, or what the Python reader
/// found there (any JSON value).
enum Carried {
    Absent,
    Text(Box<str>),
    Object(Py<PyAny>),
}

impl Carried {
    fn to_object(&self, py: Python<'_>) -> Py<PyAny> {
        match self {
            Carried::Absent => py.None(),
            Carried::Text(text) => PyString::new(py, text).into_any().unbind(),
            Carried::Object(object) => object.clone_ref(py),
        }
    }
}

// ----------------------------------------------------------------------------------------------- packing ---
// A batch's reads as one `bytes`: per record a tag (0: read here, 1: left to the Python reader), then for a read
// its strings (u32 length + UTF-8) stream, id, hash, prev, type, source, signature and kid (u32::MAX: absent),
// its version (i64) and two flags (hash holds, exact).

fn put_text(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        None => out.extend_from_slice(&u32::MAX.to_le_bytes()),
        Some(text) => {
            out.extend_from_slice(&(text.len() as u32).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
    }
}

pub(crate) fn pack(reads: &[Option<Read>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(reads.len() * 300);
    for read in reads {
        match read {
            None => out.push(1),
            Some(r) => {
                out.push(0);
                for text in [&r.stream, &r.id, &r.hash, &r.prev, &r.event_type, &r.source] {
                    put_text(&mut out, Some(text));
                }
                put_text(&mut out, r.signature.as_deref());
                put_text(&mut out, r.kid.as_deref());
                out.extend_from_slice(&r.version.to_le_bytes());
                out.push(r.holds as u8);
                out.push(r.exact as u8);
            }
        }
    }
    out
}

struct Unpacker<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Unpacker<'a> {
    fn take(&mut self, n: usize) -> PyResult<&'a [u8]> {
        let part = self.bytes.get(self.at..self.at + n)
            .ok_or_else(|| pyo3::exceptions::PyValueError::new_err("a packed batch cut short"))?;
        self.at += n;
        Ok(part)
    }

    fn text(&mut self) -> PyResult<Option<&'a str>> {
        let n = u32::from_le_bytes(self.take(4)?.try_into().unwrap());
        if n == u32::MAX {
            return Ok(None);
        }
        std::str::from_utf8(self.take(n as usize)?).map(Some)
            .map_err(|_| pyo3::exceptions::PyValueError::new_err("a packed batch's text is not UTF-8"))
    }

    fn required(&mut self) -> PyResult<&'a str> {
        self.text()?.ok_or_else(|| pyo3::exceptions::PyValueError::new_err("a packed batch lacks a text"))
    }
}

// ------------------------------------------------------------------------------------------------ noting ---

/// One record as read, by the compiled reader (from a packed batch, or its own read, whose texts are moved here
/// rather than copied) or by the Python one (its tuple).
struct Noted<'a> {
    stream: &'a str,
    version: i128,
    event_id: Cow<'a, str>,
    hash: Cow<'a, str>,
    prev: Cow<'a, str>,
    event_type: &'a str,
    source: &'a str,
    signature: Carried,
    kid: Carried,
    holds: bool,
    parsed: Option<Py<PyAny>>,
    exact: bool,
}

/// A record's value: the very `bytes` Kafka gave the Python reader, or one fetched here (kept as it came, made a
/// `bytes` only when Python asks for it).
enum Raw<'a, 'py> {
    Python(&'a Bound<'py, PyBytes>),
    Fetched(Vec<u8>),
}

/// A kept record's value, as `Raw` gave it.
enum KeptRaw {
    Python(Py<PyBytes>),
    Fetched(Arc<Vec<u8>>),
}

impl KeptRaw {
    fn to_object(&self, py: Python<'_>) -> Py<PyBytes> {
        match self {
            KeptRaw::Python(value) => value.clone_ref(py),
            KeptRaw::Fetched(value) => PyBytes::new(py, value).unbind(),
        }
    }

    /// The value for a thread of our own (a copy only of what the Python reader gave: the aiokafka read).
    fn shared(&self, py: Python<'_>) -> Arc<Vec<u8>> {
        match self {
            KeptRaw::Python(value) => Arc::new(value.as_bytes(py).to_vec()),
            KeptRaw::Fetched(value) => Arc::clone(value),
        }
    }
}

/// Where a record was read: its topic (a number of `Chains::topic_names`), partition and offset, written out as
/// `topic/partition@offset` only where a finding or the signature check names it (formatting it for every record
/// was a tenth of the main thread's time in the read).
#[derive(Clone, Copy)]
struct Place {
    topic: u32,
    partition: i64,
    offset: i64,
}

/// What the check needs of an event type, looked up once per type rather than once per record.
struct TypeFacts {
    keep: bool,
    topic: Option<Box<str>>, // the registry's topic for the type (short name); None: an unknown type
}

/// What a read event leaves in the check: enough to name it, link it, sign it.
struct Event {
    stream: u32,
    event_id: Box<str>,
    hash: Box<str>,
    prev: Box<str>,
    place: Place,
    source: u32,
    signature: Carried,
    kid: Carried,
}

struct Kept {
    event: u32,
    version: i128,
    event_type: u32,
    raw: KeptRaw,
    parsed: Option<Py<PyAny>>,
    exact: bool,
}

struct Finding {
    check: &'static str,
    subject: String,
    message: String,
    event_ids: Vec<String>,
}

/// Names met many times (streams, sources, types, topics), each kept once and referred to by number.
#[derive(Default)]
struct Names {
    names: Vec<Box<str>>,
    numbers: HashMap<Box<str>, u32>,
}

impl Names {
    fn number(&mut self, name: &str) -> (u32, bool) {
        if let Some(&number) = self.numbers.get(name) {
            return (number, false);
        }
        let number = self.names.len() as u32;
        self.names.push(name.into());
        self.numbers.insert(name.into(), number);
        (number, true)
    }

    fn name(&self, number: u32) -> &str {
        &self.names[number as usize]
    }
}

#[pyclass(module = "binhchon_audit_core")]
pub struct Chains {
    prefix: String,
    topics: HashMap<String, String>,
    keep: HashSet<String>,
    events: Vec<Event>,
    streams: Names,
    versions: Vec<BTreeMap<i128, Vec<u32>>>, // per stream number: version -> its copies (event numbers)
    sources: Names,
    types: Names, // every event type met, numbered; what the check needs of each in `type_facts`
    type_facts: Vec<TypeFacts>,
    topic_names: Names, // the topics read, by their full names (`Place`)
    per_topic: Names,
    per_topic_counts: Vec<u64>,
    log_order: Vec<HashMap<(u32, i128), (i64, u32)>>, // per source number: (stream, version) -> first copy
    findings: Vec<Finding>,
    kept: Vec<Kept>,
    checkpoints: Vec<Py<PyAny>>,
}

impl Chains {
    fn finding(&mut self, check: &'static str, subject: &str, message: String, event_ids: Vec<String>) {
        let event_ids = event_ids.into_iter().filter(|id| !id.is_empty()).collect();
        self.findings.push(Finding { check, subject: subject.to_owned(), message, event_ids });
    }

    /// The numbers of a topic read: of its full name (`Place`) and of its short one (the counts per topic).
    fn topic_numbers(&mut self, topic: &str) -> (u32, u32) {
        let (full, _) = self.topic_names.number(topic);
        let short = topic.strip_prefix(self.prefix.as_str()).unwrap_or(topic);
        let (short, new) = self.per_topic.number(short);
        if new {
            self.per_topic_counts.push(0);
        }
        (full, short)
    }

    fn place_text(&self, place: Place) -> String {
        format!("{}/{}@{}", self.topic_names.name(place.topic), place.partition, place.offset)
    }

    /// The number of an event type; what the check needs of it is `type_facts` at that number.
    fn event_type(&mut self, event_type: &str) -> u32 {
        let (number, new) = self.types.number(event_type);
        if new {
            self.type_facts.push(TypeFacts { keep: self.keep.contains(event_type),
                                             topic: self.topics.get(event_type).map(|t| t.as_str().into()) });
        }
        number
    }

    fn note(&mut self, py: Python<'_>, raw: Raw<'_, '_>, short: u32, place: Place, timestamp: i64,
            read: Noted<'_>) -> PyResult<()> {
        self.per_topic_counts[short as usize] += 1;
        let event_type = self.event_type(read.event_type);
        let facts = &self.type_facts[event_type as usize];
        let keep = facts.keep;
        if read.event_type == CHECKPOINT_TYPE {
            self.checkpoints.push(read.parsed.as_ref().map_or_else(|| py.None(), |p| p.clone_ref(py)));
        } else {
            // compared where it is kept (a copy of the expected topic per record was an allocation per record)
            let short = self.per_topic.name(short);
            let message = match facts.topic.as_deref() {
                None => {
                    let named = PyString::new(py, read.event_type).repr()?.to_str()?.to_owned();
                    Some(format!("unknown event type {named} at {}", self.place_text(place)))
                }
                Some(expected) if expected != short => {
                    Some(format!("{} belongs on {expected}, found on {short} at {}", read.event_type,
                                 self.place_text(place)))
                }
                Some(_) => None,
            };
            if let Some(message) = message {
                self.finding("type", read.stream, message, vec![read.event_id.to_string()]);
            }
        }
        let number = self.events.len() as u32;
        let (stream, new) = self.streams.number(read.stream);
        if new {
            self.versions.push(BTreeMap::new());
        }
        if keep {
            let raw = match raw {
                Raw::Python(value) => KeptRaw::Python(value.clone().unbind()),
                Raw::Fetched(value) => KeptRaw::Fetched(Arc::new(value)),
            };
            self.kept.push(Kept { event: number, version: read.version, event_type, raw,
                                  parsed: read.parsed.as_ref().map(|p| p.clone_ref(py)), exact: read.exact });
        }
        self.versions[stream as usize].entry(read.version).or_default().push(number);
        let (source, new) = self.sources.number(read.source);
        if new {
            self.log_order.push(HashMap::new());
        }
        let first = self.log_order[source as usize].entry((stream, read.version)).or_insert((timestamp, number));
        if timestamp < first.0 {
            *first = (timestamp, number);
        }
        if !read.holds {
            let message = format!("content does not match its hash at {}", self.place_text(place));
            self.finding("hash", read.stream, message, vec![read.event_id.to_string()]);
        }
        self.events.push(Event { stream, event_id: read.event_id.into(), hash: read.hash.into(),
                                 prev: read.prev.into(), place, source, signature: read.signature, kid: read.kid });
        Ok(())
    }

    fn note_python(&mut self, py: Python<'_>, raw: Raw<'_, '_>, short: u32, place: Place,
                   timestamp: i64, answer: &Bound<'_, PyAny>) -> PyResult<()> {
        if answer.is_none() {
            self.finding("unreadable", &self.place_text(place), "not a binhchon CloudEvent".to_owned(), vec![]);
            return Ok(());
        }
        let carried = |value: Bound<'_, PyAny>| -> PyResult<Carried> {
            Ok(if value.is_none() {
                Carried::Absent
            } else if let Ok(text) = value.cast::<PyString>() {
                Carried::Text(text.to_str()?.into())
            } else {
                Carried::Object(value.unbind())
            })
        };
        let stream: String = answer.get_item(0)?.extract()?;
        let event_id: String = answer.get_item(2)?.extract()?;
        let version: i128 = match answer.get_item(1)?.extract() {
            Ok(version) => version,
            Err(error) if error.is_instance_of::<pyo3::exceptions::PyOverflowError>(py) => {
                // a version beyond 2^127 (a forged event): named here rather than among the stream's gaps
                let message = format!("version {} is beyond any stream's ({})", answer.get_item(1)?,
                                      self.place_text(place));
                self.finding("chain", &stream, message, vec![event_id]);
                return Ok(());
            }
            Err(error) => return Err(error),
        };
        let (hash, prev, event_type, source): (String, String, String, String) =
            (answer.get_item(3)?.extract()?, answer.get_item(4)?.extract()?, answer.get_item(5)?.extract()?,
             answer.get_item(6)?.extract()?);
        let parsed = answer.get_item(10)?;
        let noted = Noted {
            stream: &stream,
            version,
            event_id: Cow::Owned(event_id),
            hash: Cow::Owned(hash),
            prev: Cow::Owned(prev),
            event_type: &event_type,
            source: &source,
            signature: carried(answer.get_item(7)?)?,
            kid: carried(answer.get_item(8)?)?,
            holds: answer.get_item(9)?.extract()?,
            parsed: if parsed.is_none() { None } else { Some(parsed.unbind()) },
            exact: answer.get_item(11)?.extract()?,
        };
        self.note(py, raw, short, place, timestamp, noted)
    }
}

#[pymethods]
impl Chains {
    /// `topics`: each event type's topic (the registry's); `keep`: the types whose raw records the other checks
    /// read again.
    #[new]
    fn new(prefix: String, topics: HashMap<String, String>, keep: Vec<String>) -> Self {
        Chains {
            prefix,
            topics,
            keep: keep.into_iter().collect(),
            events: Vec::new(),
            streams: Names::default(),
            versions: Vec::new(),
            sources: Names::default(),
            types: Names::default(),
            type_facts: Vec::new(),
            topic_names: Names::default(),
            per_topic: Names::default(),
            per_topic_counts: Vec::new(),
            log_order: Vec::new(),
            findings: Vec::new(),
            kept: Vec::new(),
            checkpoints: Vec::new(),
        }
    }

    /// A batch of records (`topic_history.Record`s) noted in order, from what `read_packed` answered for their
    /// values and the Python reader's answers (`read_value`'s tuples) for the records it left, in their order.
    fn take(&mut self, py: Python<'_>, records: Vec<Bound<'_, PyAny>>, packed: &[u8], left: Vec<Bound<'_, PyAny>>)
            -> PyResult<()> {
        let mut unpacker = Unpacker { bytes: packed, at: 0 };
        let mut left = left.into_iter();
        for record in &records {
            let topic_object = record.getattr(intern!(py, "topic"))?;
            let topic = topic_object.cast::<PyString>()?.to_str()?;
            let partition: i64 = record.getattr(intern!(py, "partition"))?.extract()?;
            let offset: i64 = record.getattr(intern!(py, "offset"))?.extract()?;
            let timestamp: i64 = record.getattr(intern!(py, "timestamp"))?.extract()?;
            let value = record.getattr(intern!(py, "value"))?;
            let raw = value.cast::<PyBytes>()?;
            let (full, short) = self.topic_numbers(topic);
            let place = Place { topic: full, partition, offset };
            if unpacker.take(1)?[0] == 1 {
                let answer = left.next()
                    .ok_or_else(|| pyo3::exceptions::PyValueError::new_err("fewer answers than records left"))?;
                self.note_python(py, Raw::Python(raw), short, place, timestamp, &answer)?;
                continue;
            }
            let (stream, event_id, hash, prev) =
                (unpacker.required()?, unpacker.required()?, unpacker.required()?, unpacker.required()?);
            let (event_type, source) = (unpacker.required()?, unpacker.required()?);
            let carried = |text: Option<&str>| text.map_or(Carried::Absent, |t| Carried::Text(t.into()));
            let (signature, kid) = (carried(unpacker.text()?), carried(unpacker.text()?));
            let version = i64::from_le_bytes(unpacker.take(8)?.try_into().unwrap()) as i128;
            let flags = unpacker.take(2)?;
            let noted = Noted { stream, version, event_id: event_id.into(), hash: hash.into(), prev: prev.into(),
                                event_type, source, signature, kid, holds: flags[0] == 1, parsed: None,
                                exact: flags[1] == 1 };
            self.note(py, Raw::Python(raw), short, place, timestamp, noted)?;
        }
        if unpacker.at != packed.len() || left.next().is_some() {
            return Err(pyo3::exceptions::PyValueError::new_err("a packed batch longer than its records"));
        }
        Ok(())
    }

    /// A partition's fetch (`TopicReader`) noted in order, from its reader's answers and the Python reader's
    /// (`read_value`'s tuples) for the records it left, in their order (`Fetched.left`).
    /// Its records' values are taken from it (those kept stay here as they came, without a copy).
    fn take_fetched(&mut self, py: Python<'_>, mut fetched: PyRefMut<'_, Fetched>, left: Vec<Bound<'_, PyAny>>)
                    -> PyResult<()> {
        let mut left = left.into_iter();
        let records = std::mem::take(&mut fetched.records);
        let reads = std::mem::take(&mut fetched.reads);
        let (full, short) = self.topic_numbers(&fetched.topic);
        let partition = fetched.partition as i64;
        for ((offset, timestamp, value), read) in records.into_iter().zip(reads) {
            let place = Place { topic: full, partition, offset };
            let Some(r) = read else {
                let answer = left.next()
                    .ok_or_else(|| pyo3::exceptions::PyValueError::new_err("fewer answers than records left"))?;
                self.note_python(py, Raw::Fetched(value), short, place, timestamp, &answer)?;
                continue;
            };
            let carried = |text: Option<String>| text.map_or(Carried::Absent, |t| Carried::Text(t.into()));
            let noted = Noted { stream: &r.stream, version: r.version as i128, event_id: Cow::Owned(r.id),
                                hash: Cow::Owned(r.hash), prev: Cow::Owned(r.prev), event_type: &r.event_type,
                                source: &r.source, signature: carried(r.signature), kid: carried(r.kid),
                                holds: r.holds, parsed: None, exact: r.exact };
            self.note(py, Raw::Fetched(value), short, place, timestamp, noted)?;
        }
        if left.next().is_some() {
            return Err(pyo3::exceptions::PyValueError::new_err("more answers than records left"));
        }
        Ok(())
    }

    /// Every stream checked: its versions 1..n, each linked to the one before, a version claimed by different
    /// events named. Answers the findings (check, subject, message, event ids) in the order found, and the counts.
    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyDict>)> {
        let mut duplicates = 0usize;
        let mut found: Vec<(&'static str, String, String, Vec<String>)> = Vec::new();
        for (number, versions) in self.versions.iter().enumerate() {
            let stream = self.streams.name(number as u32);
            let mut prev_hash: &str = GENESIS;
            for (expected, (&version, copies)) in (1i128..).zip(versions.iter()) {
                let copies: Vec<&Event> = copies.iter().map(|&n| &self.events[n as usize]).collect();
                let first = copies[0];
                let distinct = if copies.len() > 1 {
                    copies.iter().map(|c| (&c.event_id, &c.hash, &c.prev)).collect::<HashSet<_>>().len()
                } else {
                    1
                };
                duplicates += copies.len() - distinct;
                if distinct > 1 {
                    let places: Vec<String> = copies.iter().map(|c| self.place_text(c.place)).collect();
                    let ids: BTreeSet<&str> = copies.iter().map(|c| &*c.event_id).collect();
                    found.push(("chain", stream.to_owned(),
                                format!("{distinct} different events claim version {version} ({})", places.join(", ")),
                                ids.into_iter().map(str::to_owned).collect()));
                }
                if version != expected {
                    found.push(("chain", stream.to_owned(),
                                format!("version {version} where {expected} was expected (events {expected}..{} are \
                                         missing)", version - 1), vec![first.event_id.to_string()]));
                    prev_hash = &first.prev;
                }
                if *first.prev != *prev_hash {
                    found.push(("chain", stream.to_owned(),
                                format!("v{version} does not link to the event before it ({})",
                                        self.place_text(first.place)),
                                vec![first.event_id.to_string()]));
                }
                prev_hash = &first.hash;
            }
        }
        for (check, subject, message, ids) in found {
            self.finding(check, &subject, message, ids);
        }
        let findings = PyList::empty(py);
        for f in &self.findings {
            findings.append((f.check, &f.subject, &f.message, PyTuple::new(py, &f.event_ids)?))?;
        }
        let counts = PyDict::new(py);
        counts.set_item("events", self.events.len())?;
        counts.set_item("streams", self.versions.len())?;
        counts.set_item("duplicate_deliveries", duplicates)?;
        let per_topic = PyDict::new(py);
        // (a topic read whose records were all unreadable has a number and no count, as in the Python check)
        for (number, &count) in self.per_topic_counts.iter().enumerate().filter(|(_, &count)| count > 0) {
            per_topic.set_item(self.per_topic.name(number as u32), count)?;
        }
        counts.set_item("per_topic", per_topic)?;
        Ok((findings, counts))
    }

    /// The kept records (of the types `of`, when given) as `audit_chain.Kept` tuples, in the order read.
    #[pyo3(signature = (of=None))]
    fn kept<'py>(&self, py: Python<'py>, of: Option<HashSet<String>>) -> PyResult<Bound<'py, PyList>> {
        let streams: Vec<Bound<'py, PyString>> = self.streams.names.iter().map(|s| PyString::new(py, s)).collect();
        let types: Vec<Bound<'py, PyString>> = self.types.names.iter().map(|s| PyString::new(py, s)).collect();
        let wanted: Vec<bool> = self.types.names.iter().map(|t| of.as_ref().is_none_or(|of| of.contains(&**t))).collect();
        let out = PyList::empty(py);
        for k in self.kept.iter().filter(|k| wanted[k.event_type as usize]) {
            let parsed = k.parsed.as_ref().map_or_else(|| py.None(), |p| p.clone_ref(py));
            let stream = &streams[self.events[k.event as usize].stream as usize];
            out.append((stream, k.version, &types[k.event_type as usize], k.raw.to_object(py), parsed, k.exact))?;
        }
        Ok(out)
    }

    /// The streams holding a decision (a kept record of a type in `decisions`), each as `audit_decisions.Log`
    /// makes it (its kept records, the first copy of each version, in version order; the streams in the order
    /// first read), confirmed by `decider` on `threads` threads of their own while the caller goes on.
    fn confirm_decisions(&self, py: Python<'_>, decider: PyRef<'_, Decider>, decisions: HashSet<String>,
                         threads: usize) -> Confirming {
        let mut order: Vec<u32> = Vec::new();
        let mut by_stream: HashMap<u32, BTreeMap<i128, usize>> = HashMap::new();
        for (at, k) in self.kept.iter().enumerate() {
            let stream = self.events[k.event as usize].stream;
            let versions = by_stream.entry(stream).or_insert_with(|| {
                order.push(stream);
                BTreeMap::new()
            });
            versions.entry(k.version).or_insert(at);
        }
        let decided: Vec<bool> = self.types.names.iter().map(|t| decisions.contains(&**t)).collect();
        let mut work: Vec<Decided> = Vec::new();
        for stream in order {
            let versions = &by_stream[&stream];
            if !versions.values().any(|&at| decided[self.kept[at].event_type as usize]) {
                continue;
            }
            work.push(Decided {
                name: self.streams.name(stream).to_owned(),
                raws: versions.values().map(|&at| self.kept[at].raw.shared(py)).collect(),
                exact: versions.values().all(|&at| self.kept[at].exact),
            });
        }
        Confirming::start(Arc::clone(&decider.core), work, threads.max(1))
    }

    /// The checkpoints read (their parsed events), in the order read.
    fn checkpoints<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.checkpoints.iter().map(|c| c.clone_ref(py)))
    }

    /// Each service's first copies: origin → [(timestamp, stream, version, event id, hash)].
    fn log_order<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let streams: Vec<Bound<'py, PyString>> = self.streams.names.iter().map(|s| PyString::new(py, s)).collect();
        let out = PyDict::new(py);
        for (source, copies) in self.log_order.iter().enumerate() {
            let list = PyList::empty(py);
            for (&(stream, version), &(timestamp, number)) in copies {
                let event = &self.events[number as usize];
                list.append((timestamp, &streams[stream as usize], version, &*event.event_id, &*event.hash))?;
            }
            out.set_item(self.sources.name(source as u32), list)?;
        }
        Ok(out)
    }

    /// How many events each source published (the signatures' count when no log key is given).
    fn sources<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let mut counts = vec![0u64; self.sources.names.len()];
        for e in &self.events {
            counts[e.source as usize] += 1;
        }
        let out = PyDict::new(py);
        for (name, count) in self.sources.names.iter().zip(counts) {
            out.set_item(&**name, count)?;
        }
        Ok(out)
    }

    /// What the signature check reads of each event: (source, stream, id, hash, signature, kid, where).
    fn signed<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let streams: Vec<Bound<'py, PyString>> = self.streams.names.iter().map(|s| PyString::new(py, s)).collect();
        let sources: Vec<Bound<'py, PyString>> = self.sources.names.iter().map(|s| PyString::new(py, s)).collect();
        let out = PyList::empty(py);
        for e in &self.events {
            out.append((&sources[e.source as usize], &streams[e.stream as usize], &*e.event_id, &*e.hash,
                        e.signature.to_object(py), e.kid.to_object(py), self.place_text(e.place)))?;
        }
        Ok(out)
    }
}

/// Each record read and hashed, the GIL released meanwhile, packed for `Chains.take`: one `bytes` for the batch,
/// and the indices of the records left to the Python reader (`leave`: the types it reads; checkpoints always).
#[pyfunction]
pub fn read_packed<'py>(py: Python<'py>, values: Vec<Bound<'py, PyBytes>>, leave: Vec<String>)
                        -> (Bound<'py, PyBytes>, Vec<usize>) {
    let mut leave: HashSet<String> = leave.into_iter().collect();
    leave.insert(CHECKPOINT_TYPE.to_owned());
    let slices: Vec<&[u8]> = values.iter().map(|value| value.as_bytes()).collect();
    let (packed, left) = py.detach(|| {
        let reads: Vec<Option<Read>> = slices.iter().map(|value| read_one(value, &leave)).collect();
        let left: Vec<usize> = reads.iter().enumerate().filter(|(_, r)| r.is_none()).map(|(i, _)| i).collect();
        (pack(&reads), left)
    });
    (PyBytes::new(py, &packed), left)
}
