//! WARC 1.1 output for [arachne](https://docs.rs/arachne).
//!
//! [`WarcWriter`] is an [`ExchangeWriter`]: it writes a `warcinfo` record at the start of each
//! file, then a `response` and a `request` record per HTTP exchange (linked with
//! `WARC-Concurrent-To`), each record its own gzip member, as `warcio` and the Wayback
//! tools require. Records carry `WARC-Record-ID`, `WARC-Date`, `WARC-Target-URI`,
//! `WARC-IP-Address` (when known), SHA-1 `WARC-Block-Digest` and `WARC-Payload-Digest` in
//! base32, and an exact `Content-Length`.
//!
//! Responses are stored as received: the status line, the headers in their order, and the
//! body still content-encoded (gzip stays gzip). Only the transfer framing differs: bodies
//! are stored de-chunked, so a `Transfer-Encoding` header is renamed
//! `X-Archive-Orig-Transfer-Encoding`, and `Content-Length` is the stored length (an
//! original that differs, for a chunked or cut body, is renamed
//! `X-Archive-Orig-Content-Length`; a cut body is also marked `WARC-Truncated: length`).
//! Readers then replay the records correctly; the `warcinfo` record says so. Header names
//! are in the lower case the HTTP client gives them (they are case-insensitive). Request
//! records hold the request line and the headers the crawler sends.
//!
//! ```
//! use arachne_core::{ExchangeWriter, HttpExchange};
//! use arachne_warc::{WarcWriter, read_warc};
//!
//! let dir = std::env::temp_dir().join(format!("warc-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("example.warc.gz");
//! let mut warc = WarcWriter::create(&path, None, "arachne-doc").unwrap();
//! let exchange = HttpExchange::new(
//!     "http://a.test/".parse().unwrap(),
//!     None,
//!     std::time::SystemTime::now(),
//!     vec![("Host".into(), "a.test".into())],
//!     "HTTP/1.1".into(),
//!     200,
//!     None,
//!     vec![("content-type".into(), b"text/html".to_vec())],
//!     "<p>hi</p>".into(),
//!     false,
//! );
//! warc.write_exchange(&exchange).unwrap();
//! warc.flush().unwrap();
//! let records = read_warc(&path).unwrap();
//! assert_eq!(records.len(), 3); // warcinfo, response, request
//! assert_eq!(records[1].header("WARC-Type"), Some("response"));
//! assert!(records[1].payload().unwrap().ends_with(b"<p>hi</p>"));
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use arachne_core::{ExchangeWriter, HttpExchange};
use flate2::Compression;
use flate2::write::GzEncoder;
use sha1::{Digest, Sha1};

/// Writes WARC 1.1 files, gzipped per record, rotating to a new file past a size.
#[derive(Debug)]
pub struct WarcWriter {
    /// The path given; with rotation, files are numbered from it.
    base: PathBuf,
    max_size: Option<u64>,
    /// Files started so far.
    files: usize,
    file: File,
    /// Bytes written to the current file.
    written: u64,
    /// Written into each `warcinfo` record.
    software: String,
}

impl WarcWriter {
    /// Creates (truncates) the WARC file at `path` and writes its `warcinfo` record. With
    /// `max_size`, a new file is started when the current one has reached that many bytes,
    /// and files are named `NAME-00000.warc.gz`, `NAME-00001.warc.gz`, ... after `path`.
    ///
    /// # Errors
    /// The error creating or writing the file.
    pub fn create(
        path: impl AsRef<Path>,
        max_size: Option<u64>,
        software: &str,
    ) -> io::Result<Self> {
        let base = path.as_ref().to_owned();
        let first = numbered(&base, max_size.map(|_| 0));
        let file = File::create(&first)?;
        let mut writer = Self {
            base,
            max_size,
            files: 1,
            file,
            written: 0,
            software: software.to_owned(),
        };
        writer.write_warcinfo(&first)?;
        Ok(writer)
    }

