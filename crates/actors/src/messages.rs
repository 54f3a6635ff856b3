//! The messages a crawl delivers to user actors, and the events of its stream.

use std::sync::Arc;

use actix::Message;
use arachne_core::{CrawlHandle, CrawlReport, Item, PageRecord};
use bytes::Bytes;
use http::HeaderMap;
use url::Url;

use crate::Error;

/// A fetched URL, delivered to every page subscriber (an actor's `Recipient`, a closure,
/// or the event stream).
///
/// Every URL the crawl fetches produces exactly one `PageFetched`, failures included (their
/// `record.error` says why). Cloning is cheap: the parts are shared.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
#[non_exhaustive]
pub struct PageFetched {
    /// The record also written to the outputs.
    pub record: Arc<PageRecord>,
    /// The headers of the last response as received (empty when none arrived); the body
    /// below is already decoded, whatever `content-encoding` says.
    pub headers: Arc<HeaderMap>,
    /// The body of the last response, decompressed, at most the body-size cap.
    pub body: Bytes,
    /// Every distinct http(s) link on the page, in and out of scope, in document order.
    pub links: Arc<[Url]>,
    /// Steers the crawl: stop it, or give it requests.
    pub handle: CrawlHandle,
}

impl PageFetched {
    /// A page, for testing handlers (the crawl makes them as it fetches).
    pub fn new(
        record: PageRecord,
        headers: HeaderMap,
        body: impl Into<Bytes>,
        links: Vec<Url>,
        handle: CrawlHandle,
    ) -> Self {
        Self {
            record: Arc::new(record),
            headers: Arc::new(headers),
            body: body.into(),
            links: links.into(),
            handle,
        }
    }

    /// The body decoded to text with the page's charset (see
    /// [`arachne_core::decode_html`]).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        arachne_core::decode_html(&self.body, self.record.content_type.as_deref()).0
    }
}

/// An item that came out of the pipeline, delivered to every item subscriber.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
#[non_exhaustive]
pub struct ItemScraped {
    /// The item: [`Item::downcast_ref`] gives back your type.
    pub item: Arc<Item>,
    /// The page it came from (the URL queued).
    pub url: Url,
    /// The label of that page's request, if any.
    pub label: Option<String>,
    /// Steers the crawl: stop it, or give it requests.
    pub handle: CrawlHandle,
}

impl ItemScraped {
    /// An item, for testing handlers.
    pub fn new(item: Item, url: Url, label: Option<String>, handle: CrawlHandle) -> Self {
        Self {
            item: Arc::new(item),
            url,
            label,
            handle,
        }
    }
}

/// An item for a pipeline stage that is an actor (for work that waits: a database, say):
/// the actor answers with the item, changed or not, or `None` to drop it.
///
/// ```
/// use actix::prelude::*;
/// use arachne_actors::ProcessItem;
/// use arachne_core::{CrawlHandle, Item};
///
/// /// Keeps the first item of each title; drops the others.
/// #[derive(Default)]
/// struct Dedup(std::collections::HashSet<String>);
///
/// impl Actor for Dedup {
///     type Context = Context<Self>;
/// }
///
/// impl Handler<ProcessItem> for Dedup {
///     type Result = Option<Item>;
///
///     fn handle(&mut self, msg: ProcessItem, _: &mut Context<Self>) -> Option<Item> {
///         let title = msg.item.to_json().ok()?["title"].as_str()?.to_owned();
///         self.0.insert(title).then_some(msg.item)
///     }
/// }
///
/// System::new().block_on(async {
///     let dedup = Dedup::default().start();
///     let item = || Item::new(serde_json::json!({"title": "Dune"}));
///     let url: url::Url = "http://a.test/".parse().unwrap();
///     let first = dedup.send(ProcessItem::new(item(), url.clone(), CrawlHandle::new())).await;
///     let again = dedup.send(ProcessItem::new(item(), url, CrawlHandle::new())).await;
///     assert!(first.unwrap().is_some() && again.unwrap().is_none());
/// });
/// // In a crawl: `Crawler::builder().stage_actor(dedup.recipient())`.
/// ```
#[derive(Debug, Message)]
#[rtype(result = "Option<Item>")]
#[non_exhaustive]
pub struct ProcessItem {
    /// The item.
    pub item: Item,
    /// The page it came from.
    pub url: Url,
    /// Steers the crawl.
    pub handle: CrawlHandle,
}

impl ProcessItem {
    /// An item to process, for testing stages.
    pub fn new(item: Item, url: Url, handle: CrawlHandle) -> Self {
        Self { item, url, handle }
    }
}

/// What a crawl's event stream yields ([`Crawler::events`](crate::Crawler::events)).
#[derive(Debug)]
#[non_exhaustive]
// The large variant, `Finished`, comes once per crawl: boxing the others would cost more.
#[allow(clippy::large_enum_variant)]
pub enum Event {
    /// A fetched URL.
    Page(PageFetched),
    /// An item out of the pipeline.
    Item(ItemScraped),
    /// The crawl ended: the last event.
    Finished(Result<CrawlReport, Error>),
}
