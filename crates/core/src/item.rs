//! Items: what spiders scrape, as the user's own types.

use std::any::Any;
use std::fmt;

use serde::Serialize;

/// A scraped item: a value of any user type that serializes (`#[derive(Serialize)]`).
///
/// Spiders emit items of as many types as they like; pipeline stages and subscribers take
/// back the types they know ([`Item::downcast_ref`], or a typed pipeline stage), and outputs
/// write any item as JSON.
///
/// ```
/// use arachne_core::Item;
/// use serde::Serialize;
///
/// #[derive(Serialize, Debug, PartialEq)]
/// struct Book { title: String, price: Option<f64> }
///
/// let item = Item::new(Book { title: "Dune".into(), price: Some(9.5) });
/// assert_eq!(item.type_name(), "Book");
/// assert_eq!(item.downcast_ref::<Book>().unwrap().title, "Dune");
/// assert_eq!(item.to_json().unwrap()["price"], 9.5);
/// assert!(item.downcast::<String>().is_err(), "not a String");
/// ```
pub struct Item {
    inner: Box<dyn Erased>,
    type_name: &'static str,
}

/// An item of some type, with the type erased.
trait Erased: Any + Send + Sync {
    fn to_json(&self) -> serde_json::Result<serde_json::Value>;
    fn as_any(&self) -> &dyn Any;
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<T: Serialize + Send + Sync + 'static> Erased for T {
    fn to_json(&self) -> serde_json::Result<serde_json::Value> {
        serde_json::to_value(self)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

impl Item {
    /// Wraps a value.
    pub fn new<T: Serialize + Send + Sync + 'static>(item: T) -> Self {
        Self {
            inner: Box::new(item),
            type_name: short_type_name(std::any::type_name::<T>()),
        }
    }

    /// Whether the item is a `T`.
    pub fn is<T: 'static>(&self) -> bool {
        self.inner.as_any().is::<T>()
    }

    /// The item as a `T`, if it is one.
    pub fn downcast_ref<T: 'static>(&self) -> Option<&T> {
        self.inner.as_any().downcast_ref()
    }

    /// The item as a `T`, or the item back when it is not one.
    ///
    /// # Errors
    /// The item itself, when it is not a `T`.
    pub fn downcast<T: 'static>(self) -> Result<T, Item> {
        if self.is::<T>() {
            let any = self.inner.into_any();
            // Checked just above.
            any.downcast().map(|b| *b).map_err(|_| unreachable_item())
        } else {
            Err(self)
        }
    }

    /// The item as JSON, as outputs write it.
    ///
    /// # Errors
    /// When the type's `Serialize` fails (a map with non-string keys, say).
    pub fn to_json(&self) -> serde_json::Result<serde_json::Value> {
        self.inner.to_json()
    }

    /// The name of the item's type, without its module path (`Book`): the key of the item
    /// counts in the report.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }
}

/// Never built: `downcast` checks the type before it converts.
fn unreachable_item() -> Item {
    Item::new(())
}

impl fmt::Debug for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Item")
            .field("type", &self.type_name)
            .field("json", &self.to_json().ok())
            .finish()
    }
}

/// `books::Book` becomes `Book`; `alloc::vec::Vec<books::Book>` becomes `Vec`.
fn short_type_name(full: &'static str) -> &'static str {
    let path = full.split('<').next().unwrap_or(full);
    path.rsplit("::").next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_short() {
        assert_eq!(short_type_name("books::shop::Book"), "Book");
        assert_eq!(short_type_name("alloc::vec::Vec<books::Book>"), "Vec");
        assert_eq!(short_type_name("u32"), "u32");
        assert_eq!(Item::new(serde_json::json!({"a": 1})).type_name(), "Value");
    }

    #[test]
    fn items_come_back_as_their_type() {
        let item = Item::new(42u32);
        assert!(item.is::<u32>() && !item.is::<i64>());
        let item = item.downcast::<i64>().unwrap_err();
        assert_eq!(item.downcast::<u32>().unwrap(), 42);
        assert!(format!("{:?}", Item::new("x")).contains("\"x\""));
    }
}
