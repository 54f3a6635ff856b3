//! The sink actor: the one writer of an output.

use std::io;

use actix::{Actor, Context, Handler, Message};
use arachne_core::{PageRecord, RecordWriter};

/// Write one record.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct WriteRecord(pub std::sync::Arc<PageRecord>);

/// Write out everything buffered; answers with the first error met since the start.
#[derive(Message)]
#[rtype(result = "io::Result<()>")]
pub(crate) struct Flush;

/// Owns one output. Runs on an arbiter thread of its own, since writes block.
pub(crate) struct Sink {
    writer: Box<dyn RecordWriter>,
    /// The first write error. Later records are dropped (the output is broken anyway) and
    /// the error is reported when the crawl ends.
    error: Option<io::Error>,
}

impl Sink {
    pub fn new(writer: Box<dyn RecordWriter>) -> Self {
        Self {
            writer,
            error: None,
        }
    }
}

impl Actor for Sink {
    type Context = Context<Self>;
}

/// Appends a record to the output.
impl Handler<WriteRecord> for Sink {
    type Result = ();

    fn handle(&mut self, msg: WriteRecord, _: &mut Self::Context) {
        if self.error.is_none()
            && let Err(e) = self.writer.write_record(&msg.0)
        {
            self.error = Some(e);
        }
    }
}

/// Flushes the output.
impl Handler<Flush> for Sink {
    type Result = io::Result<()>;

    fn handle(&mut self, _: Flush, _: &mut Self::Context) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.writer.flush()
    }
}
