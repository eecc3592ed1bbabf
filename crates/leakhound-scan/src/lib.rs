//! The scan pipeline: targets → TCP connect discovery → fingerprinting by trying probes →
//! read-only probing and sampling → classification → findings.
//!
//! Stages are connected by bounded channels and semaphores, so a /8 target list costs
//! no memory and no stage can outrun the next. The engine never prints: it sends
//! [`Event`]s, and the CLI renders them.
#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]

pub mod discover;
pub mod syn;

use leakhound_classify::Classifier;
use leakhound_model::{Access, Category, Location, Service, Severity};
use leakhound_probes::{net, Probe, ProbeConfig, ProbeReport, Sample};
use leakhound_targets::permute::{permuted, Shard};
use leakhound_targets::{Endpoint, Excludes, PortSet, SystemResolver, TargetSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, Semaphore};

/// Everything a scan needs, as plain data.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    /// Targets.
    pub targets: Vec<TargetSpec>,
    /// Ports for targets without one.
    pub ports: PortSet,
    /// Never touched.
    pub excludes: Excludes,
    /// Connect attempts in flight (capped by the open-files budget).
    pub concurrency: Option<usize>,
    /// Endpoints of one host probed at once.
    pub per_host_concurrency: usize,
    /// Endpoints probed at once across all hosts.
    pub probe_concurrency: usize,
    /// Connect timeout for discovery.
    pub connect_timeout: Duration,
    /// Retries for unanswered connects.
    pub retries: u32,
    /// Wall-clock budget for probing one endpoint.
    pub endpoint_budget: Duration,
    /// Probe settings.
    pub probe: ProbeConfig,
    /// Stop after discovery: report open ports, probe nothing.
    pub discovery_only: bool,
    /// Endpoints (`ip:port`) a resumed scan already finished: neither connected to nor
    /// probed again.
    pub skip: std::collections::HashSet<String>,
    /// Live counters for a progress display; the engine only increments them.
    pub progress: Arc<Progress>,
    /// Seed of the random (address × port) order.
    pub seed: u64,
    /// The part of the space this process scans.
    pub shard: Shard,
    /// Connection attempts per second across the whole scan (None: as fast as the
    /// concurrency allows).
    pub rate: Option<f64>,
    /// Discover with raw SYN probes instead of connects (IPv4, CAP_NET_RAW, one interface).
    pub syn: Option<syn::SynOptions>,
    /// Open endpoints found by another tool: probed without a connect scan first.
    pub imported: Vec<Endpoint>,
    /// Problems met reading the imports, reported as target errors.
    pub import_notes: Vec<String>,
    /// Connection attempts per second to any one host.
    pub per_host_rate: Option<f64>,
    /// A host with more open ports than this is flagged as accepting every port (a SYN
    /// proxy, tarpit or honeypot) and its further ports are not probed; 0 disables.
    pub port_threshold: usize,
}

/// Counters a progress display can read while the scan runs.
#[derive(Debug, Default)]
pub struct Progress {
    /// Endpoints whose connect attempt finished (or was skipped).
    pub attempted: std::sync::atomic::AtomicU64,
    /// Ports found open.
    pub open: std::sync::atomic::AtomicU64,
    /// Endpoints probed.
    pub probed: std::sync::atomic::AtomicU64,
}

impl Progress {
    fn bump(counter: &std::sync::atomic::AtomicU64) {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            targets: Vec::new(),
            ports: "db".parse().expect("preset"),
            excludes: Excludes::default(),
            concurrency: None,
            per_host_concurrency: 2,
            probe_concurrency: 64,
            connect_timeout: Duration::from_millis(1500),
            retries: 1,
            endpoint_budget: Duration::from_secs(60),
            probe: ProbeConfig::default(),
            discovery_only: false,
            skip: Default::default(),
            progress: Arc::default(),
            seed: 0,
            shard: Shard { index: 0, count: 1 },
            rate: None,
            per_host_rate: None,
            syn: None,
            imported: Vec::new(),
            import_notes: Vec::new(),
            port_threshold: 100,
        }
    }
}

