//! A cluster of brokers on 127.0.0.1 joined by routes (nats-server's cluster protocol), for the
//! black-box cluster tests (`tests/cluster_*.rs`): any mix of node kinds, each node with its own
//! client port, cluster (route) port, monitoring port and optional store directory, all picked
//! before the first node starts (the `--routes` lists need them).
//!
//! Node `i` is started as `-n n<i> -p <client> -m <http> --cluster nats://127.0.0.1:<route>
//! --cluster_name c --routes <...>` (the same flags for nats-server and sluice), plus
//! `-js -sd <dir>` with [`ClusterOpts::jetstream`]. [`Cluster::wait_formed`] polls each node's
//! `/routez` (`num_routes`) with a hand-written HTTP/1.0 GET over a std `TcpStream`.
//! With [`Routes::MeshViaProxies`] every route goes through a [`Proxy`] of its own, so a test
//! (the chaos harness, `crate::chaos`) can partition any node from any other.
//!
//! Every node is killed by PID (SIGKILL) when the [`Cluster`] drops.

use crate::js::StoreDir;
use crate::proxy::Proxy;
use crate::{command, Kind};
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The cluster name every node is given (`--cluster_name`).
pub const CLUSTER_NAME: &str = "c";

/// How the nodes learn about each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routes {
    /// Every node is given every other node's route URL (`--routes` lists N-1 URLs).
    FullMesh,
    /// Only node 0's route URL is given, to every node but node 0 (which gets none): the others
    /// must learn of each other by gossip (the INFO a server sends on its routes).
    Seed,
    /// As [`Routes::Seed`], but node `i` (> 0) reaches node 0 through a [`Proxy`] of its own
    /// ([`Cluster::proxy`]), so a test can cut, blackhole or slow down the link between node
    /// `i` and node 0. Other routes, learned by gossip, are direct: with two nodes the one
    /// route goes through the proxy; with more, only the routes to the seed do.
    SeedViaProxy,
    /// Full mesh where every route goes through a [`Proxy`]: one proxy per directed link, node
    /// `i` dialling node `j` through [`Cluster::link_proxy`]`(i, j)`. A route between `i` and
    /// `j` is dialled both ways (the servers keep one of the two), so it goes through
    /// `link_proxy(i, j)` or `link_proxy(j, i)`: breaking both isolates `i` from `j` and
    /// nothing else ([`Cluster::cut_link`]). Gossip must not undo that: a server tells its
    /// routes about a new peer by the peer's advertised route URL, and a node cut off from
    /// that peer would dial it directly. So every node advertises (`--cluster_advertise`)
    /// [`DEAD_ROUTE_ADDR`], where nothing listens: a gossiped (implicit) route fails and,
    /// implicit routes not being retried (`connect_retries` 0), is dropped; the explicit
    /// routes through the proxies cover every pair anyway.
    MeshViaProxies,
}

/// The route address every node advertises with [`Routes::MeshViaProxies`]: port 1 on
/// loopback, where nothing listens, so a route learned by gossip cannot bypass the proxies.
pub const DEAD_ROUTE_ADDR: &str = "127.0.0.1:1";

/// How a [`Cluster`] is started.
#[derive(Debug, Clone)]
pub struct ClusterOpts {
    /// How the nodes find each other.
    pub routes: Routes,
    /// Start each node with JetStream on (`-js -sd <its own dir>`).
    pub jetstream: bool,
    /// Extra arguments given to every node.
    pub extra_args: Vec<String>,
    /// How long [`Cluster::start`] waits for each node to listen.
    pub start_timeout: Duration,
}

impl Default for ClusterOpts {
    fn default() -> Self {
        ClusterOpts {
            routes: Routes::FullMesh,
            jetstream: false,
            extra_args: Vec::new(),
            start_timeout: Duration::from_secs(10),
        }
    }
}

impl ClusterOpts {
    /// Options with node 0 as the only seed ([`Routes::Seed`]).
    pub fn seed() -> ClusterOpts {
        ClusterOpts {
            routes: Routes::Seed,
            ..ClusterOpts::default()
        }
    }
}

/// The ports of one node, fixed for its lifetime (a restart reuses them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// Where clients connect (`-p`).
    pub client: u16,
    /// Where routes connect (`--cluster`).
    pub cluster: u16,
    /// HTTP monitoring (`-m`).
    pub http: u16,
}

