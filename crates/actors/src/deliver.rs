//! Where a page's results go: the item pipeline, outputs, subscribers and the event
//! stream. Runs in the fetcher's task for the page, which keeps the page's in-flight slot
//! until everything is delivered: a slow consumer slows the crawl instead of piling up.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actix::Recipient;
use arachne_core::pipeline::Stage;
use arachne_core::{CrawlHandle, CrawlRequest, EndReason, Item, PageRecord};
use bytes::Bytes;
use http::HeaderMap;
use tokio::sync::mpsc;
use url::Url;

use crate::journal::ItemJson;
use crate::messages::{Event, ItemScraped, PageFetched, ProcessItem};
use crate::sink::{Sink, WriteItem, WriteRecord};

/// A closure that receives pages.
pub(crate) type PageFn = Arc<dyn Fn(&PageFetched) + Send + Sync>;
/// A closure that receives items.
pub(crate) type ItemFn = Arc<dyn Fn(&ItemScraped) + Send + Sync>;

/// One stage of the item pipeline.
#[derive(Clone)]
pub(crate) enum StageKind {
    /// A function, run in place.
    Sync(Arc<dyn Stage>),
    /// An actor, awaited.
    Actor(Recipient<ProcessItem>),
}

impl fmt::Debug for StageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StageKind::Sync(_) => "Sync",
            StageKind::Actor(_) => "Actor",
        })
    }
}

/// Everyone who receives pages and items.
#[derive(Default)]
pub(crate) struct Delivery {
    /// Record outputs (JSON Lines, CSV, ...).
    pub record_sinks: Vec<actix::Addr<Sink>>,
    /// Item outputs.
    pub item_sinks: Vec<actix::Addr<Sink>>,
    /// Whether the crawl's state has item outputs (written by the journal, with the
    /// page's outcome).
    pub durable_items: bool,
    pub stages: Vec<StageKind>,
    pub page_actors: Vec<Recipient<PageFetched>>,
    pub item_actors: Vec<Recipient<ItemScraped>>,
    pub page_fns: Vec<PageFn>,
    pub item_fns: Vec<ItemFn>,
    /// The event stream, when the crawl was started with one.
    pub events: Option<mpsc::Sender<Event>>,
    pub handle: CrawlHandle,
    /// Items emitted so far, and the most that may be (`close_after_items`).
    pub items_emitted: AtomicU64,
    pub item_limit: Option<u64>,
}

impl Delivery {
    /// Whether anyone wants the page itself (and so its links).
    pub fn wants_pages(&self) -> bool {
        !self.page_actors.is_empty() || !self.page_fns.is_empty() || self.events.is_some()
    }
}

/// What became of a page's items.
#[derive(Debug, Default, Clone)]
pub(crate) struct ItemCounts {
    /// Emitted, by type.
    pub emitted: BTreeMap<&'static str, u64>,
    /// Dropped by a stage.
    pub dropped: u64,
    /// Not emitted: `Serialize` failed, or the crawl had stopped (item limit).
    pub lost: u64,
}

/// Runs each item through the pipeline and hands the survivors to outputs and
/// subscribers. Returns what became of them, and their JSON for the durable item outputs.
pub(crate) async fn items(
    delivery: &Delivery,
    request: &CrawlRequest,
    items: Vec<Item>,
) -> (ItemCounts, Vec<ItemJson>) {
    let mut counts = ItemCounts::default();
    let mut durable = Vec::new();
    'items: for mut item in items {
        for stage in &delivery.stages {
            let kept = match stage {
                StageKind::Sync(stage) => stage.process(item),
                StageKind::Actor(actor) => {
                    let msg = ProcessItem::new(item, request.url.clone(), delivery.handle.clone());
                    actor.send(msg).await.unwrap_or_else(|e| {
                        tracing::warn!(error = %e, "a pipeline actor stopped; its items are dropped");
                        None
                    })
                }
            };
            match kept {
                Some(kept) => item = kept,
                None => {
                    counts.dropped += 1;
                    continue 'items;
                }
            }
        }
        // Serialized before it takes a place under the item limit, so that an item that
        // cannot be written never counts.
        let json = if delivery.item_sinks.is_empty() && !delivery.durable_items {
            None
        } else {
            match item.to_json() {
                Ok(json) => Some(Arc::new(json)),
                Err(e) => {
                    tracing::warn!(kind = item.type_name(), error = %e, url = %request.url, "an item does not serialize; it is not emitted");
                    counts.lost += 1;
                    continue;
                }
            }
        };
        if let Some(limit) = delivery.item_limit {
            let emitted = delivery.items_emitted.fetch_add(1, Ordering::AcqRel);
            if emitted >= limit {
                counts.lost += 1;
                continue;
            }
            if emitted + 1 == limit {
                delivery.handle.stop_with(EndReason::ItemLimit);
            }
        }
        let kind = item.type_name();
        if let Some(json) = json {
            for sink in &delivery.item_sinks {
                let _ = sink.send(WriteItem(kind, Arc::clone(&json))).await;
            }
            if delivery.durable_items {
                durable.push((kind, json));
            }
        }
        let scraped = ItemScraped {
            item: Arc::new(item),
            url: request.url.clone(),
            label: request.label().map(str::to_owned),
            handle: delivery.handle.clone(),
        };
        for f in &delivery.item_fns {
            f(&scraped);
        }
        for actor in &delivery.item_actors {
            // A subscriber that has stopped no longer wants items; the crawl goes on.
            let _ = actor.send(scraped.clone()).await;
        }
        if let Some(events) = &delivery.events {
            let _ = events.send(Event::Item(scraped)).await;
        }
        *counts.emitted.entry(kind).or_default() += 1;
    }
    (counts, durable)
}

/// Hands a record to the outputs, and the page to its subscribers.
pub(crate) async fn page(
    delivery: &Delivery,
    record: &Arc<PageRecord>,
    headers: HeaderMap,
    body: Bytes,
    links: Vec<Url>,
) {
    for sink in &delivery.record_sinks {
        let _ = sink.send(WriteRecord(Arc::clone(record))).await;
    }
    if !delivery.wants_pages() {
        return;
    }
    let page = PageFetched {
        record: Arc::clone(record),
        headers: Arc::new(headers),
        body,
        links: links.into(),
        handle: delivery.handle.clone(),
    };
    for f in &delivery.page_fns {
        f(&page);
    }
    for actor in &delivery.page_actors {
        // A subscriber that has stopped no longer wants pages; the crawl goes on.
        let _ = actor.send(page.clone()).await;
    }
    if let Some(events) = &delivery.events {
        let _ = events.send(Event::Page(page)).await;
    }
}