/// Stable id: a hex SHA-256 over the parts, cut to 32 characters.
pub fn stable_id(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One exposure or content finding.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    /// Stable fingerprint of rule, endpoint and location.
    pub id: String,
    /// Rule id: a probe check (`clickhouse.unauthenticated`) or a classifier rule.
    pub rule: String,
    /// `access` for exposure checks; `secret`, `chat`, `pii` or `ops` for content.
    pub category: String,
    /// Severity.
    pub severity: Severity,
    /// One-line title.
    pub title: String,
    /// `ip:port`.
    pub endpoint: String,
    /// Where in the service (empty for access findings).
    pub location: Location,
    /// Matches (1 for access findings).
    pub count: u64,
    /// Distinct values (by fingerprint).
    pub distinct: u64,
    /// Up to 3 redacted examples, or the observation for access findings.
    pub evidence: Vec<String>,
    /// How to close it.
    pub remediation: String,
}

/// What was learned about one table.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TableSummary {
    /// Database.
    pub database: String,
    /// Table.
    pub table: String,
    /// Engine.
    pub engine: String,
    /// Rows (server statistics).
    pub rows: Option<u64>,
    /// Bytes on disk (server statistics).
    pub bytes: Option<u64>,
    /// Rows sampled.
    pub sampled_rows: u64,
    /// Categories found in the sample.
    pub categories: Vec<Category>,
}

/// One open endpoint and what it exposed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct EndpointResult {
    /// Host name given as target, if any.
    pub host: Option<String>,
    /// Address.
    pub ip: IpAddr,
    /// Port.
    pub port: u16,
    /// Service recognised.
    pub service: Service,
    /// Access state.
    pub access: Access,
    /// Server version.
    pub version: Option<String>,
    /// Spoken to over TLS.
    pub tls: bool,
    /// Databases seen.
    pub databases: Vec<String>,
    /// Tables and what they hold.
    pub tables: Vec<TableSummary>,
    /// Soft problems.
    pub notes: Vec<String>,
}

/// The whole result of a scan, as `--format json` writes it. `docs/scan-report.schema.json`
/// is generated from this type (and a test keeps it current).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ScanReport {
    /// Every endpoint that answered, with what it exposed.
    pub endpoints: Vec<EndpointResult>,
    /// Findings, most severe first.
    pub findings: Vec<Finding>,
    /// Totals.
    pub stats: Stats,
    /// Targets that could not be expanded.
    pub errors: Vec<String>,
}

/// The JSON Schema of [`ScanReport`], pretty-printed.
pub fn report_schema() -> String {
    let schema = schemars::schema_for!(ScanReport);
    let mut s = serde_json::to_string_pretty(&schema).expect("schema serialises");
    s.push('\n');
    s
}

/// Something the engine reports while it runs.
#[derive(Debug)]
pub enum Event {
    /// A target that could not be expanded (e.g. a name that does not resolve).
    TargetError(String),
    /// A warning about the run (e.g. a low open-files limit).
    Warning(String),
    /// A port answered the connect scan.
    PortOpen(Endpoint),
    /// An endpoint was probed.
    Endpoint(Box<EndpointResult>, Vec<Finding>),
}

/// Totals.
#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize, JsonSchema)]
pub struct Stats {
    /// Endpoints attempted.
    pub attempted: u64,
    /// Ports found open.
    pub open_ports: u64,
    /// Endpoints probed.
    pub probed: u64,
    /// Targets that failed to expand.
    pub target_errors: u64,
    /// Endpoints skipped because a resumed scan had already finished them.
    pub skipped: u64,
}

#[derive(Default)]
struct Agg {
    category: Option<Category>,
    kind: String,
    count: u64,
    fingerprints: BTreeSet<String>,
    evidence: Vec<String>,
}

fn content_remediation(category: Category, service_fix: &str) -> String {
    let first = match category {
        Category::Secret => "Rotate every credential found here and treat it as compromised",
        Category::Chat => "Treat these conversations as disclosed: purge or expire them and notify as your policy requires",
        Category::Pii => "Treat this personal data as disclosed: assess notification duties and minimise what is stored",
        Category::Ops => "Review what this internal detail reveals",
    };
    format!("{first}; then close the exposure: {service_fix}")
}

/// What to tell the owner of an exposed Redis.
const REDIS_REMEDIATION: &str = leakhound_probes::redis::REMEDIATION;

