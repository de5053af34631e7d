//! The topics read from Kafka and their records read and hashed here, on threads of our own, the GIL released:
//! what `binhchon_kit.topic_history.read_records` reads with aiokafka (every record of every partition from the
//! earliest offset up to where the partition ended when the read began, no consumer group), handed to the main
//! process a partition's fetch at a time with `read_one`'s answers beside each record (docs/adr/0059,
//! 2026-12-01 evening). It speaks Kafka's protocol through rskafka's messenger and messages (public under its
//! `unstable-fuzzing` feature, the version pinned): one signed-in connection per broker, each fetch asking for
//! every partition the broker leads, as aiokafka's consumer does (2026-12-02 morning).
//!
//! It reads only where its read is aiokafka's. Anything it cannot read as aiokafka would (a record batch
//! compressed, a transaction's markers, a broker that refuses or stops answering) ends the read with an error,
//! and the caller reads the topics again with aiokafka from the start.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use rskafka::client::{Credentials, SaslConfig};
use rskafka::messenger::Messenger;
use rskafka::protocol::messages::{FetchRequest, FetchRequestPartition, FetchRequestTopic, IsolationLevel,
                                  ListOffsetsRequest, ListOffsetsRequestPartition, ListOffsetsRequestTopic,
                                  MetadataRequest};
use rskafka::protocol::primitives::{Int32, Int64, String_};
use rskafka::protocol::record::{ControlBatchOrRecords, RecordBatchTimestampType};
use rustls::pki_types::ServerName;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;

use crate::chains::CHECKPOINT_TYPE;
use crate::{read_one, Read};

