//! A small HTTP/1.1 server on 127.0.0.1:0 that counts requests per path.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dashmap::DashMap;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// A request as the handler sees it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// The request target: path and query, as sent.
    pub target: String,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body (by `Content-Length`, at most 1 MiB).
    pub body: Bytes,
}

impl Request {
    /// The first value of a header (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `Host` header, or `127.0.0.1`.
    pub fn host(&self) -> &str {
        self.header("host").unwrap_or("127.0.0.1")
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

/// How the server misbehaves when sending a response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Behavior {
    /// A well-formed response.
    #[default]
    Normal,
    /// Reads the request and never answers (the connection stays open).
    NeverAnswer,
    /// Sends the status line and headers, then nothing more (slow loris).
    StallAfterHeaders,
    /// Sends the headers and this many bytes of the body, then resets the connection.
    ResetAfter(usize),
    /// Sends a chunked body that never ends.
    EndlessChunked,
    /// Answers normally after this long (without blocking other connections).
    Slow(Duration),
    /// Answers normally once this server has been asked for this target (path and query),
    /// or after a minute: to order events between requests without guessing at timings.
    AfterHit(&'static str),
}

/// A response to send.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Headers besides `Content-Length`, which the server adds.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
    /// How it is sent.
    pub behavior: Behavior,
}

impl Response {
    /// A response with a status and no body.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
            behavior: Behavior::Normal,
        }
    }

    /// Sends this response misbehaving.
    #[must_use]
    pub fn behave(mut self, behavior: Behavior) -> Self {
        self.behavior = behavior;
        self
    }

    /// A 200 `text/html; charset=utf-8` page.
    pub fn html(body: impl Into<Bytes>) -> Self {
        Self::status(200)
            .header("Content-Type", "text/html; charset=utf-8")
            .body(body)
    }

    /// A redirect to `location`.
    pub fn redirect(status: u16, location: &str) -> Self {
        Self::status(status).header("Location", location)
    }

    /// A 404 page.
    pub fn not_found() -> Self {
        Self::status(404)
            .header("Content-Type", "text/html")
            .body("<h1>Not found</h1>")
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }
}

type Handler = dyn Fn(&Request) -> Response + Send + Sync;

/// What the server saw of a client's politeness.
#[derive(Debug, Default)]
struct Politeness {
    in_flight: usize,
    max_in_flight: usize,
    /// When each request arrived, and its target, in order.
    starts: Vec<(Instant, String)>,
}

/// Counts a request in flight until dropped (also when the connection dies).
struct InFlight(Arc<Mutex<Politeness>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut log = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        log.in_flight -= 1;
    }
}

