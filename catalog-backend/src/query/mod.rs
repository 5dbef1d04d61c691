//! Parsing of the query language: legacy `filter`, JSON predicates, field projection,
//! ordering and cursors (spec 2.2-2.5, 3.2).
//!
//! Everything here is pure parsing; evaluation happens in [`crate::index::EntityIndex`]
//! against the flattened search rows of [`crate::search`].
//!
//! | Module | What |
//! |---|---|
//! | [`filter`] | the legacy `filter=a=b,c` query parameter and the legacy `{key, values}` filter shape of old cursors |
//! | [`predicate`] | the JSON predicate language (`$all`, `$any`, `$not`, `$exists`, `$in`, `$hasPrefix`, `$contains`) |
//! | [`fields`] | the `fields` projection, applied to stored JSON text without building a tree |
//! | [`order`] | `order=asc:field` (GET /entities) and `orderField=field,asc` (by-query) |
//! | [`cursor`] | by-query cursors and the `after` cursor of paginated GET /entities |

pub mod cursor;
pub mod fields;
pub mod filter;
pub mod order;
pub mod predicate;

pub use cursor::{AfterCursor, Cursor, FullTextFilter};
pub use fields::FieldSet;
pub use order::{OrderDirection, OrderField};
pub use predicate::Predicate;