/// The largest part of a fetch's answer for one partition: aiokafka's default `max_partition_fetch_bytes` (the
/// Python reader asks 16 MiB). Each partition's records are copied out of the answer into one buffer; at 16 MiB
/// those were fresh memory on every fetch (a fifth of the reading threads' time in page faults and zeroing); at
/// 1 MiB they are reused. A record batch larger than this still comes whole (the broker always answers with the
/// first batch).
const FETCH_BYTES: i32 = 1024 * 1024;
/// The most a broker answers to one fetch (its `max_bytes`, KIP-74), each partition's records in it read on the
/// runtime's threads while the next fetch is asked. At 4 MiB the broker's CPU for the requests was twice what it
/// is at 16; 32 and 64 MiB read no faster and kept more memory (ADR 0059, 2026-12-02 morning).
const RESPONSE_BYTES: i32 = 16 * FETCH_BYTES;
/// The largest answer taken from a broker (rskafka's client's default).
const MAX_MESSAGE: usize = 100 * 1024 * 1024;
/// How long one request may go unanswered (rskafka sets no limit of its own; aiokafka's is 40 s). A request that
/// fails is not retried: the read ends and aiokafka reads instead, retrying as it always has.
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

    /// The values of its records of `types` that its reader read exact (`orjson.loads` of them gives the value
    /// `read_json` gives): what the log's index will read, parsed by the main thread while the read goes on.
    fn exact_values_of<'py>(&self, py: Python<'py>, types: HashSet<String>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for ((_, _, value), read) in self.records.iter().zip(&self.reads) {
            if let Some(read) = read {
                if read.exact && types.contains(&read.event_type) {
                    out.append(PyBytes::new(py, value))?;
                }
            }
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

/// A connection's byte stream: TCP, or TLS over it.
trait Wire: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Wire for T {}

/// One signed-in connection to one broker, its requests answered by correlation id (rskafka's messenger).
type Connection = Messenger<Box<dyn Wire>>;

/// A connection to `broker` ("host:port"): TCP, TLS when configured (the host's name checked), the API versions
/// agreed, signed in when configured: what rskafka's client does for each connection it opens.
async fn connect(broker: &str, tls: &Option<Arc<rustls::ClientConfig>>, sasl: &Option<SaslConfig>)
                 -> Result<Connection, String> {
    let tcp = TcpStream::connect(broker).await.map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    let wire: Box<dyn Wire> = match tls {
        None => Box::new(tcp),
        Some(config) => {
            let host = broker.rsplit_once(':').map_or(broker, |(host, _)| host);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let name = ServerName::try_from(host.to_owned()).map_err(|e| format!("{host}: {e}"))?;
            let tls = TlsConnector::from(Arc::clone(config)).connect(name, tcp).await.map_err(|e| e.to_string())?;
            Box::new(tls)
        }
    };
    let mut connection = Messenger::new(wire, MAX_MESSAGE, Arc::from("binhchon-audit"));
    connection.sync_versions().await.map_err(|e| e.to_string())?;
    if let Some(sasl) = sasl {
        connection.do_sasl(sasl.clone()).await.map_err(|e| e.to_string())?;
    }
    Ok(connection)
}

/// One partition being read: where it started and where it is (once its earliest offset is known), where it
/// ends (the high watermark, once the first fetch says it).
struct Partition {
    topic: String,
    partition: i32,
    start: Option<i64>,
    offset: i64,
    end: Option<i64>,
}

impl Partition {
    /// Whether records are still to be read: its end not yet known, or not reached.
    fn open(&self) -> bool {
        self.end.is_none_or(|end| self.offset < end)
    }
}

async fn read(bootstrap: Vec<String>, topics: Vec<String>, tls: Option<Arc<rustls::ClientConfig>>,
              sasl: Option<SaslConfig>, leave: Arc<HashSet<String>>, timeout: Duration, sender: Sender<Message>)
              -> Result<(), String> {
    // signed in once per broker, as aiokafka is: one connection to the first bootstrap address that answers, and
    // one to each other broker leading a partition (rskafka's client opened one per partition, each with its own
    // TLS handshake and SCRAM sign-in: a third of the broker's CPU in a verify, ADR 0059, 2026-12-02 morning)
    let mut first: Option<(String, Connection)> = None;
    let mut refused = Vec::new();
    for address in &bootstrap {
        match within(address, timeout, connect(address, &tls, &sasl)).await {
            Ok(connection) => {
                first = Some((address.clone(), connection));
                break;
            }
            Err(error) => refused.push(error),
        }
    }
    let (first_address, first) = first.ok_or_else(|| format!("Kafka: {}", refused.join("; ")))?;
    let metadata = within("Kafka's topics", timeout,
                          first.request(MetadataRequest { topics: None, allow_auto_topic_creation: None })).await?;
    let brokers: HashMap<i32, String> = metadata.brokers.iter()
        .map(|b| (b.node_id.0, format!("{}:{}", b.host.0, b.port.0))).collect();
    let mut by_leader: BTreeMap<i32, Vec<Partition>> = BTreeMap::new();
    let mut missing = Vec::new();
    for topic in &topics {
        let Some(found) = metadata.topics.iter().find(|t| &t.name.0 == topic) else {
            missing.push(topic.clone());
            continue;
        };
        if let Some(error) = &found.error {
            return Err(format!("{topic}: {error}"));
        }
        let mut partitions: Vec<_> = found.partitions.iter().collect();
        partitions.sort_by_key(|p| p.partition_index.0);
        for p in partitions {
            if let Some(error) = &p.error {
                return Err(format!("{topic}/{}: {error}", p.partition_index.0));
            }
            by_leader.entry(p.leader_id.0).or_default().push(Partition {
                topic: topic.clone(), partition: p.partition_index.0, start: None, offset: 0, end: None,
            });
        }
    }
    // each leader's partitions read on its own connection: their ranges first (earliest offsets, then a first
    // fetch that says each end), the total said once every range is known, then their records
    let (ranges, mut ranged) = tokio::sync::mpsc::unbounded_channel::<u64>();
    // a leader's fetches in order, or its failure: the read ends at the first, not after every other leader's
    // read (found by review)
    let (fetches, mut fetched) = tokio::sync::mpsc::unbounded_channel::<Result<JoinHandle<Fetched>, String>>();
    let leaders = by_leader.len();
    let mut first = Some(first);
    let mut tasks = Vec::with_capacity(leaders);
    for (leader, partitions) in by_leader {
        let address = brokers.get(&leader).cloned()
            .ok_or_else(|| format!("the leader {leader} of {}/{} is not among the brokers",
                                   partitions[0].topic, partitions[0].partition))?;
        let reused = if address == first_address { first.take() } else { None };
        let (tls, sasl, ranges, fetches, leave) = (tls.clone(), sasl.clone(), ranges.clone(), fetches.clone(),
                                                   Arc::clone(&leave));
        tasks.push(tokio::spawn(async move {
            let failed = fetches.clone();
            let outcome = async {
                let connection = match reused {
                    Some(connection) => connection,
                    None => within(&address, timeout, connect(&address, &tls, &sasl)).await?,
                };
                read_leader(connection, partitions, leave, timeout, ranges, fetches).await
            }.await;
            if let Err(error) = &outcome {
                let _ = failed.send(Err(error.clone()));
            }
            outcome
        }));
    }
    drop((first, ranges, fetches));
    let mut total = 0;
    for _ in 0..leaders {
        match ranged.recv().await {
            Some(records) => total += records,
            None => break, // a leader's read failed before its ranges: its task says why below
        }
    }
    let said = sender.send(Message::Started(total, missing));
    // handed on in the order fetched: a partition's records in their order (each fetch's reading runs on the
    // runtime's threads while the next fetch is asked)
    while let Some(reading) = fetched.recv().await {
        let batch = reading?.await.map_err(|e| e.to_string())?;
        if said.is_ok() {
            sender.send(Message::Batch(batch)).map_err(|_| "the reader was dropped".to_owned())?;
        }
    }
    for task in tasks {
        task.await.map_err(|e| e.to_string())??;
    }
    said.map_err(|_| "the reader was dropped".to_owned())
}

/// The partition an answer names, among those asked for.
fn asked_for<'a>(partitions: &'a mut [Partition], topic: &str, partition: i32) -> Result<&'a mut Partition, String> {
    partitions.iter_mut().find(|p| p.topic == topic && p.partition == partition)
        .ok_or_else(|| format!("{topic}/{partition}: answered, not asked"))
}

