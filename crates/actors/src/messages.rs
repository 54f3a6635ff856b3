//! The messages a crawl delivers to user actors.

use std::sync::Arc;

use actix::Message;
use arachne_core::PageRecord;
use bytes::Bytes;
use reqwest::header::HeaderMap;
use url::Url;

/// A fetched URL, delivered to every subscriber registered with
/// [`CrawlerBuilder::subscribe`](crate::CrawlerBuilder::subscribe).
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
}

impl PageFetched {
    /// The body decoded to text with the page's charset (see
    /// [`arachne_core::decode_html`]).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        arachne_core::decode_html(&self.body, self.record.content_type.as_deref()).0
    }
}

/// An item that an [`Extractor`](arachne_core::Extractor) emitted, delivered to every
/// subscriber registered with
/// [`CrawlerBuilder::subscribe_items`](crate::CrawlerBuilder::subscribe_items).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
#[non_exhaustive]
pub struct ItemExtracted {
    /// The page the item came from (the URL queued).
    pub url: Url,
    /// The item.
    pub item: serde_json::Value,
}