/// A running server. It stops when dropped.
pub struct TestServer {
    addr: SocketAddr,
    hits: Arc<DashMap<String, u64>>,
    total: Arc<AtomicU64>,
    politeness: Arc<Mutex<Politeness>>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server on 127.0.0.1 on a free port, answering every request with `handler`.
    ///
    /// # Panics
    /// When no port can be bound or the thread cannot start (a broken test machine).
    pub fn start(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> Self {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        std_listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = std_listener.local_addr().expect("local address");
        let hits = Arc::new(DashMap::new());
        let total = Arc::new(AtomicU64::new(0));
        let politeness = Arc::new(Mutex::new(Politeness::default()));
        let (shutdown, mut stop) = oneshot::channel::<()>();
        let handler: Arc<Handler> = Arc::new(handler);
        let state = (
            Arc::clone(&hits),
            Arc::clone(&total),
            Arc::clone(&politeness),
        );
        let thread = std::thread::Builder::new()
            .name(format!("testkit-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                let local = tokio::task::LocalSet::new();
                local.block_on(&runtime, async move {
                    let listener = TcpListener::from_std(std_listener).expect("tokio listener");
                    loop {
                        tokio::select! {
                            _ = &mut stop => break,
                            accepted = listener.accept() => {
                                let Ok((stream, _)) = accepted else { continue };
                                let handler = Arc::clone(&handler);
                                let (hits, total, log) = (Arc::clone(&state.0), Arc::clone(&state.1), Arc::clone(&state.2));
                                tokio::task::spawn_local(async move {
                                    let _ = serve(stream, &*handler, &hits, &total, &log).await;
                                });
                            }
                        }
                    }
                });
            })
            .expect("server thread");
        Self {
            addr,
            hits,
            total,
            politeness,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// The most requests this server had in flight at once (from the request line to the
    /// end of the response).
    pub fn max_in_flight(&self) -> usize {
        self.politeness
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .max_in_flight
    }

    /// The gaps between consecutive request arrivals, in order.
    pub fn gaps(&self) -> Vec<Duration> {
        let log = self
            .politeness
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        log.starts
            .windows(2)
            .map(|w| w[1].0.duration_since(w[0].0))
            .collect()
    }

    /// Every request's arrival time and target, in order.
    pub fn arrivals(&self) -> Vec<(Instant, String)> {
        self.politeness
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .starts
            .clone()
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `http://HOST:PORT` followed by `path`, for a host name resolved to this server.
    pub fn url_as(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.port())
    }

    /// How many requests came for a request target (path and query).
    pub fn hits(&self, target: &str) -> u64 {
        self.hits.get(target).map_or(0, |n| *n)
    }

    /// Requests per request target.
    pub fn all_hits(&self) -> HashMap<String, u64> {
        self.hits
            .iter()
            .map(|e| (e.key().clone(), *e.value()))
            .collect()
    }

    /// All requests received.
    pub fn total_requests(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves one connection: requests one after another while the client keeps it alive.
async fn serve(
    stream: TcpStream,
    handler: &Handler,
    hits: &DashMap<String, u64>,
    total: &AtomicU64,
    log: &Arc<Mutex<Politeness>>,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut stream = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut parts = line.split_ascii_whitespace();
        let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
            return Ok(());
        };
        let mut request = Request {
            method: method.to_owned(),
            target: target.to_owned(),
            headers: Vec::new(),
            body: Bytes::new(),
        };
        loop {
            line.clear();
            if stream.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                request
                    .headers
                    .push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let length = request
            .header("content-length")
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0)
            .min(1024 * 1024);
        if length > 0 {
            let mut body = vec![0; length];
            stream.read_exact(&mut body).await?;
            request.body = Bytes::from(body);
        }
        let _in_flight = {
            let mut politeness = log
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            politeness.in_flight += 1;
            politeness.max_in_flight = politeness.max_in_flight.max(politeness.in_flight);
            politeness
                .starts
                .push((Instant::now(), request.target.clone()));
            InFlight(Arc::clone(log))
        };
        *hits.entry(request.target.clone()).or_default() += 1;
        total.fetch_add(1, Ordering::Relaxed);
        let close = request
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let response = handler(&request);
        match response.behavior {
            Behavior::NeverAnswer => std::future::pending::<()>().await,
            Behavior::Slow(wait) => tokio::time::sleep(wait).await,
            Behavior::AfterHit(target) => {
                let deadline = Instant::now() + Duration::from_secs(60);
                while hits.get(target).is_none() && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            _ => {}
        }
        let mut head = format!(
            "HTTP/1.1 {} {}\r\n",
            response.status,
            reason(response.status)
        );
        for (name, value) in &response.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if response.behavior == Behavior::EndlessChunked {
            head.push_str("Transfer-Encoding: chunked\r\n\r\n");
        } else {
            head.push_str(&format!("Content-Length: {}\r\n\r\n", response.body.len()));
        }
        let out = stream.get_mut();
        out.write_all(head.as_bytes()).await?;
        match response.behavior {
            Behavior::StallAfterHeaders => std::future::pending::<()>().await,
            Behavior::ResetAfter(n) => {
                out.write_all(&response.body[..n.min(response.body.len())])
                    .await?;
                out.flush().await?;
                // Give the client time to read what was sent, then reset.
                tokio::time::sleep(Duration::from_millis(20)).await;
                out.set_zero_linger()?;
                return Ok(());
            }
            Behavior::EndlessChunked => {
                let chunk = format!("4000\r\n{}\r\n", "x".repeat(0x4000));
                loop {
                    out.write_all(chunk.as_bytes()).await?;
                }
            }
            Behavior::Normal
            | Behavior::NeverAnswer
            | Behavior::Slow(_)
            | Behavior::AfterHit(_) => {}
        }
        if request.method != "HEAD" {
            out.write_all(&response.body).await?;
        }
        if close {
            return Ok(());
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        404 => "Not Found",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Gzip-compresses a body (for `Content-Encoding: gzip` responses).
pub fn gzip(body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(body).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

/// Brotli-compresses a body (for `Content-Encoding: br` responses).
pub fn brotli(body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut out = Vec::new();
    {
        let mut encoder = brotli::CompressorWriter::new(&mut out, 4096, 9, 22);
        encoder.write_all(body).expect("writing to memory");
    }
    out
}
