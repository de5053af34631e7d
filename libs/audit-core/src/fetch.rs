//! The topics read from Kafka and their records read and hashed here, on threads of our own, the GIL released:
//! what `binhchon_kit.topic_history.read_records` reads with aiokafka (every record of every partition from the
//! earliest offset up to where the partition ended when the read began, no consumer group), handed to the main
//! process a partition's fetch at a time with `read_one`'s answers beside each record (docs/adr/0059,
//! 2026-12-01 evening).
//!
//! It reads only where its read is aiokafka's. Anything it cannot read as aiokafka would (a record batch
//! compressed, a transaction's markers, a broker that refuses or stops answering) ends the read with an error,
//! and the caller reads the topics again with aiokafka from the start.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use rskafka::client::partition::{OffsetAt, UnknownTopicHandling};
use rskafka::client::{ClientBuilder, Credentials, SaslConfig};
use rskafka::record::RecordAndOffset;
use rskafka::BackoffConfig;
use std::collections::HashSet;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::chains::CHECKPOINT_TYPE;
use crate::{read_one, Read};

/// The largest fetch asked of the broker for one partition: aiokafka's default `max_partition_fetch_bytes` (the
/// Python reader asks 16 MiB). Each answer is one buffer; at 16 MiB the 31 partitions' buffers were fresh memory
/// on every fetch (a fifth of the reading threads' time in page faults and zeroing); at 1 MiB they are reused. A
/// record batch larger than this still comes whole (the broker always answers with the first batch).
const FETCH_BYTES: i32 = 1024 * 1024;
/// How long a request is retried before the read gives up and aiokafka reads instead: short, as aiokafka then
/// retries as it always has (a wrong password is retried too: ~1.5 s lost).
const GIVE_UP: Duration = Duration::from_secs(1);
/// How long one request may go unanswered (rskafka sets no limit of its own; aiokafka's is 40 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// One partition's fetch: each record where it sits, its value, and what `read_one` answered for it.
#[pyclass(module = "binhchon_audit_core")]
pub struct Fetched {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) records: Vec<(i64, i64, Vec<u8>)>, // offset, timestamp (ms), value
    pub(crate) reads: Vec<Option<Read>>,
}

#[pymethods]
impl Fetched {
    fn __len__(&self) -> usize {
        self.records.len()
    }

    #[getter]
    fn topic(&self) -> &str {
        &self.topic
    }

    #[getter]
    fn partition(&self) -> i32 {
        self.partition
    }

    /// Its records as aiokafka's read gives them: (offset, timestamp in ms, value) each, in order.
    fn records<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for (offset, timestamp, value) in &self.records {
            out.append((*offset, *timestamp, PyBytes::new(py, value)))?;
        }
        Ok(out)
    }

    /// The records its reader left to the Python one: (their index, their value).
    fn left<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for (index, read) in self.reads.iter().enumerate() {
            if read.is_none() {
                out.append((index, PyBytes::new(py, &self.records[index].2)))?;
            }
        }
        Ok(out)
    }
}

enum Message {
    Started(u64, Vec<String>),
    Batch(Fetched),
    Failed(String),
    Done,
}

