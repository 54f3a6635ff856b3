//! Record writers: the formats a crawl's records are written in.

use std::io::{self, Write};

use crate::record::PageRecord;

/// Writes crawl records to one output. A sink actor owns exactly one writer, so records
/// from many fetches never interleave (the actor does the job of a print lock).
pub trait RecordWriter: Send + 'static {
    /// Writes one record.
    ///
    /// # Errors
    /// The I/O error of the underlying output.
    fn write_record(&mut self, record: &PageRecord) -> io::Result<()>;

    /// Writes out everything buffered.
    ///
    /// # Errors
    /// The I/O error of the underlying output.
    fn flush(&mut self) -> io::Result<()>;
}

/// JSON Lines: one JSON object per record, one record per line.
///
/// Each record is written with a single `write_all` of a whole line, unbuffered: whenever
/// the process stops, the output ends with a complete record.
#[derive(Debug)]
pub struct JsonLinesWriter<W: Write> {
    out: W,
    line: Vec<u8>,
}

impl<W: Write> JsonLinesWriter<W> {
    /// A writer over `out`.
    pub fn new(out: W) -> Self {
        Self {
            out,
            line: Vec::with_capacity(1024),
        }
    }
}

impl<W: Write + Send + 'static> RecordWriter for JsonLinesWriter<W> {
    fn write_record(&mut self, record: &PageRecord) -> io::Result<()> {
        // Serialize first, so a failure never leaves half a line in the output.
        self.line.clear();
        serde_json::to_writer(&mut self.line, record).map_err(io::Error::other)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// One HTTP request and its response, as an archive stores them.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpExchange {
    /// The URL requested.
    pub url: url::Url,
    /// The address connected to, when known.
    pub remote_addr: Option<std::net::SocketAddr>,
    /// When the request started.
    pub date: std::time::SystemTime,
    /// The request headers sent, in order (the Host header first).
    pub request_headers: Vec<(String, String)>,
    /// The HTTP version of the response (`HTTP/1.1`).
    pub version: String,
    /// The response status.
    pub status: u16,
    /// The reason phrase received, when it is not the standard one for the status.
    pub reason: Option<String>,
    /// The response headers as received, in order.
    pub response_headers: Vec<(String, Vec<u8>)>,
    /// The body as received: still content-encoded (see the `content-encoding` header),
    /// de-chunked, at most the cap.
    pub body: bytes::Bytes,
    /// Whether the body was cut at the cap.
    pub truncated: bool,
    /// The request method (`GET`).
    pub method: String,
    /// The request body, if one was sent.
    pub request_body: bytes::Bytes,
}

impl HttpExchange {
    /// An exchange, for writers' tests and custom fetchers.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        url: url::Url,
        remote_addr: Option<std::net::SocketAddr>,
        date: std::time::SystemTime,
        request_headers: Vec<(String, String)>,
        version: String,
        status: u16,
        reason: Option<String>,
        response_headers: Vec<(String, Vec<u8>)>,
        body: bytes::Bytes,
        truncated: bool,
    ) -> Self {
        Self {
            url,
            remote_addr,
            date,
            request_headers,
            version,
            status,
            reason,
            response_headers,
            body,
            truncated,
            method: "GET".to_owned(),
            request_body: bytes::Bytes::new(),
        }
    }

    /// The same exchange for a request with another method or a body (a POST).
    #[must_use]
    pub fn with_request(mut self, method: &str, body: bytes::Bytes) -> Self {
        if !method.is_empty() {
            method.clone_into(&mut self.method);
        }
        self.request_body = body;
        self
    }
}

/// Writes HTTP exchanges to an archive (WARC, say). Like a [`RecordWriter`], it is owned by
/// one sink actor, so exchanges never interleave.
pub trait ExchangeWriter: Send + 'static {
    /// Writes one exchange.
    ///
    /// # Errors
    /// The I/O error of the underlying output.
    fn write_exchange(&mut self, exchange: &HttpExchange) -> io::Result<()>;

    /// Writes out everything buffered.
    ///
    /// # Errors
    /// The I/O error of the underlying output.
    fn flush(&mut self) -> io::Result<()>;
}