/// What to tell the owner of an exposed PostgreSQL.
const POSTGRES_REMEDIATION: &str = leakhound_probes::postgres::REMEDIATION;

fn service_remediation(service: Service) -> &'static str {
    match service {
        Service::ClickhouseHttp | Service::ClickhouseNative => {
            leakhound_probes::clickhouse_http::REMEDIATION
        }
        Service::Redis => REDIS_REMEDIATION,
        Service::Postgres => POSTGRES_REMEDIATION,
        _ => "Require authentication and restrict the service to internal networks; close the port at the firewall.",
    }
}

/// Probes one open endpoint with every probe until one recognises it, classifying samples,
/// within `budget`. When no probe recognises it, what its connections did decides the
/// state: unresponsive, unknown or malformed, never a service. A probe cut off by the
/// budget leaves its contact log behind, which still says what the endpoint did.
pub async fn probe_endpoint(
    ep: &Endpoint,
    probes: &[Box<dyn Probe>],
    cfg: &ProbeConfig,
    classifier: &Classifier,
    budget: Duration,
) -> (EndpointResult, Vec<Finding>) {
    let (log, probing) = net::with_contact_log(probe_with(ep, probes, cfg, classifier));
    match tokio::time::timeout(budget, probing).await {
        Ok(r) => r,
        Err(_) => {
            let seen = log.lock().map(|l| l.clone()).unwrap_or_default();
            // A budget cut is never an open service, whatever it had said so far.
            let (access, why) = match seen.verdict(&cfg.limits) {
                (Access::Unknown, _) if seen.bytes == 0 => (
                    Access::Unresponsive,
                    "nothing answered before the budget ran out".to_string(),
                ),
                (Access::Unknown, _) => (
                    Access::Unknown,
                    "it answered, but probing did not finish within the budget (partial results are not reported)".to_string(),
                ),
                other => other,
            };
            let mut r = ProbeReport::new(Service::Unknown, access);
            r.notes
                .push(format!("endpoint time budget of {budget:?} exceeded"));
            r.notes.push(why);
            build_result(ep, r, BTreeMap::new())
        }
    }
}

async fn probe_with(
    ep: &Endpoint,
    probes: &[Box<dyn Probe>],
    cfg: &ProbeConfig,
    classifier: &Classifier,
) -> (EndpointResult, Vec<Finding>) {
    let mut order: Vec<&Box<dyn Probe>> = probes.iter().collect();
    // Port hints decide the order only; every probe still validates its own handshake.
    // The sort is stable, so probes without a hint keep their registry order (generic last).
    order.sort_by_key(|p| !p.port_hints().contains(&ep.port));
    let mut aggs: BTreeMap<(Location, String), Agg> = BTreeMap::new();
    let mut report: Option<ProbeReport> = None;
    for p in order {
        let before = contact();
        net::set_contact_probe(p.service());
        let mut sink = |s: Sample| classify_sample(classifier, &mut aggs, s);
        if let Some(r) = p.probe(ep, cfg, &mut sink).await {
            report = Some(r);
            break;
        }
        // Every service leakhound knows answers an HTTP GET at once (HTTP servers, and
        // Redis, PostgreSQL and ClickHouse's native port with an error). Silence or a
        // stall there means a tarpit, a drip or a hung service: the other probes would
        // only wait out the same timeouts. (A binary handshake's silence proves less: a
        // line-based server keeps waiting for a newline that never comes.)
        let after = contact();
        if matches!(p.service(), Service::ClickhouseHttp | Service::Http)
            && after.silent + after.stalls > before.silent + before.stalls
        {
            break;
        }
    }
    let report = report.unwrap_or_else(|| {
        let (access, why) = contact().verdict(&cfg.limits);
        let mut r = ProbeReport::new(Service::Unknown, access);
        r.notes.push(why);
        r
    });
    build_result(ep, report, aggs)
}

/// The contact log of the endpoint being probed (empty outside a probe).
fn contact() -> net::ContactLog {
    net::current_contact_log()
}