/// The sign-in aiokafka is given (`binhchon_kit.principals.client_options`): SCRAM-SHA-512 when a user is named,
/// TLS trusting `ca_pem` alone when given, host names checked.
#[pyclass(module = "binhchon_audit_core")]
pub struct TopicReader {
    receiver: Mutex<Receiver<Message>>,
    // joined once the read has ended: no thread of ours is left when the caller forks its worker processes
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

#[pymethods]
impl TopicReader {
    #[new]
    #[pyo3(signature = (bootstrap, topics, username=None, password=None, ca_pem=None, leave=Vec::new(),
                        timeout=REQUEST_TIMEOUT.as_secs_f64()))]
    fn new(bootstrap: Vec<String>, topics: Vec<String>, username: Option<String>, password: Option<String>,
           ca_pem: Option<Vec<u8>>, leave: Vec<String>, timeout: f64) -> PyResult<Self> {
        let timeout = Duration::try_from_secs_f64(timeout)
            .map_err(|_| PyRuntimeError::new_err("a request's timeout must be a positive number of seconds"))?;
        let tls = match ca_pem {
            None => None,
            Some(pem) => Some(tls_config(&pem).map_err(PyRuntimeError::new_err)?),
        };
        let sasl = match (username, password) {
            (Some(username), Some(password)) => Some(SaslConfig::ScramSha512(Credentials::new(username, password))),
            (None, None) => None,
            _ => return Err(PyRuntimeError::new_err("a user without a password, or a password without a user")),
        };
        let mut leave: HashSet<String> = leave.into_iter().collect();
        leave.insert(CHECKPOINT_TYPE.to_owned());
        let (sender, receiver) = channel();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("audit-read")
            .enable_all()
            .build()
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        let thread = std::thread::spawn(move || {
            let outcome = runtime.block_on(read(bootstrap, topics, tls, sasl, Arc::new(leave), timeout,
                                                sender.clone()));
            runtime.shutdown_timeout(Duration::from_secs(5)); // its threads ended before the read is said over
            let _ = sender.send(match outcome {
                Ok(()) => Message::Done,
                Err(error) => Message::Failed(error),
            });
        });
        Ok(TopicReader { receiver: Mutex::new(receiver), thread: Mutex::new(Some(thread)) })
    }

    /// How many records the read will give, and the topics that do not exist (read as empty).
    fn start(&self, py: Python<'_>) -> PyResult<(u64, Vec<String>)> {
        match self.next_message(py)? {
            Message::Started(total, missing) => Ok((total, missing)),
            _ => Err(PyRuntimeError::new_err("the read did not start")),
        }
    }

    /// The next partition's fetch, or `None` once every partition is read to its end. Raises where the read
    /// cannot go on as aiokafka's would.
    fn next(&self, py: Python<'_>) -> PyResult<Option<Fetched>> {
        match self.next_message(py)? {
            Message::Batch(fetched) => Ok(Some(fetched)),
            Message::Done => Ok(None),
            _ => Err(PyRuntimeError::new_err("the read started twice")),
        }
    }
}

impl TopicReader {
    fn next_message(&self, py: Python<'_>) -> PyResult<Message> {
        let received = py.detach(|| match self.receiver.lock() {
            Ok(receiver) => receiver.recv().ok(),
            Err(_) => None,
        });
        if matches!(received, Some(Message::Done) | Some(Message::Failed(_)) | None) {
            let thread = self.thread.lock().ok().and_then(|mut held| held.take());
            if let Some(thread) = thread {
                py.detach(|| { let _ = thread.join(); });
            }
        }
        match received {
            Some(Message::Failed(error)) => Err(PyRuntimeError::new_err(error)),
            Some(message) => Ok(message),
            None => Err(PyRuntimeError::new_err("the read ended early")),
        }
    }
}

fn tls_config(pem: &[u8]) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(pem) {
        roots.add(certificate.map_err(|e| format!("the CA file: {e}"))?).map_err(|e| format!("the CA: {e}"))?;
    }
    if roots.is_empty() {
        return Err("the CA file holds no certificate".to_owned());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// `request` answered within `timeout`, its error named after `what`.
async fn within<T, E: std::fmt::Display>(what: &str, timeout: Duration,
                                         request: impl std::future::Future<Output = Result<T, E>>)
                                         -> Result<T, String> {
    match tokio::time::timeout(timeout, request).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(error)) => Err(format!("{what}: {error}")),
        Err(_) => Err(format!("{what}: no answer in {:.0} s", timeout.as_secs_f64())),
    }
}

