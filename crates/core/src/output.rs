//! Record writers: the formats a crawl's records are written in.

use std::io::{self, BufWriter, Write};

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
#[derive(Debug)]
pub struct JsonLinesWriter<W: Write> {
    out: BufWriter<W>,
}

impl<W: Write> JsonLinesWriter<W> {
    /// A writer over `out` (buffered here: pass an unbuffered writer).
    pub fn new(out: W) -> Self {
        Self {
            out: BufWriter::with_capacity(64 * 1024, out),
        }
    }
}

impl<W: Write + Send + 'static> RecordWriter for JsonLinesWriter<W> {
    fn write_record(&mut self, record: &PageRecord) -> io::Result<()> {
        // Serialize first, so a failure never leaves half a line in the output.
        let mut line = serde_json::to_vec(record).map_err(io::Error::other)?;
        line.push(b'\n');
        self.out.write_all(&line)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