    /// Continues a WARC output that a crawl stopped writing: the `files`-th file (counting
    /// from 1; numbered when `max_size` is set) is cut back to `length` bytes, files after
    /// it are removed, and records are appended from there, with no new `warcinfo`. A
    /// crawl with a state file uses this to resume, with the position it last committed
    /// ([`WarcWriter::position`]), so that no record is written twice.
    ///
    /// # Errors
    /// The file is missing or shorter than `length` (it was changed since), or cannot be
    /// opened.
    pub fn resume(
        path: impl AsRef<Path>,
        max_size: Option<u64>,
        software: &str,
        files: usize,
        length: u64,
    ) -> io::Result<Self> {
        let base = path.as_ref().to_owned();
        let files = files.max(1);
        let current = Self::file_path(&base, max_size, files);
        let file = std::fs::OpenOptions::new().write(true).open(&current)?;
        let found = file.metadata()?.len();
        if found < length {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} has {found} bytes, fewer than the {length} the crawl wrote to it",
                    current.display()
                ),
            ));
        }
        file.set_len(length)?;
        let mut file = file;
        std::io::Seek::seek(&mut file, io::SeekFrom::End(0))?;
        if max_size.is_some() {
            // Files started after the commit hold only records written again now.
            for later in files.. {
                match std::fs::remove_file(numbered(&base, Some(later))) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(Self {
            base,
            max_size,
            files,
            file,
            written: length,
            software: software.to_owned(),
        })
    }

    /// Where the writer is: the files started (1 without rotation) and the bytes written
    /// to the last one. Every record is written whole, so this is always the end of a
    /// record.
    pub fn position(&self) -> (usize, u64) {
        (self.files, self.written)
    }

    /// Writes out what the operating system buffers for the current file, to the disk.
    ///
    /// # Errors
    /// The I/O error.
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.flush()?;
        self.file.sync_data()
    }

    /// The path of the `file`-th file (counting from 1) that a writer created for `path`
    /// writes: `path` itself without `max_size`, else the numbered file.
    pub fn file_path(path: impl AsRef<Path>, max_size: Option<u64>, file: usize) -> PathBuf {
        numbered(path.as_ref(), max_size.map(|_| file.saturating_sub(1)))
    }

    /// The paths of the files written so far.
    pub fn paths(&self) -> Vec<PathBuf> {
        match self.max_size {
            None => vec![self.base.clone()],
            Some(_) => (0..self.files)
                .map(|i| numbered(&self.base, Some(i)))
                .collect(),
        }
    }

    fn write_warcinfo(&mut self, path: &Path) -> io::Result<()> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let fields = format!(
            "software: {}\r\nformat: WARC File Format 1.1\r\nconformsTo: https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\n\
             description: HTTP responses are stored as received but de-chunked: Transfer-Encoding and a Content-Length that differs from the stored length are renamed X-Archive-Orig-*. Request records are the request as sent.\r\n",
            self.software
        );
        let headers = vec![
            ("WARC-Type", "warcinfo".to_owned()),
            ("WARC-Record-ID", record_id()),
            ("WARC-Date", warc_date(SystemTime::now())),
            ("WARC-Filename", name),
            ("Content-Type", "application/warc-fields".to_owned()),
        ];
        self.write_record(headers, fields.as_bytes(), None)
    }

    /// Writes one record as its own gzip member, in one write.
    fn write_record(
        &mut self,
        mut headers: Vec<(&str, String)>,
        block: &[u8],
        payload: Option<&[u8]>,
    ) -> io::Result<()> {
        headers.push(("WARC-Block-Digest", sha1_base32(block)));
        if let Some(payload) = payload {
            headers.push(("WARC-Payload-Digest", sha1_base32(payload)));
        }
        headers.push(("Content-Length", block.len().to_string()));
        let mut record = Vec::with_capacity(block.len() + 512);
        record.extend_from_slice(b"WARC/1.1\r\n");
        for (name, value) in &headers {
            record.extend_from_slice(name.as_bytes());
            record.extend_from_slice(b": ");
            record.extend_from_slice(value.as_bytes());
            record.extend_from_slice(b"\r\n");
        }
        record.extend_from_slice(b"\r\n");
        record.extend_from_slice(block);
        record.extend_from_slice(b"\r\n\r\n");
        let mut gz = GzEncoder::new(
            Vec::with_capacity(record.len() / 3 + 64),
            Compression::default(),
        );
        gz.write_all(&record)?;
        let member = gz.finish()?;
        self.file.write_all(&member)?;
        self.written += member.len() as u64;
        Ok(())
    }

    fn rotate_if_full(&mut self) -> io::Result<()> {
        if self.max_size.is_some_and(|max| self.written >= max) {
            self.file.flush()?;
            let next = numbered(&self.base, Some(self.files));
            self.file = File::create(&next)?;
            self.files += 1;
            self.written = 0;
            self.write_warcinfo(&next)?;
        }
        Ok(())
    }
}

