//! A `redis-server` of a test's own: started on a free port of 127.0.0.1 with its data in
//! a folder of its own (append-only file on), killed when dropped.

use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A `redis-server` process of the test's own.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    /// `appendfsync`: `always` for the tests (a killed server loses nothing).
    fsync: &'static str,
    /// Started as a node of a Redis Cluster.
    cluster: bool,
}

/// A Redis Cluster of the test's own: `redis-server` nodes on free ports of 127.0.0.1,
/// the 16,384 hash slots split evenly among them, no replicas. Dropped, its nodes are
/// killed.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

/// Whether `redis-server` can be run here.
pub fn redis_installed() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A port to try: spread over the unprivileged range (below 55,536, so that a cluster
/// node's bus port, 10,000 above, is one too), different for each try.
fn some_port() -> u16 {
    static TRIES: AtomicU64 = AtomicU64::new(0);
    let seed = u64::from(std::process::id())
        ^ TRIES
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ u64::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos()),
        );
    let mixed = seed.wrapping_mul(0xbf58_476d_1ce4_e5b9) >> 33;
    20_000 + u16::try_from(mixed % 35_000).unwrap_or(0)
}

impl RedisServer {
    /// Starts a server with an empty folder of its own, its append-only file synced at
    /// every write (`appendfsync always`): killed, it loses nothing.
    ///
    /// # Panics
    /// When no server starts after many ports were tried (`redis-server` missing, say).
    pub fn start() -> Self {
        Self::start_with_fsync("always")
    }

    /// Starts a server with another `appendfsync` policy (`everysec`, as production
    /// servers often run, for benchmarks).
    ///
    /// # Panics
    /// As [`RedisServer::start`].
    pub fn start_with_fsync(fsync: &'static str) -> Self {
        Self::start_as(fsync, false)
    }

    fn start_as(fsync: &'static str, cluster: bool) -> Self {
        static SERVERS: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "arachne-redis-{}-{}",
            std::process::id(),
            SERVERS.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a folder for the server's data");
        for _ in 0..50 {
            let port = some_port();
            if let Ok(child) = spawn(port, &dir, fsync, cluster) {
                return Self {
                    child: Some(child),
                    port,
                    dir,
                    fsync,
                    cluster,
                };
            }
        }
        panic!("redis-server did not start (is it installed? apt-get install -y redis-server)");
    }

    /// Its URL: `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills it with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills it with SIGKILL and starts it again on the same port, from its append-only
    /// file.
    ///
    /// # Panics
    /// When it does not come back within a minute.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match spawn(self.port, &self.dir, self.fsync, self.cluster) {
                Ok(child) => {
                    self.child = Some(child);
                    return;
                }
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("redis-server did not come back on its port: {e}"),
            }
        }
    }

    /// Sends one command and returns the reply as text (bulk strings and integers; an
    /// array's elements one per line).
    ///
    /// # Errors
    /// The server did not answer.
    pub fn command(&self, args: &[&str]) -> io::Result<String> {
        command(self.port, args)
    }

    /// A field of `INFO` (`used_memory`, say).
    ///
    /// # Errors
    /// The server did not answer, or has no such field.
    pub fn info(&self, field: &str) -> io::Result<String> {
        let info = self.command(&["INFO"])?;
        info.lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .map(|value| value.trim().to_owned())
            .ok_or_else(|| io::Error::other(format!("INFO has no {field}")))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl RedisCluster {
    /// Starts `nodes` servers (append-only files synced at every write) and makes them one
    /// cluster, each serving an equal range of the hash slots; returns once every node
    /// says the cluster is ok.
    ///
    /// # Panics
    /// When a node does not start, or the cluster does not form within a minute.
    pub fn start(nodes: usize) -> Self {
        let nodes: Vec<RedisServer> = (0..nodes.max(1))
            .map(|_| RedisServer::start_as("always", true))
            .collect();
        let slots = 16_384 / nodes.len();
        for (i, node) in nodes.iter().enumerate() {
            let first = i * slots;
            let last = if i + 1 == nodes.len() {
                16_383
            } else {
                first + slots - 1
            };
            node.command(&[
                "CLUSTER",
                "ADDSLOTSRANGE",
                &first.to_string(),
                &last.to_string(),
            ])
            .expect("slots for a cluster node");
        }
        for node in &nodes[1..] {
            nodes[0]
                .command(&["CLUSTER", "MEET", "127.0.0.1", &node.port.to_string()])
                .expect("the cluster's nodes meet");
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while !nodes.iter().all(|node| {
            node.command(&["CLUSTER", "INFO"])
                .is_ok_and(|info| info.contains("cluster_state:ok"))
        }) {
            assert!(Instant::now() < deadline, "the Redis Cluster did not form");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { nodes }
    }

    /// The URL of its first node: a client finds the others from there.
    pub fn url(&self) -> String {
        self.nodes[0].url()
    }

    /// Its nodes.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }
}

/// Starts `redis-server` on `port` with its data in `dir` (a cluster node when `cluster`),
/// and waits until it answers as itself (not another process that holds the port).
fn spawn(port: u16, dir: &Path, fsync: &str, cluster: bool) -> io::Result<Child> {
    let mut server = Command::new("redis-server");
    if cluster {
        server.args([
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
        ]);
    }
    let mut child = server
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "yes", "--appendfsync", fsync])
        .args(["--loglevel", "warning", "--logfile", "redis.log"])
        .arg("--dir")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            return Err(io::Error::other(format!(
                "redis-server exited ({status}): port {port} in use?"
            )));
        }
        if let Ok(found) = command(port, &["CONFIG", "GET", "dir"])
            && found.lines().any(|line| Path::new(line) == dir)
            && command(port, &["PING"]).is_ok_and(|pong| pong == "PONG")
        {
            return Ok(child);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    Err(io::Error::other("redis-server did not answer"))
}

fn command(port: u16, args: &[&str]) -> io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut out = format!("*{}\r\n", args.len());
    for arg in args {
        out.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(out.as_bytes())?;
    let mut reader = BufReader::new(stream);
    let mut text = String::new();
    read_reply(&mut reader, &mut text)?;
    Ok(text.trim_end().to_owned())
}

fn read_reply(reader: &mut impl BufRead, text: &mut String) -> io::Result<()> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let line = line.trim_end();
    let (kind, rest) = line.split_at(1.min(line.len()));
    match kind {
        "+" | ":" => {
            text.push_str(rest);
            text.push('\n');
        }
        "-" => return Err(io::Error::other(rest.to_owned())),
        "$" => {
            let len: i64 = rest.parse().map_err(io::Error::other)?;
            if let Ok(len) = usize::try_from(len) {
                let mut body = vec![0; len + 2];
                reader.read_exact(&mut body)?;
                body.truncate(len);
                text.push_str(&String::from_utf8_lossy(&body));
                text.push('\n');
            }
        }
        "*" => {
            let n: i64 = rest.parse().map_err(io::Error::other)?;
            for _ in 0..n.max(0) {
                read_reply(reader, text)?;
            }
        }
        _ => return Err(io::Error::other(format!("not a Redis reply: {line}"))),
    }
    Ok(())
}