/// Classifies one sampled value and folds its matches into the per-location findings.
fn classify_sample(
    classifier: &Classifier,
    aggs: &mut BTreeMap<(Location, String), Agg>,
    s: Sample,
) {
    for m in classifier.scan_value(&s.value, Some(&s.field)) {
        let a = aggs
            .entry((s.location.clone(), m.rule.to_string()))
            .or_default();
        a.category = Some(m.category);
        a.kind = m.kind.to_string();
        a.count += 1;
        if a.fingerprints.insert(m.fingerprint.clone()) && a.evidence.len() < 3 {
            a.evidence.push(m.evidence.clone());
        }
    }
}

/// Probes a ClickHouse native endpoint again and enumerates over the native protocol:
/// used for hosts whose HTTP interface was not found open.
pub async fn enumerate_native(
    ep: &Endpoint,
    tls: bool,
    cfg: &ProbeConfig,
    classifier: &Classifier,
) -> Option<(EndpointResult, Vec<Finding>)> {
    let mut aggs: BTreeMap<(Location, String), Agg> = BTreeMap::new();
    let mut sink = |s: Sample| classify_sample(classifier, &mut aggs, s);
    let probe = leakhound_probes::clickhouse_native::ClickhouseNative { tls };
    let mut report = probe.probe_and_enumerate(ep, cfg, &mut sink).await?;
    report.notes.push(
        "no open ClickHouse HTTP interface on this host: enumerated over the native protocol"
            .into(),
    );
    Some(build_result(ep, report, aggs))
}

fn build_result(
    ep: &Endpoint,
    report: ProbeReport,
    aggs: BTreeMap<(Location, String), Agg>,
) -> (EndpointResult, Vec<Finding>) {
    let endpoint = ep.socket().to_string();
    let service_fix = service_remediation(report.service);
    let mut findings: Vec<Finding> = report
        .checks
        .iter()
        .map(|c| Finding {
            id: stable_id(&[c.id, &endpoint]),
            rule: c.id.to_string(),
            category: "access".into(),
            severity: c.severity,
            title: c.title.clone(),
            endpoint: endpoint.clone(),
            location: Location::default(),
            count: 1,
            distinct: 1,
            evidence: vec![c.detail.clone()],
            remediation: c.remediation.to_string(),
        })
        .collect();
    let mut table_cats: HashMap<(String, String), BTreeSet<Category>> = HashMap::new();
    for ((loc, rule), a) in aggs {
        let category = a.category.unwrap_or(Category::Ops);
        let severity = match (report.access, category) {
            (Access::Open, Category::Secret | Category::Chat | Category::Pii) => Severity::Critical,
            (Access::Open, Category::Ops) => Severity::Medium,
            (_, Category::Ops) => Severity::Low,
            _ => Severity::High,
        };
        if let (Some(db), Some(t)) = (&loc.database, &loc.table) {
            table_cats
                .entry((db.clone(), t.clone()))
                .or_default()
                .insert(category);
        }
        findings.push(Finding {
            id: stable_id(&[&rule, &endpoint, &loc.display()]),
            title: format!("{} in {}", a.kind, loc.display()),
            rule,
            category: category.as_str().into(),
            severity,
            endpoint: endpoint.clone(),
            location: loc,
            count: a.count,
            distinct: a.fingerprints.len() as u64,
            evidence: a.evidence,
            remediation: content_remediation(category, service_fix),
        });
    }
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(&b.id)));
    let tables = report
        .tables
        .iter()
        .map(|t| TableSummary {
            database: t.database.clone(),
            table: t.name.clone(),
            engine: t.engine.clone(),
            rows: t.rows,
            bytes: t.bytes,
            sampled_rows: t.sampled_rows,
            categories: table_cats
                .get(&(t.database.clone(), t.name.clone()))
                .map(|s| s.iter().copied().collect())
                .unwrap_or_default(),
        })
        .collect();
    (
        EndpointResult {
            host: ep.host.as_deref().map(str::to_string),
            ip: ep.ip,
            port: ep.port,
            service: report.service,
            access: report.access,
            version: report.version,
            tls: report.tls,
            databases: report.databases,
            tables,
            notes: report.notes,
        },
        findings,
    )
}

/// Spaces connection attempts to a global rate: attempt k is not started before
/// `start + k / rate`. Falling behind (a slow network) is not made up with a burst.
struct Pacer {
    interval: Option<tokio::time::Interval>,
}

