//! Parsing of the query language: legacy `filter`, JSON predicates, field projection,
//! ordering and cursors (spec 2.2-2.5, 3.2).