/// One node of a [`Cluster`].
pub struct Node {
    /// Which server runs here.
    pub kind: Kind,
    /// `n<i>`, its `-n` name.
    pub name: String,
    /// Its ports.
    pub ports: Ports,
    /// Its store directory (with [`ClusterOpts::jetstream`]).
    pub store: Option<StoreDir>,
    args: Vec<String>,
    proc: Option<Proc>,
}

/// A running node process.
struct Proc {
    child: Child,
    /// Log lines (stderr), collected by a background thread.
    log: mpsc::Receiver<String>,
    /// Lines read while waiting for the node to start.
    startup: Vec<String>,
}

impl Node {
    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports.client))
    }

    /// `nats://127.0.0.1:<client port>`.
    pub fn url(&self) -> String {
        format!("nats://{}", self.addr())
    }

    /// Where routes connect.
    pub fn cluster_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports.cluster))
    }

    /// `nats://127.0.0.1:<cluster port>`, as given in `--routes`.
    pub fn route_url(&self) -> String {
        format!("nats://{}", self.cluster_addr())
    }

    /// The monitoring address.
    pub fn http_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports.http))
    }

    /// True while the process is running (not killed, not exited; a SIGSTOPped node is running).
    pub fn is_running(&mut self) -> bool {
        match &mut self.proc {
            Some(p) => matches!(p.child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Its PID, while started.
    pub fn pid(&self) -> Option<u32> {
        self.proc.as_ref().map(|p| p.child.id())
    }

    /// The arguments it is started with (after `-a 127.0.0.1 -p -1`).
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// Log lines since the last call (and, the first time after a start, the startup lines).
    pub fn log_lines(&mut self) -> Vec<String> {
        match &mut self.proc {
            Some(p) => {
                let mut lines = std::mem::take(&mut p.startup);
                lines.extend(p.log.try_iter());
                lines
            }
            None => Vec::new(),
        }
    }

    /// Starts the process and waits (up to `timeout`) until its client, cluster and monitoring
    /// ports accept connections. `Err` (with the log) if it exits or does not get there: a
    /// port taken by someone else since it was picked, say.
    fn spawn(&mut self, timeout: Duration) -> Result<(), String> {
        assert!(self.proc.is_none(), "{} is already running", self.name);
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let mut child = command(self.kind, &args)
            .spawn()
            .map_err(|e| format!("start {} ({:?}): {e}", self.name, self.kind))?;
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut proc = Proc {
            child,
            log: rx,
            startup: Vec::new(),
        };
        let deadline = Instant::now() + timeout;
        let targets = [self.addr(), self.cluster_addr(), self.http_addr()];
        loop {
            proc.startup.extend(proc.log.try_iter());
            if let Ok(Some(status)) = proc.child.try_wait() {
                std::thread::sleep(Duration::from_millis(50));
                proc.startup.extend(proc.log.try_iter());
                return Err(format!(
                    "{} ({:?}) exited with {status} while starting; it logged:\n{}",
                    self.name,
                    self.kind,
                    proc.startup.join("\n")
                ));
            }
            if targets.iter().all(|a| port_open(*a)) {
                self.proc = Some(proc);
                return Ok(());
            }
            if Instant::now() >= deadline {
                let _ = proc.child.kill();
                let _ = proc.child.wait();
                proc.startup.extend(proc.log.try_iter());
                return Err(format!(
                    "{} ({:?}) did not open ports {:?} within {timeout:?}; it logged:\n{}",
                    self.name,
                    self.kind,
                    self.ports,
                    proc.startup.join("\n")
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL and reap (nothing if not running).
    fn kill(&mut self) {
        if let Some(mut p) = self.proc.take() {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }

    /// Sends `kill -<sig>` to the process.
    fn signal(&self, sig: &str) {
        let pid = self
            .pid()
            .unwrap_or_else(|| panic!("{} is not running", self.name));
        let status = Command::new("kill")
            .args([format!("-{sig}"), pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{sig} {pid} failed");
    }
}

/// The state letter (`R`, `S`, `T`...) of each thread of process `pid`, from
/// `/proc/<pid>/task/<tid>/stat` (empty if it cannot be read).
fn thread_states(pid: u32) -> Vec<char> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("stat")).ok())
        .filter_map(|stat| {
            // "tid (comm) S ...": the state follows the last ')'.
            let rest = &stat[stat.rfind(')')? + 1..];
            rest.trim_start().chars().next()
        })
        .collect()
}

/// True if a start failure reads like a port taken by someone else.
fn port_conflict(err: &str) -> bool {
    let e = err.to_ascii_lowercase();
    e.contains("address already in use") || e.contains("addrinuse")
}

/// True if something accepts a TCP connection at `addr` (within 200 ms).
fn port_open(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// A port that was free a moment ago (see [`free_ports`]).
pub fn free_port() -> u16 {
    free_ports(1)[0]
}

/// `n` distinct ports that were free a moment ago (held together while picking, then
/// released). They are taken below the kernel's ephemeral range
/// (`/proc/sys/net/ipv4/ip_local_port_range`) when there is room, so the outgoing connections
/// of the tests and of the nodes (which get ephemeral ports) cannot take one between picking
/// and a node's (re)start; otherwise from port 0. Another process may still bind one meanwhile:
/// [`Cluster::start`] retries with fresh ports then.
pub fn free_ports(n: usize) -> Vec<u16> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|p| p.parse::<u16>().ok())
        })
        .unwrap_or(0);
    let mut held: Vec<TcpListener> = Vec::new();
    if low >= 12_000 {
        // A pseudo-random walk over [10000, low - 1000), different per process and call.
        let span = u64::from(low - 1000 - 10_000);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let mut x = nanos
            ^ (u64::from(std::process::id()) << 32)
            ^ CALLS
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for _ in 0..(n * 50) {
            if held.len() == n {
                break;
            }
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let port = 10_000 + (x % span) as u16;
            if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
                held.push(l);
            }
        }
    }
    while held.len() < n {
        held.push(TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"));
    }
    held.iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect()
}

/// A running cluster. Every node is killed (SIGKILL, by PID) on drop.
pub struct Cluster {
    /// The nodes, `n0`, `n1`, ...
    pub nodes: Vec<Node>,
    /// How it was started.
    pub opts: ClusterOpts,
    /// With [`Routes::SeedViaProxy`], entry `i` (> 0): the proxy node `i` dials node 0 through.
    proxies: Vec<Option<Proxy>>,
    /// With [`Routes::MeshViaProxies`], entry `i * len + j` (`i != j`): the proxy node `i`
    /// dials node `j` through.
    links: Vec<Option<Proxy>>,
}

/// How many times [`Cluster::start`] picks fresh ports when a node fails to start.
const START_ATTEMPTS: usize = 5;

impl Cluster {
    /// Starts one node per entry of `kinds` (node `i` runs `kinds[i]`), joined by routes as
    /// `opts` says. Returns once every node listens on its three ports; routes may still be
    /// forming (see [`Cluster::wait_formed`]). If a node fails to start because a picked port
    /// was taken meanwhile (its log says "address already in use"), every node is killed and
    /// the whole cluster is started again on fresh ports, up to 5 times; any other failure
    /// panics at once with the node's log.
    pub fn start(kinds: &[Kind], opts: ClusterOpts) -> Cluster {
        assert!(!kinds.is_empty(), "a cluster needs a node");
        let mut errors = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let mut cluster = Cluster::configure(kinds, opts.clone());
            match cluster.start_all() {
                Ok(()) => return cluster,
                Err(e) if port_conflict(&e) => errors.push(e),
                Err(e) => panic!("cluster of {kinds:?} did not start: {e}"),
            }
        }
        panic!(
            "cluster of {kinds:?} did not start in {START_ATTEMPTS} attempts:\n{}",
            errors.join("\n---\n")
        )
    }

    /// [`Cluster::start`] with the default options (full mesh, no JetStream).
    pub fn start_default(kinds: &[Kind]) -> Cluster {
        Cluster::start(kinds, ClusterOpts::default())
    }

    /// Picks ports and builds each node's arguments (nothing started).
    fn configure(kinds: &[Kind], opts: ClusterOpts) -> Cluster {
        let ports = free_ports(kinds.len() * 3);
        let ports: Vec<Ports> = ports
            .chunks(3)
            .map(|p| Ports {
                client: p[0],
                cluster: p[1],
                http: p[2],
            })
            .collect();
        let route_url = |i: usize| format!("nats://127.0.0.1:{}", ports[i].cluster);
        let seed_addr = SocketAddr::from(([127, 0, 0, 1], ports[0].cluster));
        let proxies: Vec<Option<Proxy>> = (0..kinds.len())
            .map(|i| {
                (opts.routes == Routes::SeedViaProxy && i > 0).then(|| Proxy::start(seed_addr))
            })
            .collect();
        let n = kinds.len();
        let links: Vec<Option<Proxy>> = (0..n * n)
            .map(|k| {
                let (i, j) = (k / n, k % n);
                (opts.routes == Routes::MeshViaProxies && i != j).then(|| {
                    let target = SocketAddr::from(([127, 0, 0, 1], ports[j].cluster));
                    Proxy::start_seeded(target, crate::proxy::DEFAULT_SEED ^ k as u64)
                })
            })
            .collect();
        let nodes = kinds
            .iter()
            .enumerate()
            .map(|(i, &kind)| {
                let name = format!("n{i}");
                let store = opts
                    .jetstream
                    .then(|| StoreDir::new(&format!("cluster-{name}")));
                let routes: Vec<String> = match opts.routes {
                    Routes::FullMesh => (0..kinds.len())
                        .filter(|&j| j != i)
                        .map(route_url)
                        .collect(),
                    Routes::Seed | Routes::SeedViaProxy if i == 0 => Vec::new(),
                    Routes::Seed => vec![route_url(0)],
                    Routes::SeedViaProxy => {
                        vec![proxies[i].as_ref().expect("proxy for node").url()]
                    }
                    Routes::MeshViaProxies => (0..n)
                        .filter(|&j| j != i)
                        .map(|j| links[i * n + j].as_ref().expect("link proxy").url())
                        .collect(),
                };
                let p = ports[i];
                let mut args: Vec<String> = vec![
                    "-n".into(),
                    name.clone(),
                    "-p".into(),
                    p.client.to_string(),
                    "-m".into(),
                    p.http.to_string(),
                    "--cluster".into(),
                    format!("nats://127.0.0.1:{}", p.cluster),
                    "--cluster_name".into(),
                    CLUSTER_NAME.into(),
                ];
                if !routes.is_empty() {
                    args.push("--routes".into());
                    args.push(routes.join(","));
                }
                if opts.routes == Routes::MeshViaProxies {
                    args.push("--cluster_advertise".into());
                    args.push(DEAD_ROUTE_ADDR.into());
                }
                if let Some(store) = &store {
                    args.extend(["-js".into(), "-sd".into(), store.as_str().to_owned()]);
                }
                args.extend(opts.extra_args.iter().cloned());
                Node {
                    kind,
                    name,
                    ports: p,
                    store,
                    args,
                    proc: None,
                }
            })
            .collect();
        Cluster {
            nodes,
            opts,
            proxies,
            links,
        }
    }

    fn start_all(&mut self) -> Result<(), String> {
        let timeout = self.opts.start_timeout;
        for node in &mut self.nodes {
            if let Err(e) = node.spawn(timeout) {
                self.kill_all();
                return Err(e);
            }
        }
        // A port found open may have been someone else's, with the node failing to bind it a
        // moment later: check that every node is still up.
        std::thread::sleep(Duration::from_millis(100));
        for i in 0..self.nodes.len() {
            if !self.nodes[i].is_running() {
                let log = self.nodes[i].log_lines().join("\n");
                let name = self.nodes[i].name.clone();
                self.kill_all();
                return Err(format!(
                    "{name} exited right after starting; it logged:\n{log}"
                ));
            }
        }
        Ok(())
    }

    fn kill_all(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
    }

    /// How many nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True if there are no nodes (never, for a started cluster).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Node `i`.
    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    /// The proxy node `i` (> 0) reaches node 0 through ([`Routes::SeedViaProxy`] only).
    pub fn proxy(&self, i: usize) -> &Proxy {
        self.proxies[i]
            .as_ref()
            .unwrap_or_else(|| panic!("node {i} has no proxy (Routes::SeedViaProxy, i > 0)"))
    }

    /// The proxy node `from` dials node `to` through ([`Routes::MeshViaProxies`] only).
    pub fn link_proxy(&self, from: usize, to: usize) -> &Proxy {
        self.links
            .get(from * self.nodes.len() + to)
            .and_then(Option::as_ref)
            .unwrap_or_else(|| panic!("no link proxy {from} -> {to} (Routes::MeshViaProxies)"))
    }

    /// Cuts the route between nodes `a` and `b` both ways ([`Proxy::cut`] on both link
    /// proxies; [`Routes::MeshViaProxies`] only) until [`Cluster::heal_links`].
    pub fn cut_link(&self, a: usize, b: usize) {
        self.link_proxy(a, b).cut();
        self.link_proxy(b, a).cut();
    }

    /// [`Proxy::heal`] on every link proxy (delay and drop rate stay as set).
    pub fn heal_links(&self) {
        for p in self.links.iter().flatten() {
            p.heal();
        }
    }

    /// Every link proxy, as `(from, to, proxy)` ([`Routes::MeshViaProxies`]; empty otherwise).
    pub fn link_proxies(&self) -> impl Iterator<Item = (usize, usize, &Proxy)> {
        let n = self.nodes.len();
        self.links
            .iter()
            .enumerate()
            .filter_map(move |(k, p)| p.as_ref().map(|p| (k / n, k % n, p)))
    }

    /// Empties node `i`'s store directory (with [`ClusterOpts::jetstream`]), as a disk replaced
    /// by a new one. Panics if the node is running: kill it first ([`Cluster::kill9`]).
    pub fn wipe_store(&mut self, i: usize) {
        assert!(
            !self.nodes[i].is_running(),
            "wipe the store of node {i} while it runs"
        );
        let store = self.nodes[i]
            .store
            .as_ref()
            .unwrap_or_else(|| panic!("node {i} has no store (ClusterOpts::jetstream)"));
        let path = store.path();
        std::fs::remove_dir_all(path).unwrap_or_else(|e| panic!("wipe {}: {e}", path.display()));
        std::fs::create_dir_all(path)
            .unwrap_or_else(|e| panic!("recreate {}: {e}", path.display()));
    }

    /// Node `i`'s client URL.
    pub fn url(&self, i: usize) -> String {
        self.nodes[i].url()
    }

    /// Node `i`'s client address.
    pub fn addr(&self, i: usize) -> SocketAddr {
        self.nodes[i].addr()
    }

    /// Every node's client URL, comma-separated (for a client given the whole cluster).
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(Node::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Kills node `i` with SIGKILL (no shutdown, no goodbye on its routes) and checks it is gone.
    pub fn kill9(&mut self, i: usize) {
        let pid = self.nodes[i].pid();
        self.nodes[i].kill();
        if let Some(pid) = pid {
            assert!(
                !std::path::Path::new(&format!("/proc/{pid}")).exists(),
                "node {i} (pid {pid}) still running after SIGKILL"
            );
        }
    }

    /// Starts node `i` again (after [`Cluster::kill9`]) with the same arguments: same ports,
    /// same routes, same store directory. Retries for a few seconds if a port is not free yet.
    pub fn restart(&mut self, i: usize) {
        self.nodes[i].kill();
        let timeout = self.opts.start_timeout;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.nodes[i].spawn(timeout) {
                Ok(()) => return,
                Err(e) if Instant::now() >= deadline => panic!("restart node {i}: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// Freezes node `i` (SIGSTOP): its sockets stay open but it answers nothing. Returns once
    /// every thread of the process is stopped (state `T` in `/proc/<pid>/task/*/stat`): the
    /// signal is only queued when `kill` returns, and a thread running on another CPU (or on a
    /// descheduled virtual CPU) can go on for a moment.
    pub fn sigstop(&mut self, i: usize) {
        self.nodes[i].signal("STOP");
        self.wait_threads(i, true);
    }

    /// Resumes node `i` after [`Cluster::sigstop`] (SIGCONT); returns once no thread of it is
    /// stopped any more.
    pub fn sigcont(&mut self, i: usize) {
        self.nodes[i].signal("CONT");
        self.wait_threads(i, false);
    }

    /// Waits (5 s at most; panics after) until every thread of node `i` is stopped (`stopped`)
    /// or none is.
    fn wait_threads(&self, i: usize, stopped: bool) {
        let pid = self.nodes[i].pid().expect("node running");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let states = thread_states(pid);
            let done = if stopped {
                !states.is_empty() && states.iter().all(|&s| s == 'T' || s == 't')
            } else {
                states.iter().all(|&s| s != 'T' && s != 't')
            };
            if done {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "node {i} (pid {pid}) threads {states:?}, want stopped={stopped}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// GETs `path` (e.g. `/routez`) from node `i`'s monitoring port and parses the JSON body.
    pub fn monitor(&self, i: usize, path: &str) -> Result<Value, String> {
        http_get_json(self.nodes[i].http_addr(), path, Duration::from_secs(2))
    }

    /// Node `i`'s `/routez` `num_routes`.
    pub fn num_routes(&self, i: usize) -> Result<u64, String> {
        let v = self.monitor(i, "/routez")?;
        v["num_routes"]
            .as_u64()
            .ok_or_else(|| format!("/routez of node {i} has no num_routes: {v}"))
    }

    /// Node `i`'s server id (`/varz` `server_id`).
    pub fn server_id(&self, i: usize) -> Result<String, String> {
        let v = self.monitor(i, "/varz")?;
        v["server_id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("/varz of node {i} has no server_id: {v}"))
    }

    /// The nodes node `i` has routes to, by index, sorted: its `/routez` `routes[].remote_id`
    /// matched against every running node's `/varz` `server_id` (2.9.10's /routez has no
    /// remote name). A route to a server that is not one of the nodes shows as `usize::MAX`.
    pub fn route_peers(&mut self, i: usize) -> Result<Vec<usize>, String> {
        let mut ids = HashMap::new();
        for j in 0..self.nodes.len() {
            if self.nodes[j].is_running() {
                ids.insert(self.server_id(j)?, j);
            }
        }
        let v = self.monitor(i, "/routez")?;
        let mut peers: Vec<usize> = v["routes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| {
                        r["remote_id"]
                            .as_str()
                            .and_then(|id| ids.get(id).copied())
                            .unwrap_or(usize::MAX)
                    })
                    .collect()
            })
            .unwrap_or_default();
        peers.sort();
        Ok(peers)
    }

    /// Waits until each of the nodes in `which` reports exactly `want` routes in `/routez`, all
    /// in the same poll (every 50 ms, for at most `timeout`); returns how long it took, or the
    /// last counts seen.
    pub fn wait_routes(
        &self,
        which: &[usize],
        want: u64,
        timeout: Duration,
    ) -> Result<Duration, String> {
        let start = Instant::now();
        loop {
            let seen: Vec<Result<u64, String>> =
                which.iter().map(|&i| self.num_routes(i)).collect();
            if seen.iter().all(|r| r.as_ref().is_ok_and(|&n| n == want)) {
                return Ok(start.elapsed());
            }
            if start.elapsed() >= timeout {
                return Err(format!(
                    "after {timeout:?}, nodes {which:?} report num_routes {seen:?} (want {want})"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until every running node sees a route to every other running node (`num_routes`
    /// == running - 1 on each); panics after `timeout` with what each node reported. Returns
    /// how long it took. Do not call with a node SIGSTOPped.
    pub fn wait_formed(&mut self, timeout: Duration) -> Duration {
        let running: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].is_running())
            .collect();
        let want = running.len().saturating_sub(1) as u64;
        self.wait_routes(&running, want, timeout)
            .unwrap_or_else(|e| panic!("cluster did not form: {e}"))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // A stopped process dies of SIGKILL as well.
        self.kill_all();
    }
}

/// GET `path` from `addr` over HTTP/1.0 (the server closes after the response), within
/// `timeout`; the body parsed as JSON. `Err` on a connect/read failure, a non-200 status or a
/// body that is not JSON. Handles a `Transfer-Encoding: chunked` body too.
pub fn http_get_json(addr: SocketAddr, path: &str, timeout: Duration) -> Result<Value, String> {
    let (status, body) = http_get(addr, path, timeout)?;
    if status != 200 {
        return Err(format!(
            "GET {path} on {addr}: status {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    serde_json::from_slice(&body).map_err(|e| {
        format!(
            "GET {path} on {addr}: body is not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        )
    })
}

/// GET `path` from `addr` over HTTP/1.0 within `timeout`: the status code and the body.
pub fn http_get(addr: SocketAddr, path: &str, timeout: Duration) -> Result<(u16, Vec<u8>), String> {
    let deadline = Instant::now() + timeout;
    let err = |e: std::io::Error| format!("GET {path} on {addr}: {e}");
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(err)?;
    s.set_write_timeout(Some(timeout)).map_err(err)?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\nAccept: application/json\r\n\r\n"
    )
    .map_err(err)?;
    let mut resp = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("GET {path} on {addr}: timed out"));
        }
        s.set_read_timeout(Some(left)).map_err(err)?;
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => resp.extend_from_slice(&buf[..n]),
            Err(e) => return Err(err(e)),
        }
    }
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("GET {path} on {addr}: no end of headers"))?;
    let head = String::from_utf8_lossy(&resp[..split]).into_owned();
    let body = resp[split + 4..].to_vec();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("GET {path} on {addr}: bad status line: {head}"))?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked { dechunk(&body)? } else { body };
    Ok((status, body))
}

/// Decodes a chunked HTTP body.
fn dechunk(mut b: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunked body: no chunk size line")?;
        let size_str = String::from_utf8_lossy(&b[..eol]);
        let size_str = size_str.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_str, 16)
            .map_err(|e| format!("chunked body: bad size {size_str:?}: {e}"))?;
        b = &b[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size {
            return Err("chunked body: truncated".into());
        }
        out.extend_from_slice(&b[..size]);
        b = b.get(size + 2..).unwrap_or(&[]);
    }
}

// ---------------------------------------------------------------------------------------------
// Waiting for interest to cross the routes.
//
// A server sends its interest (RS+/RS-) to its routes asynchronously: the PONG a client gets
// after a SUB says the SUB's server has it, not that the other servers do, so a publish on
// another server right after may find no interest there and be dropped. But a server sends the
// RS+/RS- lines that one client connection's SUBs/UNSUBs cause in the order the client sent
// them, on one route connection per pair of servers, and the peer applies them in that order.
// So after the subscriptions (or unsubscriptions) a test cares about, the same client
// subscribes to a fresh probe subject; once a probe published on server A reaches it, A has
// applied every interest change that client made before the probe. That is the barrier below:
// no fixed sleep, and bounded.
// ---------------------------------------------------------------------------------------------

/// How often the barriers publish another probe while waiting.
pub const PROBE_EVERY: Duration = Duration::from_millis(20);

/// A subject no test uses, for a probe.
fn probe_subject() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "_PROBE.{}.{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Waits (at most `timeout`; panics after) until every server that a client in `pubs` is
/// connected to has applied every interest change `sub` made so far (SUB, queue SUB, UNSUB):
/// see the comment above. `sub` must be the client that made the changes. Returns how many
/// probes were published in all.
pub async fn await_interest(
    sub: &async_nats::Client,
    pubs: &[&async_nats::Client],
    timeout: Duration,
) -> usize {
    use futures::StreamExt;
    let subject = probe_subject();
    let mut probe = sub
        .subscribe(subject.clone())
        .await
        .expect("probe subscribe");
    let deadline = tokio::time::Instant::now() + timeout;
    let mut sent = 0;
    for (k, p) in pubs.iter().enumerate() {
        let tag = bytes::Bytes::from(k.to_string());
        'this_pub: loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "interest did not reach publisher #{k}'s server within {timeout:?} ({sent} probes)"
            );
            p.publish(subject.clone(), tag.clone())
                .await
                .expect("probe publish");
            p.flush().await.expect("probe flush");
            sent += 1;
            let wait_until = tokio::time::Instant::now() + PROBE_EVERY;
            while let Ok(Some(m)) = tokio::time::timeout_at(wait_until, probe.next()).await {
                if m.payload == tag {
                    break 'this_pub;
                }
            }
        }
    }
    let _ = probe.unsubscribe().await;
    sent
}

/// [`await_interest`] for raw connections: `sub` made the interest changes; each of `pubs`
/// publishes probes (answered PINGs are read off `pubs`; anything else they receive is lost).
/// `sub` must have nothing else arriving meanwhile (what it receives is consumed). Uses sid
/// `probe_sid` on `sub`, unsubscribed before returning.
pub fn raw_await_interest(
    sub: &mut crate::raw::Raw,
    pubs: &mut [&mut crate::raw::Raw],
    probe_sid: u64,
    timeout: Duration,
) -> usize {
    let subject = probe_subject();
    sub.send(format!("SUB {subject} {probe_sid}\r\n").as_bytes());
    let deadline = Instant::now() + timeout;
    let mut sent = 0;
    for (k, p) in pubs.iter_mut().enumerate() {
        let tag = format!("{k:03}");
        let want = format!("MSG {subject} {probe_sid} 3\r\n{tag}\r\n");
        loop {
            assert!(
                Instant::now() < deadline,
                "interest did not reach raw publisher #{k}'s server within {timeout:?}"
            );
            p.send(format!("PUB {subject} 3\r\n{tag}\r\nPING\r\n").as_bytes());
            p.read_until(Duration::from_secs(5), |b| b.ends_with(b"PONG\r\n"));
            sent += 1;
            let got = sub.read_until(PROBE_EVERY, |b| {
                b.windows(want.len()).any(|w| w == want.as_bytes())
            });
            if got.windows(want.len()).any(|w| w == want.as_bytes()) {
                break;
            }
        }
    }
    sub.send(format!("UNSUB {probe_sid}\r\n").as_bytes());
    // Probes already on their way are dropped by the server once it has the UNSUB; the PONG
    // comes after any it delivered before.
    sub.sync();
    sent
}

/// Publishes `subject` (payload `retry-<n>`) from `publ` every [`PROBE_EVERY`] until each of
/// `subs` has received one (at most `timeout`; panics after), then waits until nothing more
/// arrives on any of them for 200 ms (the retries still in flight), so the next message on
/// each is the test's. For when the interest may be anywhere (a restarted node's routes, say)
/// and a barrier made by a probe subscription would not prove it. Returns how many were
/// published.
pub async fn publish_until_received(
    publ: &async_nats::Client,
    subject: &str,
    subs: &mut [&mut async_nats::Subscriber],
    timeout: Duration,
) -> usize {
    use futures::StreamExt;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut got = vec![false; subs.len()];
    let mut n = 0;
    while !got.iter().all(|&g| g) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{subject} published {n} times within {timeout:?}: received by {got:?}"
        );
        publ.publish(subject.to_owned(), format!("retry-{n}").into())
            .await
            .expect("publish");
        publ.flush().await.expect("flush");
        n += 1;
        tokio::time::sleep(PROBE_EVERY).await;
        for (k, s) in subs.iter_mut().enumerate() {
            while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(1), s.next()).await {
                got[k] = true;
            }
        }
    }
    for s in subs.iter_mut() {
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(200), s.next()).await {}
    }
    n
}