async fn read(bootstrap: Vec<String>, topics: Vec<String>, tls: Option<Arc<rustls::ClientConfig>>,
              sasl: Option<SaslConfig>, leave: Arc<HashSet<String>>, timeout: Duration, sender: Sender<Message>)
              -> Result<(), String> {
    let backoff = BackoffConfig { deadline: Some(GIVE_UP), ..BackoffConfig::default() };
    let mut builder = ClientBuilder::new(bootstrap).client_id("binhchon-audit").backoff_config(backoff);
    if let Some(tls) = tls {
        builder = builder.tls_config(tls);
    }
    if let Some(sasl) = sasl {
        builder = builder.sasl_config(sasl);
    }
    let client = Arc::new(within("Kafka", timeout, builder.build()).await?);
    let cluster = within("Kafka's topics", timeout, client.list_topics()).await?;
    let mut partitions = Vec::new();
    let mut missing = Vec::new();
    for topic in &topics {
        match cluster.iter().find(|t| &t.name == topic) {
            None => missing.push(topic.clone()),
            Some(found) => partitions.extend(found.partitions.iter().map(|&p| (topic.clone(), p))),
        }
    }
    // each partition's range first, as aiokafka's end offsets, and then its records: every partition on its own,
    // at once (one after the other, their round trips were half a second of a verify; all ranges before any
    // read, the reading waited for the slowest partition's sign-in). The end is the high watermark a fetch
    // reports, as aiokafka's read-uncommitted end offset, not rskafka's "latest" (the last stable offset, short of
    // an open transaction's records): reading committed records only, the read then stops short of that end, and
    // aiokafka reads instead. The fetches wait here until every range is known and the total said.
    let (ranges, mut ranged) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let (fetches, mut fetched) = tokio::sync::mpsc::unbounded_channel::<Fetched>();
    let count = partitions.len();
    let mut tasks = Vec::with_capacity(count);
    for (topic, partition) in partitions {
        let (client, ranges, fetches, leave) = (Arc::clone(&client), ranges.clone(), fetches.clone(),
                                                Arc::clone(&leave));
        tasks.push(tokio::spawn(async move {
            let what = format!("{topic}/{partition}");
            let part = within(&what, timeout,
                              client.partition_client(topic.as_str(), partition, UnknownTopicHandling::Error)).await?;
            let start = within(&what, timeout, part.get_offset(OffsetAt::Earliest)).await?;
            // the first fetch, not waiting for records, says the watermark beside its records (two requests
            // fewer per partition than asking the last stable offset and then the watermark there)
            let (first, end) = within(&what, timeout, part.fetch_records(start, 1..FETCH_BYTES, 0)).await?;
            let _ = ranges.send((end - start).max(0) as u64);
            drop(ranges);
            read_partition(part, start, end, first, &leave, timeout, &fetches).await
        }));
    }
    drop((ranges, fetches));
    let mut total = 0;
    for _ in 0..count {
        match ranged.recv().await {
            Some(records) => total += records,
            None => break, // a partition failed before its range: its task says why below
        }
    }
    let said = sender.send(Message::Started(total, missing));
    while let Some(batch) = fetched.recv().await {
        if said.is_ok() {
            sender.send(Message::Batch(batch)).map_err(|_| "the reader was dropped".to_owned())?;
        }
    }
    for task in tasks {
        task.await.map_err(|e| e.to_string())??;
    }
    said.map_err(|_| "the reader was dropped".to_owned())
}

/// A partition's records from `start` to `end`, the first fetch's (`first`, asked at `start`) given.
async fn read_partition(part: rskafka::client::partition::PartitionClient, start: i64, end: i64,
                        first: Vec<RecordAndOffset>, leave: &HashSet<String>, timeout: Duration,
                        sender: &tokio::sync::mpsc::UnboundedSender<Fetched>) -> Result<(), String> {
    let (topic, partition) = (part.topic().to_owned(), part.partition());
    let mut offset = start;
    let mut first = Some(first);
    while offset < end {
        let records = match first.take() {
            Some(records) => records,
            None => {
                let what = format!("{topic}/{partition}@{offset}");
                within(&what, timeout, part.fetch_records(offset, 1..FETCH_BYTES, 1_000)).await?.0
            }
        };
        let mut kept = Vec::with_capacity(records.len());
        for r in records {
            if r.offset >= end {
                break;
            }
            if r.offset < offset {
                continue;
            }
            offset = r.offset + 1;
            kept.push((r.offset, r.record.timestamp.timestamp_millis(), r.record.value.unwrap_or_default()));
        }
        if kept.is_empty() {
            // no record before the end: a transaction's markers or its records not yet committed
            return Err(format!("{topic}/{partition}@{offset}: no record where {end} was expected"));
        }
        let reads = kept.iter().map(|(_, _, value)| read_one(value, leave)).collect();
        let fetched = Fetched { topic: topic.clone(), partition, records: kept, reads };
        sender.send(fetched).map_err(|_| "the read was given up".to_owned())?;
    }
    Ok(())
}