/// CSV (RFC 4180): a header row, then one row per record, with the JSON Lines fields in the
/// same order. `redirects` holds its JSON array; `error` becomes two columns, `error_kind`
/// and `error_message` (empty on success); empty cells stand for `null`.
#[derive(Debug)]
pub struct CsvWriter<W: Write> {
    out: W,
    header_written: bool,
    row: Vec<u8>,
}

/// The CSV columns, in order.
pub const CSV_COLUMNS: [&str; 17] = [
    "url",
    "final_url",
    "status",
    "depth",
    "parent",
    "content_type",
    "bytes",
    "truncated",
    "links",
    "new_links",
    "redirects",
    "attempts",
    "elapsed_ms",
    "fetched_at",
    "method",
    "error_kind",
    "error_message",
];

impl<W: Write> CsvWriter<W> {
    /// A writer over `out`; each row is written whole, in one write.
    pub fn new(out: W) -> Self {
        Self {
            out,
            header_written: false,
            row: Vec::with_capacity(1024),
        }
    }

    /// A writer that continues an output whose header row is already written (a resumed
    /// crawl's).
    pub fn continuing(out: W) -> Self {
        Self {
            header_written: true,
            ..Self::new(out)
        }
    }
}

fn csv_cell(row: &mut Vec<u8>, value: &str) {
    if value.contains([',', '"', '\n', '\r']) {
        row.push(b'"');
        row.extend_from_slice(value.replace('"', "\"\"").as_bytes());
        row.push(b'"');
    } else {
        row.extend_from_slice(value.as_bytes());
    }
}

impl<W: Write + Send + 'static> RecordWriter for CsvWriter<W> {
    fn write_record(&mut self, r: &PageRecord) -> io::Result<()> {
        self.row.clear();
        if !self.header_written {
            self.row.extend_from_slice(CSV_COLUMNS.join(",").as_bytes());
            self.row.extend_from_slice(b"\r\n");
        }
        let opt = |v: Option<String>| v.unwrap_or_default();
        let redirects = serde_json::to_string(&r.redirects).map_err(io::Error::other)?;
        let cells = [
            r.url.to_string(),
            r.final_url.to_string(),
            opt(r.status.map(|s| s.to_string())),
            r.depth.to_string(),
            opt(r.parent.as_ref().map(ToString::to_string)),
            opt(r.content_type.clone()),
            r.bytes.to_string(),
            r.truncated.to_string(),
            r.links.to_string(),
            r.new_links.to_string(),
            redirects,
            r.attempts.to_string(),
            r.elapsed_ms.to_string(),
            r.fetched_at.clone(),
            r.method.clone(),
            opt(r.error.as_ref().map(|e| e.kind.to_string())),
            opt(r.error.as_ref().map(|e| e.message.clone())),
        ];
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                self.row.push(b',');
            }
            csv_cell(&mut self.row, cell);
        }
        self.row.extend_from_slice(b"\r\n");
        self.out.write_all(&self.row)?;
        self.header_written = true;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Writes scraped items to one output. Like a [`RecordWriter`], it is owned by one sink
