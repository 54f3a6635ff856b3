//! The sink actor: the one writer of an output.

use std::io;

use actix::{Actor, Context, Handler, Message};
use arachne_core::{ExchangeWriter, HttpExchange, ItemWriter, PageRecord, RecordWriter};

/// Write one record.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct WriteRecord(pub std::sync::Arc<PageRecord>);

/// Write one HTTP exchange (to an archive).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct WriteExchange(pub std::sync::Arc<HttpExchange>);

/// Write one item: its type's name and its JSON form.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct WriteItem(pub &'static str, pub std::sync::Arc<serde_json::Value>);

/// What a sink writes to.
pub(crate) enum Output {
    Records(Box<dyn RecordWriter>),
    Exchanges(Box<dyn ExchangeWriter>),
    Items(Box<dyn ItemWriter>),
}

/// Write out everything buffered; answers with the first error met since the start.
#[derive(Message)]
#[rtype(result = "io::Result<()>")]
pub(crate) struct Flush;

/// Owns one output. Runs on an arbiter thread of its own, since writes block.
pub(crate) struct Sink {
    writer: Output,
    /// The first write error. Later records are dropped (the output is broken anyway) and
    /// the error is reported when the crawl ends.
    error: Option<io::Error>,
}

impl Sink {
    pub fn new(writer: Output) -> Self {
        Self {
            writer,
            error: None,
        }
    }
}

impl Actor for Sink {
    type Context = Context<Self>;
}

impl Sink {
    /// Writes with `write` unless an earlier write failed; keeps the first error.
    fn write(&mut self, write: impl FnOnce(&mut Output) -> io::Result<()>) {
        if self.error.is_none()
            && let Err(e) = write(&mut self.writer)
        {
            tracing::error!(error = %e, "writing an output failed; later writes to it are dropped");
            self.error = Some(e);
        }
    }
}

/// Appends a record to the output.
impl Handler<WriteRecord> for Sink {
    type Result = ();

    fn handle(&mut self, msg: WriteRecord, _: &mut Self::Context) {
        self.write(|output| match output {
            Output::Records(writer) => writer.write_record(&msg.0),
            _ => Ok(()),
        });
    }
}

/// Appends an exchange to the archive.
impl Handler<WriteExchange> for Sink {
    type Result = ();

    fn handle(&mut self, msg: WriteExchange, _: &mut Self::Context) {
        self.write(|output| match output {
            Output::Exchanges(writer) => writer.write_exchange(&msg.0),
            _ => Ok(()),
        });
    }
}

/// Appends an item to the output.
impl Handler<WriteItem> for Sink {
    type Result = ();

    fn handle(&mut self, msg: WriteItem, _: &mut Self::Context) {
        self.write(|output| match output {
            Output::Items(writer) => writer.write_item(msg.0, &msg.1),
            _ => Ok(()),
        });
    }
}

/// Flushes the output.
impl Handler<Flush> for Sink {
    type Result = io::Result<()>;

    fn handle(&mut self, _: Flush, _: &mut Self::Context) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        match &mut self.writer {
            Output::Records(writer) => writer.flush(),
            Output::Exchanges(writer) => writer.flush(),
            Output::Items(writer) => writer.flush(),
        }
    }
}
