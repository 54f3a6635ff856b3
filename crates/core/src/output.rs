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