/// A fetch of `partitions` from their offsets (`wait_ms`: how long the broker may wait for records).
fn fetch_request(partitions: &[&Partition], wait_ms: i32) -> FetchRequest {
    let mut topics: Vec<FetchRequestTopic> = Vec::new();
    for p in partitions {
        let asked = FetchRequestPartition {
            partition: Int32(p.partition), fetch_offset: Int64(p.offset), partition_max_bytes: Int32(FETCH_BYTES),
        };
        match topics.last_mut() {
            Some(topic) if topic.topic.0 == p.topic => topic.partitions.push(asked),
            _ => topics.push(FetchRequestTopic { topic: String_(p.topic.clone()), partitions: vec![asked] }),
        }
    }
    FetchRequest {
        replica_id: Int32(-1),
        max_wait_ms: Int32(wait_ms),
        min_bytes: Int32(1),
        max_bytes: Some(Int32(RESPONSE_BYTES)),
        isolation_level: Some(IsolationLevel::ReadCommitted),
        topics,
    }
}

/// The partitions one broker leads, read on one connection: a fetch asks for every partition not yet read to
/// its end (as aiokafka's does), and the broker answers up to `RESPONSE_BYTES` of records.
async fn read_leader(connection: Connection, mut partitions: Vec<Partition>, leave: Arc<HashSet<String>>,
                     timeout: Duration, ranges: UnboundedSender<u64>,
                     fetches: UnboundedSender<Result<JoinHandle<Fetched>, String>>) -> Result<(), String> {
    let mut asked: Vec<ListOffsetsRequestTopic> = Vec::new();
    for p in &partitions {
        let at = ListOffsetsRequestPartition {
            partition_index: Int32(p.partition), timestamp: Int64(-2), max_num_offsets: Some(Int32(1)),
        };
        match asked.last_mut() {
            Some(topic) if topic.name.0 == p.topic => topic.partitions.push(at),
            _ => asked.push(ListOffsetsRequestTopic { name: String_(p.topic.clone()), partitions: vec![at] }),
        }
    }
    let request = ListOffsetsRequest {
        replica_id: Int32(-1), isolation_level: Some(IsolationLevel::ReadCommitted), topics: asked,
    };
    let earliest = within("the partitions' earliest offsets", timeout, connection.request(request)).await?;
    for topic in earliest.topics {
        for answer in topic.partitions {
            let p = asked_for(&mut partitions, &topic.name.0, answer.partition_index.0)?;
            if let Some(error) = answer.error_code {
                return Err(format!("{}/{}: {error}", p.topic, p.partition));
            }
            let offset = answer.offset.map(|o| o.0)
                .or_else(|| answer.old_style_offsets.and_then(|o| o.0).and_then(|o| o.first().map(|o| o.0)));
            p.offset = offset.ok_or_else(|| format!("{}/{}: no earliest offset", p.topic, p.partition))?;
            p.start = Some(p.offset);
        }
    }
    if let Some(p) = partitions.iter().find(|p| p.start.is_none()) {
        return Err(format!("{}/{}: no earliest offset", p.topic, p.partition));
    }
    // the first fetch, not waiting for records, says every partition's end (the high watermark) beside its
    // records: aiokafka's read-uncommitted end offset. Committed records only are read (rskafka's protocol has no
    // transaction's markers to skip): a partition whose last stable offset falls short of that end, or that holds
    // an aborted transaction or a marker, ends the read, and aiokafka reads instead.
    let mut ranges = Some(ranges);
    let mut wait_ms = 0;
    loop {
        let open: Vec<&Partition> = partitions.iter().filter(|p| p.open()).collect();
        if open.is_empty() {
            break;
        }
        let request = fetch_request(&open, wait_ms);
        let what = format!("a fetch of {} partitions", open.len());
        let answer = within(&what, timeout, connection.request(request)).await?;
        wait_ms = 1_000;
        let mut progressed = false;
        for topic in answer.responses {
            for answered in topic.partitions {
                let p = asked_for(&mut partitions, &topic.topic.0, answered.partition_index.0)?;
                if let Some(error) = answered.error_code {
                    return Err(format!("{}/{}@{}: {error}", p.topic, p.partition, p.offset));
                }
                let end = *p.end.get_or_insert(answered.high_watermark.0.max(p.offset));
                let stable = answered.last_stable_offset.map_or(i64::MAX, |o| o.0);
                if stable < end || !answered.aborted_transactions.is_empty() {
                    return Err(format!("{}/{}: a transaction not committed before {end}", p.topic, p.partition));
                }
                let mut kept = Vec::new();
                for batch in answered.records.0 {
                    let ControlBatchOrRecords::Records(records) = batch.records else {
                        return Err(format!("{}/{}@{}: a transaction's marker", p.topic, p.partition,
                                           batch.base_offset));
                    };
                    for record in records {
                        let offset = batch.base_offset + i64::from(record.offset_delta);
                        if offset < p.offset || offset >= end {
                            continue;
                        }
                        // as aiokafka gives it: on a topic stamped by the broker (LogAppendTime), the batch's
                        let timestamp = match batch.timestamp_type {
                            RecordBatchTimestampType::LogAppendTime => batch.max_timestamp,
                            RecordBatchTimestampType::CreateTime => batch.first_timestamp
                                .checked_add(record.timestamp_delta)
                                .ok_or_else(|| format!("{}/{}@{offset}: no timestamp", p.topic, p.partition))?,
                        };
                        p.offset = offset + 1;
                        kept.push((offset, timestamp, record.value.unwrap_or_default()));
                    }
                }
                if kept.is_empty() {
                    continue;
                }
                progressed = true;
                let (topic, partition, leave) = (p.topic.clone(), p.partition, Arc::clone(&leave));
                let reading = tokio::spawn(async move {
                    let reads = kept.iter().map(|(_, _, value)| read_one(value, &leave)).collect();
                    Fetched { topic, partition, records: kept, reads }
                });
                fetches.send(Ok(reading)).map_err(|_| "the read was given up".to_owned())?;
            }
        }
        if let Some(ranges) = ranges.take() {
            if let Some(p) = partitions.iter().find(|p| p.end.is_none()) {
                return Err(format!("{}/{}: not answered", p.topic, p.partition));
            }
            let _ = ranges.send(partitions.iter()
                .map(|p| (p.end.unwrap_or_default() - p.start.unwrap_or_default()).max(0) as u64).sum());
        } else if !progressed {
            // every open partition answered without a record before its end: not what a read of committed,
            // uncompressed records up to the high watermark meets
            let p = partitions.iter().find(|p| p.open()).expect("an open partition");
            return Err(format!("{}/{}@{}: no record where {} was expected", p.topic, p.partition, p.offset,
                               p.end.unwrap_or_default()));
        }
    }
    Ok(())
}