impl Pacer {
    fn new(rate: Option<f64>) -> Pacer {
        let interval = rate.filter(|r| *r > 0.0).map(|r| {
            let mut i = tokio::time::interval(Duration::from_secs_f64(1.0 / r));
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            i
        });
        Pacer { interval }
    }

    async fn wait(&mut self) {
        if let Some(i) = &mut self.interval {
            i.tick().await;
        }
    }
}

/// Spaces connection attempts to each host: the attempt that follows another to the same
/// host waits `1 / rate`. Only hosts attempted recently are remembered, so a /8 costs no
/// memory.
struct HostPacer {
    interval: Option<Duration>,
    next: HashMap<IpAddr, tokio::time::Instant>,
}

impl HostPacer {
    fn new(rate: Option<f64>) -> HostPacer {
        HostPacer {
            interval: rate
                .filter(|r| *r > 0.0)
                .map(|r| Duration::from_secs_f64(1.0 / r)),
            next: HashMap::new(),
        }
    }

    /// How long the attempt to `ip` starting now must wait.
    fn delay(&mut self, ip: IpAddr) -> Duration {
        let Some(interval) = self.interval else {
            return Duration::ZERO;
        };
        let now = tokio::time::Instant::now();
        if self.next.len() >= 1 << 16 {
            self.next.retain(|_, t| *t > now);
        }
        let slot = self
            .next
            .get(&ip)
            .copied()
            .filter(|t| *t > now)
            .unwrap_or(now);
        self.next.insert(ip, slot + interval);
        slot - now
    }
}

/// The host-level result for a host that accepted connections on too many ports.
fn accept_all_result(
    ip: IpAddr,
    open: usize,
    unprobed: usize,
    threshold: usize,
) -> (EndpointResult, Vec<Finding>) {
    let endpoint = format!("{}", std::net::SocketAddr::new(ip, 0));
    let detail = format!(
        "{ip} accepted TCP connections on {open} ports; {unprobed} of them were not probed (threshold {threshold}); no port is reported as a service unless its protocol handshake validated"
    );
    let finding = Finding {
        id: stable_id(&["host.accepts-every-port", &endpoint]),
        rule: "host.accepts-every-port".into(),
        category: "access".into(),
        severity: Severity::Low,
        title: "Host accepts connections on every port (SYN proxy, tarpit or honeypot)".into(),
        endpoint,
        location: Location::default(),
        count: 1,
        distinct: 1,
        evidence: vec![detail.clone()],
        remediation: "Not an exposure by itself: something in front of this host completes every TCP handshake. Scan the host behind it directly if it is yours; otherwise expect its open ports to be noise.".into(),
    };
    let result = EndpointResult {
        host: None,
        ip,
        port: 0,
        service: Service::Unknown,
        access: Access::Unknown,
        version: None,
        tls: false,
        databases: Vec::new(),
        tables: Vec::new(),
        notes: vec![detail, "port 0 stands for the host as a whole".into()],
    };
    (result, vec![finding])
}

type Deferred = (Endpoint, EndpointResult, Vec<Finding>);

