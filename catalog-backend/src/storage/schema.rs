//! The catalog's tables (spec section 5, without the `search` table) and their migrations.
//!
//! Differences from Backstage's schema, all internal:
//!
//! * timestamps are `BIGINT` milliseconds since the Unix epoch (one representation on every
//!   engine; comparisons are plain integer comparisons);
//! * `final_entities.seq` and the `final_entity_tombstones` table form the change feed every
//!   replica's in-memory index follows; `catalog_feed_counter` hands out `seq` values in
//!   commit order (its single row is updated last in every transaction that writes the feed,
//!   so the row lock orders those transactions);
//! * `stitch_queue` remembers which stitch claimed a row (`claim_token`) and the ticket it
//!   saw (`claimed_ticket`), so a stitch completes its rows by token instead of sending every
//!   ref and ticket back;
//! * there is no `search` table and no legacy `location_update_log`.

use backstage_database::migrations::{Migration, Migrations};

/// The bookkeeping table of the catalog's migrations.
pub const MIGRATIONS_TABLE: &str = "catalog_migrations";

const POSTGRES_V1: &str = r#"
CREATE TABLE locations (
  id TEXT NOT NULL PRIMARY KEY,
  type TEXT NOT NULL,
  target TEXT NOT NULL,
  location_entity_ref TEXT NOT NULL
);
CREATE TABLE refresh_state (
  entity_id TEXT NOT NULL PRIMARY KEY,
  entity_ref TEXT NOT NULL,
  unprocessed_entity TEXT NOT NULL,
  unprocessed_hash TEXT,
  processed_entity TEXT,
  result_hash TEXT,
  cache TEXT,
  errors TEXT NOT NULL DEFAULT '',
  location_key TEXT,
  next_update_at BIGINT NOT NULL,
  last_discovery_at BIGINT NOT NULL,
  CONSTRAINT refresh_state_entity_ref_uniq UNIQUE (entity_ref)
);
CREATE INDEX refresh_state_next_update_at_idx ON refresh_state (next_update_at);
CREATE TABLE refresh_state_references (
  id BIGSERIAL PRIMARY KEY,
  source_key TEXT,
  source_entity_ref TEXT REFERENCES refresh_state (entity_ref) ON DELETE CASCADE,
  target_entity_ref TEXT NOT NULL REFERENCES refresh_state (entity_ref) ON DELETE CASCADE
);
CREATE INDEX refresh_state_references_source_key_idx ON refresh_state_references (source_key);
CREATE INDEX refresh_state_references_source_entity_ref_idx ON refresh_state_references (source_entity_ref);
CREATE INDEX refresh_state_references_target_entity_ref_idx ON refresh_state_references (target_entity_ref);
CREATE TABLE relations (
  originating_entity_id TEXT NOT NULL REFERENCES refresh_state (entity_id) ON DELETE CASCADE,
  source_entity_ref TEXT NOT NULL,
  type TEXT NOT NULL,
  target_entity_ref TEXT NOT NULL
);
CREATE INDEX relations_originating_entity_id_idx ON relations (originating_entity_id);
CREATE INDEX relations_source_entity_ref_idx ON relations (source_entity_ref);
CREATE INDEX relations_target_entity_ref_idx ON relations (target_entity_ref);
CREATE TABLE refresh_keys (
  entity_id TEXT NOT NULL REFERENCES refresh_state (entity_id) ON DELETE CASCADE,
  key TEXT NOT NULL
);
CREATE INDEX refresh_keys_entity_id_idx ON refresh_keys (entity_id);
CREATE INDEX refresh_keys_key_idx ON refresh_keys (key);
CREATE TABLE final_entities (
  entity_id TEXT NOT NULL PRIMARY KEY REFERENCES refresh_state (entity_id) ON DELETE CASCADE,
  entity_ref TEXT NOT NULL,
  hash TEXT NOT NULL,
  final_entity TEXT,
  last_updated_at BIGINT,
  seq BIGINT NOT NULL,
  CONSTRAINT final_entities_entity_ref_uniq UNIQUE (entity_ref)
);
CREATE INDEX final_entities_seq_idx ON final_entities (seq);
CREATE TABLE final_entity_tombstones (
  seq BIGINT NOT NULL PRIMARY KEY,
  entity_id TEXT NOT NULL,
  entity_ref TEXT NOT NULL,
  deleted_at BIGINT NOT NULL
);
CREATE INDEX final_entity_tombstones_deleted_at_idx ON final_entity_tombstones (deleted_at);
CREATE TABLE catalog_feed_counter (
  id INTEGER NOT NULL PRIMARY KEY,
  value BIGINT NOT NULL,
  pruned_through BIGINT NOT NULL
);
INSERT INTO catalog_feed_counter (id, value, pruned_through) VALUES (1, 0, 0);
CREATE TABLE stitch_queue (
  entity_ref TEXT NOT NULL PRIMARY KEY,
  stitch_ticket TEXT NOT NULL,
  next_stitch_at BIGINT NOT NULL,
  claim_token TEXT,
  claimed_ticket TEXT
);
CREATE INDEX stitch_queue_next_stitch_at_idx ON stitch_queue (next_stitch_at);
CREATE INDEX stitch_queue_claim_token_idx ON stitch_queue (claim_token);
ALTER TABLE refresh_state SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.01);
ALTER TABLE refresh_state_references SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.01);
ALTER TABLE relations SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.01);
ALTER TABLE final_entities SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.01);
"#;

/// The catalog's migrations, per dialect.
pub fn migrations() -> Migrations {
    let sqlite = POSTGRES_V1
        .replace("BIGSERIAL PRIMARY KEY", "INTEGER PRIMARY KEY")
        .lines()
        .filter(|line| !line.starts_with("ALTER TABLE"))
        .collect::<Vec<_>>()
        .join("\n");
    Migrations::new().table(MIGRATIONS_TABLE).add(
        Migration::new(20_260_301_000_000, "catalog: initial schema")
            .postgres(POSTGRES_V1)
            .sqlite(&sqlite),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use backstage_database::Engine;

    #[test]
    fn sqlite_schema_drops_postgres_only_statements() {
        let m = migrations();
        assert_eq!(m.table_name(), MIGRATIONS_TABLE);
        let first = &m.migrations()[0];
        let sqlite = first.sql(Engine::Sqlite).unwrap_or_default();
        assert!(sqlite.contains("id INTEGER PRIMARY KEY,"));
        assert!(!sqlite.contains("BIGSERIAL"));
        assert!(!sqlite.contains("autovacuum"));
        let pg = first.sql(Engine::Postgres).unwrap_or_default();
        assert!(pg.contains("BIGSERIAL") && pg.contains("autovacuum"));
        assert!(first.sql(Engine::MySql).is_none());
    }
}