/// actor, so items never interleave.
///
/// # Example: one file per item type
/// ```
/// use std::collections::HashMap;
/// use std::io::{self, Write};
/// use arachne_core::ItemWriter;
///
/// #[derive(Default)]
/// struct ByKind(HashMap<String, Vec<u8>>);
///
/// impl ItemWriter for ByKind {
///     fn write_item(&mut self, kind: &str, item: &serde_json::Value) -> io::Result<()> {
///         let out = self.0.entry(kind.to_owned()).or_default();
///         serde_json::to_writer(&mut *out, item)?;
///         out.write_all(b"\n")
///     }
///     fn flush(&mut self) -> io::Result<()> {
///         Ok(())
///     }
/// }
///
/// let mut writer = ByKind::default();
/// writer.write_item("Book", &serde_json::json!({"title": "Dune"})).unwrap();
/// assert_eq!(writer.0["Book"], b"{\"title\":\"Dune\"}\n");
/// ```
pub trait ItemWriter: Send + 'static {
    /// Writes one item: its type's name (`Book`) and its JSON form.
    ///
    /// # Errors
    /// The I/O error of the underlying output.
    fn write_item(&mut self, kind: &str, item: &serde_json::Value) -> io::Result<()>;

    /// Writes out everything buffered.
    ///
    /// # Errors
    /// The I/O error of the underlying output.
    fn flush(&mut self) -> io::Result<()>;
}

/// Items as JSON Lines: one JSON value per line, fields in the order of their type, each
/// line written whole.
#[derive(Debug)]
pub struct JsonLinesItems<W: Write> {
    out: W,
    line: Vec<u8>,
}

impl<W: Write> JsonLinesItems<W> {
    /// A writer over `out`.
    pub fn new(out: W) -> Self {
        Self {
            out,
            line: Vec::with_capacity(256),
        }
    }
}

impl<W: Write + Send + 'static> ItemWriter for JsonLinesItems<W> {
    fn write_item(&mut self, _kind: &str, item: &serde_json::Value) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, item).map_err(io::Error::other)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Items as CSV (RFC 4180), as Scrapy's CSV exporter writes them: the columns are the
/// fields of the first item, in order; later items fill those columns (missing fields are
/// empty cells, other fields are left out). Strings go as they are, nested values as JSON,
/// `null` as an empty cell. An item that is not an object is one column, `value`.
#[derive(Debug)]
pub struct CsvItems<W: Write> {
    out: W,
    columns: Option<Vec<String>>,
    row: Vec<u8>,
}

impl<W: Write> CsvItems<W> {
    /// A writer over `out`; each row is written whole, in one write.
    pub fn new(out: W) -> Self {
        Self {
            out,
            columns: None,
            row: Vec::with_capacity(256),
        }
    }

    /// A writer that continues an output whose header row is already written (a resumed
    /// crawl's), with its columns: see [`CsvItems::header_columns`].
    pub fn continuing(out: W, columns: Vec<String>) -> Self {
        Self {
            columns: Some(columns),
            ..Self::new(out)
        }
    }

    /// The columns of a header row as this writer wrote it (without its line end): the
    /// cells, unquoted.
    pub fn header_columns(header: &str) -> Vec<String> {
        let mut columns = Vec::new();
        let mut cell = String::new();
        let mut quoted = false;
        let mut chars = header.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                ('"', _) => quoted = !quoted,
                (',', false) => columns.push(std::mem::take(&mut cell)),
                (c, _) => cell.push(c),
            }
        }
        columns.push(cell);
        columns
    }
}