impl ExchangeWriter for WarcWriter {
    fn write_exchange(&mut self, exchange: &HttpExchange) -> io::Result<()> {
        self.rotate_if_full()?;
        let date = warc_date(exchange.date);
        let uri = exchange.url.to_string();
        let response_id = record_id();

        let reason = exchange
            .reason
            .as_deref()
            .unwrap_or_else(|| reason(exchange.status));
        let mut head =
            format!("{} {} {reason}\r\n", exchange.version, exchange.status).into_bytes();
        let length = exchange.body.len().to_string();
        let mut length_kept = false;
        for (name, value) in &exchange.response_headers {
            // The payload is stored de-chunked and maybe cut: a Transfer-Encoding, or a
            // Content-Length that no longer matches, would mislead readers.
            let is_length = name.eq_ignore_ascii_case("content-length");
            let keep_length = is_length && !length_kept && value[..] == *length.as_bytes();
            length_kept |= keep_length;
            if name.eq_ignore_ascii_case("transfer-encoding") || (is_length && !keep_length) {
                head.extend_from_slice(b"X-Archive-Orig-");
            }
            head.extend_from_slice(name.as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value);
            head.extend_from_slice(b"\r\n");
        }
        if !length_kept {
            head.extend_from_slice(format!("Content-Length: {length}\r\n").as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        let mut block = head;
        block.extend_from_slice(&exchange.body);

        let mut headers = vec![
            ("WARC-Type", "response".to_owned()),
            ("WARC-Record-ID", response_id.clone()),
            ("WARC-Date", date.clone()),
            ("WARC-Target-URI", uri.clone()),
        ];
        if let Some(addr) = exchange.remote_addr {
            headers.push(("WARC-IP-Address", addr.ip().to_string()));
        }
        if exchange.truncated {
            headers.push(("WARC-Truncated", "length".to_owned()));
        }
        headers.push((
            "Content-Type",
            "application/http; msgtype=response".to_owned(),
        ));
        self.write_record(headers, &block, Some(&exchange.body))?;

        let target = match exchange.url.query() {
            Some(query) => format!("{}?{query}", exchange.url.path()),
            None => exchange.url.path().to_owned(),
        };
        let mut request = format!("{} {target} HTTP/1.1\r\n", exchange.method);
        for (name, value) in &exchange.request_headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        let mut headers = vec![
            ("WARC-Type", "request".to_owned()),
            ("WARC-Record-ID", record_id()),
            ("WARC-Date", date),
            ("WARC-Target-URI", uri),
            ("WARC-Concurrent-To", response_id),
        ];
        if let Some(addr) = exchange.remote_addr {
            headers.push(("WARC-IP-Address", addr.ip().to_string()));
        }
        headers.push((
            "Content-Type",
            "application/http; msgtype=request".to_owned(),
        ));
        let mut block = request.into_bytes();
        block.extend_from_slice(&exchange.request_body);
        self.write_record(headers, &block, Some(&exchange.request_body))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()?;
        self.file.sync_data()
    }
}

/// `NAME.warc.gz` or, with a number, `NAME-00003.warc.gz`.
fn numbered(base: &Path, index: Option<usize>) -> PathBuf {
    let Some(index) = index else {
        return base.to_owned();
    };
    let name = base
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (stem, ext) = match name.find(".warc") {
        Some(at) => name.split_at(at),
        None => (name.as_str(), ".warc.gz"),
    };
    base.with_file_name(format!("{stem}-{index:05}{ext}"))
}

/// A random (version 4) UUID as a WARC record id.
fn record_id() -> String {
    let mut bytes = [0u8; 16];
    bytes.iter_mut().for_each(|b| *b = fastrand::u8(..));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "<urn:uuid:{}-{}-{}-{}-{}>",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn warc_date(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// `sha1:` and the SHA-1 of `data` in RFC 4648 base32: the form of `WARC-Block-Digest` and
/// `WARC-Payload-Digest`.
pub fn sha1_base32(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = Sha1::digest(data);
    let mut out = String::from("sha1:");
    let mut buffer = 0u32;
    let mut bits = 0;
    for &byte in digest.iter() {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// A record read back from a WARC file.
#[derive(Debug, Clone)]
pub struct WarcRecord {
    /// The WARC headers, in order.
    pub headers: Vec<(String, String)>,
    /// The record block.
    pub block: Vec<u8>,
}

impl WarcRecord {
    /// The first value of a WARC header (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The HTTP payload of a `response` record: the block after the HTTP headers.
    pub fn payload(&self) -> Option<&[u8]> {
        let at = self.block.windows(4).position(|w| w == b"\r\n\r\n")?;
        Some(&self.block[at + 4..])
    }

    /// The HTTP status of a `response` record.
    pub fn http_status(&self) -> Option<u16> {
        let line = self.block.split(|&b| b == b'\n').next()?;
        std::str::from_utf8(line)
            .ok()?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }
}

/// Reads every record of a (gzipped or plain) WARC file, checking `Content-Length` framing.
///
/// # Errors
/// I/O errors, and `InvalidData` for a malformed record.
pub fn read_warc(path: impl AsRef<Path>) -> io::Result<Vec<WarcRecord>> {
    let mut raw = Vec::new();
    File::open(path)?.read_to_end(&mut raw)?;
    let data = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..]).read_to_end(&mut out)?;
        out
    } else {
        raw
    };
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let mut reader = BufReader::new(&data[..]);
    let mut records = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(records);
        }
        if line.trim().is_empty() {
            continue;
        }
        if line.trim_end() != "WARC/1.1" {
            return Err(bad(&format!("expected a WARC/1.1 record, found {line:?}")));
        }
        let mut headers = Vec::new();
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header
                .split_once(':')
                .ok_or_else(|| bad("malformed WARC header"))?;
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
        let length: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("Content-Length"))
            .and_then(|(_, v)| v.parse().ok())
            .ok_or_else(|| bad("record without Content-Length"))?;
        let mut block = vec![0; length];
        reader.read_exact(&mut block)?;
        let mut end = [0u8; 4];
        reader.read_exact(&mut end)?;
        if &end != b"\r\n\r\n" {
            return Err(bad("record not followed by CRLF CRLF"));
        }
        records.push(WarcRecord { headers, block });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_sha1() {
        // sha1("") = da39a3ee5e6b4b0d3255bfef95601890afd80709
        assert_eq!(sha1_base32(b""), "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ");
        assert_eq!(sha1_base32(b"abc"), "sha1:VGMT4NSHA2AWVOR6EVYXQUGCNSONBWE5");
    }

    #[test]
    fn record_ids_are_uuids() {
        let id = record_id();
        assert_eq!(id.len(), "<urn:uuid:>".len() + 36);
        assert_eq!(&id[24..25], "4");
        assert_ne!(id, record_id());
    }

    #[test]
    fn numbered_names() {
        assert_eq!(
            numbered(Path::new("/x/crawl.warc.gz"), Some(3)),
            Path::new("/x/crawl-00003.warc.gz")
        );
        assert_eq!(
            numbered(Path::new("out"), Some(0)),
            Path::new("out-00000.warc.gz")
        );
        assert_eq!(
            numbered(Path::new("a.warc.gz"), None),
            Path::new("a.warc.gz")
        );
    }
}