/// Connects one async-nats client to each node (default options; each knows only its node).
pub async fn connect_each(cluster: &Cluster) -> Vec<async_nats::Client> {
    let mut clients = Vec::new();
    for i in 0..cluster.len() {
        clients.push(crate::client::connect(&cluster.url(i)).await);
    }
    clients
}

/// Defines, for each case `NAME(kinds: &[Kind])` (an async fn of the calling test file), a
/// module `NAME` with three tests: `nats_server_3` (three nats-server 2.9.10 nodes, the
/// reference; skipped without nats-server), `sluice_3` and `mixed` (`[Sluice, Sluice,
/// NatsServer]`). Each body runs under `limit` ([`crate::client::bounded`]).
#[macro_export]
macro_rules! cluster_cases {
    (limit: $limit:expr; $($name:ident),* $(,)?) => {$(
        mod $name {
            use $crate::Kind::{NatsServer, Sluice};

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn nats_server_3() {
                if $crate::skip_without_nats_server() {
                    return;
                }
                $crate::client::bounded($limit, super::$name(&[NatsServer; 3])).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sluice_3() {
                $crate::client::bounded($limit, super::$name(&[Sluice; 3])).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn mixed() {
                if $crate::skip_without_nats_server() {
                    return;
                }
                $crate::client::bounded($limit, super::$name(&[Sluice, Sluice, NatsServer])).await
            }
        }
    )*};
}