impl<W: Write + Send + 'static> ItemWriter for CsvItems<W> {
    fn write_item(&mut self, _kind: &str, item: &serde_json::Value) -> io::Result<()> {
        use serde_json::Value;
        self.row.clear();
        if self.columns.is_none() {
            let columns: Vec<String> = match item {
                Value::Object(fields) => fields.keys().cloned().collect(),
                _ => vec!["value".to_owned()],
            };
            for (i, column) in columns.iter().enumerate() {
                if i > 0 {
                    self.row.push(b',');
                }
                csv_cell(&mut self.row, column);
            }
            self.row.extend_from_slice(b"\r\n");
            self.columns = Some(columns);
        }
        let text = |value: Option<&Value>| match value {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        let columns = self.columns.as_deref().unwrap_or_default();
        for (i, column) in columns.iter().enumerate() {
            if i > 0 {
                self.row.push(b',');
            }
            let cell = match item {
                Value::Object(fields) => text(fields.get(column)),
                other if column == "value" => text(Some(other)),
                _ => String::new(),
            };
            csv_cell(&mut self.row, &cell);
        }
        self.row.extend_from_slice(b"\r\n");
        self.out.write_all(&self.row)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{ErrorKind, RecordError, Redirect};

    fn sample() -> PageRecord {
        let url: url::Url = "http://a.test/x?a=1,2".parse().unwrap();
        PageRecord {
            url: url.clone(),
            final_url: url.clone(),
            status: Some(301),
            depth: 1,
            parent: None,
            content_type: Some("text/html; charset=\"utf-8\"".into()),
            bytes: 0,
            truncated: false,
            links: 0,
            new_links: 0,
            redirects: vec![Redirect {
                url: url.clone(),
                status: 301,
                location: None,
            }],
            attempts: 1,
            elapsed_ms: 2,
            fetched_at: "2026-01-01T00:00:00.000Z".into(),
            method: "GET".into(),
            error: Some(RecordError {
                kind: ErrorKind::RedirectLoop,
                message: "loop, again".into(),
            }),
        }
    }

    #[test]
    fn csv_rows_quote_and_flatten() {
        let record = sample();
        let mut out = CsvWriter::new(Vec::new());
        out.write_record(&record).unwrap();
        out.write_record(&record).unwrap();
        let text = String::from_utf8(out.out).unwrap();
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert!(lines[0].starts_with("url,final_url,status,"));
        assert_eq!(lines.len(), 4, "header, two rows, and the end");
        assert!(
            lines[1].starts_with("\"http://a.test/x?a=1,2\",\"http://a.test/x?a=1,2\",301,1,,")
        );
        assert!(lines[1].contains(",\"text/html; charset=\"\"utf-8\"\"\","));
        assert!(lines[1].ends_with(",redirect_loop,\"loop, again\""));
        assert_eq!(lines[1], lines[2]);
    }

    #[test]
    fn items_as_json_lines_and_csv() {
        let book = serde_json::json!({"title": "Dune, part 1", "price": 9.5, "tags": ["sf"], "isbn": null});
        let other = serde_json::json!({"price": 3, "title": "B", "extra": true});
        let mut jsonl = JsonLinesItems::new(Vec::new());
        jsonl.write_item("Book", &book).unwrap();
        let text = String::from_utf8(jsonl.out).unwrap();
        assert_eq!(
            text, "{\"title\":\"Dune, part 1\",\"price\":9.5,\"tags\":[\"sf\"],\"isbn\":null}\n",
            "field order kept"
        );

        let mut csv = CsvItems::new(Vec::new());
        csv.write_item("Book", &book).unwrap();
        csv.write_item("Book", &other).unwrap();
        csv.write_item("Text", &serde_json::json!("plain")).unwrap();
        let text = String::from_utf8(csv.out).unwrap();
        assert_eq!(
            text,
            "title,price,tags,isbn\r\n\"Dune, part 1\",9.5,\"[\"\"sf\"\"]\",\r\nB,3,,\r\n,,,\r\n"
        );

        // Continued after a restart: the columns come back from the header row.
        let header = text.split("\r\n").next().unwrap();
        let columns = CsvItems::<Vec<u8>>::header_columns(header);
        assert_eq!(columns, ["title", "price", "tags", "isbn"]);
        assert_eq!(
            CsvItems::<Vec<u8>>::header_columns("\"a,\"\"b\"\"\",c"),
            ["a,\"b\"", "c"]
        );
        let mut more = CsvItems::continuing(Vec::new(), columns);
        more.write_item("Book", &other).unwrap();
        assert_eq!(String::from_utf8(more.out).unwrap(), "B,3,,\r\n");
        let mut rows = CsvWriter::continuing(Vec::new());
        rows.write_record(&sample()).unwrap();
        assert!(!String::from_utf8(rows.out).unwrap().starts_with("url,"));
    }
}
