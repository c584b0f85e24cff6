//! Queries: items OR'd; within an item, the event's type is one of its types (any type when
//! none) and its tags include all of the item's tags (any tags when none). A query with no
//! items, or with an item naming neither, matches every event.

use stele_proto::umadb as pb;

/// Whether `e` matches `item`.
pub fn item_matches(item: &pb::QueryItem, e: &pb::Event) -> bool {
    (item.types.is_empty() || item.types.contains(&e.event_type))
        && item.tags.iter().all(|t| e.tags.contains(t))
}

/// Whether `e` matches `query`.
pub fn matches(query: &pb::Query, e: &pb::Event) -> bool {
    query.items.is_empty() || query.items.iter().any(|i| item_matches(i, e))
}

/// Whether `query` matches every event (so a read is a plain scan of the log).
pub fn matches_all(query: &pb::Query) -> bool {
    query.items.is_empty()
        || query
            .items
            .iter()
            .any(|i| i.types.is_empty() && i.tags.is_empty())
}