/// What every endpoint's task shares.
struct Shared {
    cfg: Arc<ScanConfig>,
    probes: Arc<Vec<Box<dyn Probe>>>,
    classifier: Option<Arc<Classifier>>,
    events: mpsc::Sender<Event>,
    probe_slots: Arc<Semaphore>,
    host_slots: Arc<Mutex<HashMap<IpAddr, Arc<Semaphore>>>>,
    stats: Arc<Mutex<Stats>>,
    /// Hosts whose ClickHouse HTTP interface is open.
    http_open: Arc<Mutex<std::collections::HashSet<IpAddr>>>,
    /// Open native endpoints waiting for the end of the scan.
    deferred: Arc<Mutex<Vec<Deferred>>>,
    /// Open ports per host.
    host_open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// An open port: report it, then (unless discovery only, or the host answers everything)
/// probe it within its host's and the scan's slots.
async fn on_open(shared: Arc<Shared>, ep: Endpoint) {
    let cfg = &shared.cfg;
    shared.stats.lock().unwrap().open_ports += 1;
    Progress::bump(&cfg.progress.open);
    let _ = shared.events.send(Event::PortOpen(ep.clone())).await;
    let open_here = {
        let mut m = shared.host_open.lock().unwrap();
        let n = m.entry(ep.ip).or_insert(0);
        *n += 1;
        *n
    };
    let Some(classifier) = shared.classifier.as_ref().filter(|_| !cfg.discovery_only) else {
        return;
    };
    // Past the threshold the host is answering everything: probing each port would only
    // wait out timeouts (and a honeypot would love the traffic).
    if cfg.port_threshold > 0 && open_here > cfg.port_threshold {
        return;
    }
    let host_sem = shared
        .host_slots
        .lock()
        .unwrap()
        .entry(ep.ip)
        .or_insert_with(|| Arc::new(Semaphore::new(cfg.per_host_concurrency.max(1))))
        .clone();
    let _host = host_sem.acquire_owned().await.expect("never closed");
    let _slot = shared
        .probe_slots
        .clone()
        .acquire_owned()
        .await
        .expect("never closed");
    let (result, findings) = probe_endpoint(
        &ep,
        &shared.probes,
        &cfg.probe,
        classifier,
        cfg.endpoint_budget,
    )
    .await;
    shared.stats.lock().unwrap().probed += 1;
    Progress::bump(&cfg.progress.probed);
    if result.access == Access::Open {
        match result.service {
            Service::ClickhouseHttp => {
                shared.http_open.lock().unwrap().insert(ep.ip);
            }
            Service::ClickhouseNative => {
                shared.deferred.lock().unwrap().push((ep, result, findings));
                return;
            }
            _ => {}
        }
    }
    let _ = shared
        .events
        .send(Event::Endpoint(Box::new(result), findings))
        .await;
}

/// Runs a whole scan, sending events as endpoints finish; returns the totals. The
/// classifier may be `None` only with `discovery_only` (building it costs more than a
/// small discovery run).
pub async fn run(
    cfg: ScanConfig,
    classifier: Option<Arc<Classifier>>,
    events: mpsc::Sender<Event>,
) -> Stats {
    let (concurrency, warning) = discover::fd_budget(cfg.concurrency);
    if let Some(w) = warning {
        let _ = events.send(Event::Warning(w)).await;
    }
    let cfg = Arc::new(cfg);
    let probes: Arc<Vec<Box<dyn Probe>>> = Arc::new(leakhound_probes::all());
    let connect_slots = Arc::new(Semaphore::new(concurrency));
    let probe_slots = Arc::new(Semaphore::new(cfg.probe_concurrency.max(1)));
    let host_slots: Arc<Mutex<HashMap<IpAddr, Arc<Semaphore>>>> = Arc::default();
    let stats = Arc::new(Mutex::new(Stats::default()));
    // ClickHouse enumeration goes over HTTP when a host has it open; open native endpoints
    // wait until the end of the scan to learn whether they must enumerate themselves.
    let http_open: Arc<Mutex<std::collections::HashSet<IpAddr>>> = Arc::default();
    let deferred: Arc<Mutex<Vec<Deferred>>> = Arc::default();
    let mut tasks = tokio::task::JoinSet::new();

    let resolver = SystemResolver;
    // (address × port) in a seeded random order, restricted to this shard: load spreads
    // across networks and hosts instead of hammering one at a time.
    let (target_errors, endpoints) = permuted(
        &cfg.targets,
        &cfg.ports,
        &cfg.excludes,
        &resolver,
        cfg.seed,
        cfg.shard,
    );
    let target_errors = target_errors
        .into_iter()
        .map(|e| e.to_string())
        .chain(cfg.import_notes.iter().cloned());
    for e in target_errors {
        stats.lock().unwrap().target_errors += 1;
        let _ = events.send(Event::TargetError(e)).await;
    }
    // Imported endpoints were found open by another tool: they skip the connect scan, but
    // not the exclusions or the shard (split by position, so shards stay disjoint).
    let shard = cfg.shard;
    let imported: Vec<(Endpoint, bool)> = cfg
        .imported
        .iter()
        .enumerate()
        .filter(|(i, e)| (*i as u64) % shard.count == shard.index && !cfg.excludes.contains(e.ip))
        .map(|(_, e)| (e.clone(), true))
        .collect();
    stats.lock().unwrap().attempted += imported.len() as u64;
    let discovered: Box<dyn Iterator<Item = (Endpoint, bool)> + Send> = match &cfg.syn {
        None => Box::new(endpoints.map(|e| (e, false))),
        Some(opts) => {
            // SYN discovery runs to completion first (its state is the set of open ports),
            // then the open ports stream into probing like imported ones.
            drop(endpoints);
            let (scan_cfg, opts) = (cfg.clone(), opts.clone());
            let done = tokio::task::spawn_blocking(move || {
                let space = || {
                    let skip = &scan_cfg.skip;
                    permuted(
                        &scan_cfg.targets,
                        &scan_cfg.ports,
                        &scan_cfg.excludes,
                        &SystemResolver,
                        scan_cfg.seed,
                        scan_cfg.shard,
                    )
                    .1
                    .filter(move |e| skip.is_empty() || !skip.contains(&e.socket().to_string()))
                };
                syn::scan(space, &opts, &scan_cfg.progress.attempted)
            })
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
            match done {
                Ok((open, st)) => {
                    stats.lock().unwrap().attempted += st.sent;
                    if st.skipped_v6 > 0 {
                        let _ = events
                            .send(Event::Warning(format!(
                                "SYN mode speaks IPv4 only: {} IPv6 endpoints were not scanned",
                                st.skipped_v6
                            )))
                            .await;
                    }
                    Box::new(open.into_iter().map(|e| (e, true)))
                }
                Err(e) => {
                    stats.lock().unwrap().target_errors += 1;
                    let _ = events
                        .send(Event::TargetError(format!("SYN scan failed: {e}")))
                        .await;
                    Box::new(std::iter::empty())
                }
            }
        }
    };
    let endpoints = imported.into_iter().chain(discovered);
    let mut pace = Pacer::new(cfg.rate);
    let mut host_pace = HostPacer::new(cfg.per_host_rate);
    // Open ports per host (only hosts with one), to spot hosts that accept every port.
    let host_open: Arc<Mutex<HashMap<IpAddr, usize>>> = Arc::default();
    let shared = Arc::new(Shared {
        cfg: cfg.clone(),
        probes,
        classifier: classifier.clone(),
        events: events.clone(),
        probe_slots,
        host_slots,
        stats: stats.clone(),
        http_open: http_open.clone(),
        deferred: deferred.clone(),
        host_open: host_open.clone(),
    });
    for (ep, known_open) in endpoints {
        if !cfg.skip.is_empty() && cfg.skip.contains(&ep.socket().to_string()) {
            stats.lock().unwrap().skipped += 1;
            Progress::bump(&cfg.progress.attempted);
            continue;
        }
        // One attempt per tick of the global rate; waiting here also keeps expansion lazy.
        pace.wait().await;
        // Waiting here is the back-pressure that keeps target expansion lazy.
        let permit = connect_slots
            .clone()
            .acquire_owned()
            .await
            .expect("never closed");
        if !known_open {
            stats.lock().unwrap().attempted += 1;
        }
        let shared = shared.clone();
        let wait = host_pace.delay(ep.ip);
        // The task stays small (one Arc and the endpoint): most endpoints are closed, and
        // the probing state machine is boxed only for the few that are open.
        tasks.spawn(async move {
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            let cfg = &shared.cfg;
            let state = if known_open {
                discover::PortState::Open
            } else {
                discover::connect_scan(ep.socket(), cfg.connect_timeout, cfg.retries).await
            };
            drop(permit);
            if !known_open {
                Progress::bump(&cfg.progress.attempted);
            }
            if state == discover::PortState::Open {
                Box::pin(on_open(shared, ep)).await;
            }
        });
        // Reap finished tasks as we go so the set stays small.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let waiting = std::mem::take(&mut *deferred.lock().unwrap());
    let http_open = std::mem::take(&mut *http_open.lock().unwrap());
    for (ep, mut result, findings) in waiting {
        let (result, findings) = match &classifier {
            Some(c) if !http_open.contains(&ep.ip) => {
                let tls = result.tls;
                let native = tokio::time::timeout(
                    cfg.endpoint_budget,
                    enumerate_native(&ep, tls, &cfg.probe, c),
                )
                .await;
                match native {
                    Ok(Some(r)) => r,
                    _ => (result, findings),
                }
            }
            _ => {
                result
                    .notes
                    .push("enumerated over this host's ClickHouse HTTP interface".into());
                (result, findings)
            }
        };
        let _ = events
            .send(Event::Endpoint(Box::new(result), findings))
            .await;
    }
    let per_host = cfg.ports.len();
    let mut flagged: Vec<(IpAddr, usize)> = host_open
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, &n)| {
            (cfg.port_threshold > 0 && n > cfg.port_threshold) || (per_host >= 8 && n >= per_host)
        })
        .map(|(&ip, &n)| (ip, n))
        .collect();
    flagged.sort();
    for (ip, open) in flagged {
        let probed_limit = if cfg.discovery_only || cfg.port_threshold == 0 {
            open
        } else {
            cfg.port_threshold
        };
        let unprobed = if cfg.discovery_only {
            0
        } else {
            open.saturating_sub(probed_limit)
        };
        let _ = events
            .send(Event::Warning(format!(
                "{ip} accepted connections on {open} ports: likely a SYN proxy, tarpit or honeypot{}",
                if unprobed > 0 {
                    format!("; {unprobed} of its ports were not probed")
                } else {
                    String::new()
                }
            )))
            .await;
        if !cfg.discovery_only {
            let (r, f) = accept_all_result(ip, open, unprobed, cfg.port_threshold);
            let _ = events.send(Event::Endpoint(Box::new(r), f)).await;
        }
    }
    let s = *stats.lock().unwrap();
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/scan-report.schema.json` is what the types say; regenerate it with
    /// `LH_UPDATE_SCHEMA=1 cargo test -p leakhound-scan`.
    #[test]
    fn the_published_schema_matches_the_types() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/scan-report.schema.json"
        );
        let current = report_schema();
        if std::env::var("LH_UPDATE_SCHEMA").is_ok_and(|v| v == "1") {
            std::fs::write(path, &current).unwrap();
        }
        let published = std::fs::read_to_string(path).unwrap_or_default();
        assert_eq!(published, current, "docs/scan-report.schema.json is stale");
    }

    /// Paused tokio time: the pacer is checked against the clock it controls, not the wall.
    #[tokio::test(start_paused = true)]
    async fn the_pacer_spaces_attempts_to_the_rate() {
        let start = tokio::time::Instant::now();
        let mut p = Pacer::new(Some(100.0));
        for _ in 0..101 {
            p.wait().await;
        }
        // The first tick is immediate; 100 more at 10 ms each.
        assert_eq!(start.elapsed(), Duration::from_millis(1000));
        let start = tokio::time::Instant::now();
        let mut unlimited = Pacer::new(None);
        for _ in 0..1000 {
            unlimited.wait().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn the_host_pacer_spaces_attempts_per_host_only() {
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let mut p = HostPacer::new(Some(10.0));
        assert_eq!(p.delay(a), Duration::ZERO);
        assert_eq!(p.delay(b), Duration::ZERO);
        assert_eq!(p.delay(a), Duration::from_millis(100));
        assert_eq!(p.delay(a), Duration::from_millis(200));
        assert_eq!(p.delay(b), Duration::from_millis(100));
        // Time passing frees the slots again.
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(p.delay(a), Duration::ZERO);
        let mut off = HostPacer::new(None);
        for _ in 0..10 {
            assert_eq!(off.delay(a), Duration::ZERO);
        }
    }

    #[test]
    fn stable_ids_depend_on_every_part() {
        let a = stable_id(&["clickhouse.unauthenticated", "127.0.0.1:8123"]);
        assert_eq!(
            a,
            stable_id(&["clickhouse.unauthenticated", "127.0.0.1:8123"])
        );
        assert_ne!(
            a,
            stable_id(&["clickhouse.unauthenticated", "127.0.0.1:8124"])
        );
        assert_ne!(stable_id(&["ab", "c"]), stable_id(&["a", "bc"]));
        assert_eq!(a.len(), 32);
    }
}
