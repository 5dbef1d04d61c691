//! The `locations` table: locations registered through the API (spec 3.12-3.17).
//!
//! Backstage keeps a legacy row `type = 'bootstrap'` that every API hides; this store never
//! inserts it but still hides such rows (a database migrated from elsewhere may hold one).

use crate::error::{CatalogError, Result};
use crate::model::{Location, LocationSpec};

use super::{CatalogStore, write_tx};

#[derive(sqlx::FromRow)]
struct LocationRow {
    id: String,
    #[sqlx(rename = "type")]
    kind: String,
    target: String,
    location_entity_ref: String,
}

impl From<LocationRow> for Location {
    fn from(row: LocationRow) -> Self {
        Location {
            id: row.id,
            kind: row.kind,
            target: row.target,
            entity_ref: row.location_entity_ref,
        }
    }
}

const COLUMNS: &str = "SELECT id, type, target, location_entity_ref FROM locations";

/// The canonical text of a UUID id, or `None` when `id` is not a UUID.
fn canonical_id(id: &str) -> Option<String> {
    uuid::Uuid::parse_str(id)
        .ok()
        .map(|u| u.hyphenated().to_string())
}

fn not_found(id: &str) -> CatalogError {
    CatalogError::NotFound(format!("Found no location with ID {id}"))
}

fn conflict(kind: &str, target: &str) -> CatalogError {
    CatalogError::Conflict(format!("Location {kind}:{target} already exists"))
}

impl CatalogStore {
    /// Every registered location except the legacy `bootstrap` row, in no particular order.
    ///
    /// # Errors
    /// Database failures.
    pub async fn list_locations(&self) -> Result<Vec<Location>> {
        let mut sql = self.sql("listing locations");
        sql.push(COLUMNS).push(" WHERE type <> 'bootstrap'");
        let rows: Vec<LocationRow> = self.read(sql).await?;
        Ok(rows.into_iter().map(Location::from).collect())
    }

    /// The location with this id; `None` when there is none or `id` is not a UUID.
    ///
    /// # Errors
    /// Database failures.
    pub async fn get_location(&self, id: &str) -> Result<Option<Location>> {
        let Some(id) = canonical_id(id) else {
            return Ok(None);
        };
        let mut sql = self.sql("reading a location");
        sql.push(COLUMNS)
            .push(" WHERE type <> 'bootstrap' AND id = ")
            .bind_text(id);
        let rows: Vec<LocationRow> = self.read(sql).await?;
        Ok(rows.into_iter().next().map(Location::from))
    }

    /// The location with exactly this type and target.
    ///
    /// # Errors
    /// Database failures.
    pub async fn find_location(&self, kind: &str, target: &str) -> Result<Option<Location>> {
        let mut sql = self.sql("finding a location");
        sql.push(COLUMNS)
            .push(" WHERE type <> 'bootstrap' AND type = ")
            .bind_text(kind)
            .push(" AND target = ")
            .bind_text(target);
        let rows: Vec<LocationRow> = self.read(sql).await?;
        Ok(rows.into_iter().next().map(Location::from))
    }

    /// Registers a location with a fresh UUID; its `entityRef` is the generated Location
    /// entity's ref.
    ///
    /// # Errors
    /// [`CatalogError::Conflict`] `Location <type>:<target> already exists`; database failures.
    pub async fn create_location(&self, spec: &LocationSpec) -> Result<Location> {
        write_tx!(self, |tx| {
            let mut sql = self.sql("checking for an existing location");
            sql.push(COLUMNS)
                .push(" WHERE type = ")
                .bind_text(&spec.kind)
                .push(" AND target = ")
                .bind_text(&spec.target);
            let existing: Vec<LocationRow> = tx.fetch(sql).await?;
            if !existing.is_empty() {
                return Err(conflict(&spec.kind, &spec.target));
            }
            let location = Location {
                id: uuid::Uuid::new_v4().hyphenated().to_string(),
                kind: spec.kind.clone(),
                target: spec.target.clone(),
                entity_ref: spec.generated_entity_ref(),
            };
            let mut sql = self.sql("inserting a location");
            sql.push("INSERT INTO locations (id, type, target, location_entity_ref) VALUES (")
                .bind_text(&location.id)
                .push(", ")
                .bind_text(&location.kind)
                .push(", ")
                .bind_text(&location.target)
                .push(", ")
                .bind_text(&location.entity_ref)
                .push(")");
            tx.execute(sql).await?;
            Ok(location)
        })
    }

    /// Changes a location's type and target; its `entityRef` stays (spec 3.16).
    ///
    /// # Errors
    /// [`CatalogError::NotFound`] `Found no location with ID <id>`;
    /// [`CatalogError::Conflict`] when another location has this type and target; database
    /// failures.
    pub async fn update_location(&self, id: &str, kind: &str, target: &str) -> Result<Location> {
        let Some(canonical) = canonical_id(id) else {
            return Err(not_found(id));
        };
        write_tx!(self, |tx| {
            let mut sql = self.sql("reading a location");
            sql.push(COLUMNS)
                .push(" WHERE type <> 'bootstrap' AND id = ")
                .bind_text(&canonical);
            let Some(row) = tx.fetch::<LocationRow>(sql).await?.into_iter().next() else {
                return Err(not_found(id));
            };
            let mut sql = self.sql("checking for a conflicting location");
            sql.push(COLUMNS)
                .push(" WHERE id <> ")
                .bind_text(&canonical)
                .push(" AND type = ")
                .bind_text(kind)
                .push(" AND target = ")
                .bind_text(target);
            if !tx.fetch::<LocationRow>(sql).await?.is_empty() {
                return Err(conflict(kind, target));
            }
            let mut sql = self.sql("updating a location");
            sql.push("UPDATE locations SET type = ")
                .bind_text(kind)
                .push(", target = ")
                .bind_text(target)
                .push(" WHERE id = ")
                .bind_text(&canonical);
            tx.execute(sql).await?;
            Ok(Location {
                id: row.id,
                kind: kind.to_owned(),
                target: target.to_owned(),
                entity_ref: row.location_entity_ref,
            })
        })
    }

    /// Deletes a location row and returns it. Removing its entity (a delta mutation of the
    /// location provider) is the caller's part.
    ///
    /// # Errors
    /// [`CatalogError::NotFound`] `Found no location with ID <id>`; database failures.
    pub async fn delete_location(&self, id: &str) -> Result<Location> {
        let Some(canonical) = canonical_id(id) else {
            return Err(not_found(id));
        };
        write_tx!(self, |tx| {
            let mut sql = self.sql("reading a location");
            sql.push(COLUMNS)
                .push(" WHERE type <> 'bootstrap' AND id = ")
                .bind_text(&canonical);
            let Some(row) = tx.fetch::<LocationRow>(sql).await?.into_iter().next() else {
                return Err(not_found(id));
            };
            let mut sql = self.sql("deleting a location");
            sql.push("DELETE FROM locations WHERE id = ")
                .bind_text(&canonical);
            tx.execute(sql).await?;
            Ok(Location::from(row))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_canonical_uuids() {
        assert_eq!(canonical_id("not-a-uuid"), None);
        assert_eq!(
            canonical_id("3F2504E0-4F89-11D3-9A0C-0305E82C3301").as_deref(),
            Some("3f2504e0-4f89-11d3-9a0c-0305e82c3301")
        );
    }
}
