//! Item pipelines: ordered stages that transform or drop items on their way to outputs.
//!
//! Every item a spider emits goes through the stages in the order they were added, then
//! to the outputs and subscribers. A stage gets the item and gives it back (changed or
//! not), or gives nothing to drop it. A typed stage ([`typed`]) sees only items of its
//! type and passes the others through.
//!
//! ```
//! use arachne_core::pipeline::{Stage, typed};
//! use arachne_core::Item;
//! use serde::Serialize;
//!
//! #[derive(Serialize)]
//! struct Book { title: String, price: Option<f64> }
//!
//! // Drops books without a price; other items pass.
//! let priced = typed(|book: Book| book.price.is_some().then_some(book));
//! assert!(priced.process(Item::new(Book { title: "A".into(), price: None })).is_none());
//! assert!(priced.process(Item::new(Book { title: "B".into(), price: Some(3.0) })).is_some());
//! assert!(priced.process(Item::new("not a book")).is_some());
//!
//! // Any closure over items is a stage too.
//! let shout = |item: Item| match item.downcast::<String>() {
//!     Ok(text) => Some(Item::new(text.to_uppercase())),
//!     Err(other) => Some(other),
//! };
//! let out = shout.process(Item::new(String::from("hi"))).unwrap();
//! assert_eq!(out.downcast_ref::<String>().unwrap(), "HI");
//! ```

use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;

use crate::item::Item;

/// One step of an item pipeline.
pub trait Stage: Send + Sync + 'static {
    /// The item, changed or not; `None` drops it (counted in the report).
    fn process(&self, item: Item) -> Option<Item>;
}

impl<F> Stage for F
where
    F: Fn(Item) -> Option<Item> + Send + Sync + 'static,
{
    fn process(&self, item: Item) -> Option<Item> {
        self(item)
    }
}

/// A stage for the items of one type: see [`typed`].
pub struct Typed<T, F> {
    f: F,
    _type: PhantomData<fn(T) -> T>,
}

impl<T, F> fmt::Debug for Typed<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::any::type_name::<Self>())
    }
}

/// A stage that handles items of type `T` with `f`, and passes other items through.
pub fn typed<T, F>(f: F) -> Typed<T, F>
where
    T: Serialize + Send + Sync + 'static,
    F: Fn(T) -> Option<T> + Send + Sync + 'static,
{
    Typed {
        f,
        _type: PhantomData,
    }
}

impl<T, F> Stage for Typed<T, F>
where
    T: Serialize + Send + Sync + 'static,
    F: Fn(T) -> Option<T> + Send + Sync + 'static,
{
    fn process(&self, item: Item) -> Option<Item> {
        match item.downcast::<T>() {
            Ok(item) => (self.f)(item).map(Item::new),
            Err(other) => Some(other),
        }
    }
}
