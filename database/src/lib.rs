//! # backstage-database
//!
//! Per-plugin logical databases on sqlx (PostgreSQL, SQLite, MySQL/MariaDB).
//!
//! **Status: not implemented yet.** This crate is a placeholder that reserves the
//! name and its place in the workspace; it exports nothing. It will hold:
//!
//! - a database manager configured from `backend.database`;
//! - per-plugin pools, migrations and a dialect-neutral query layer;
//! - a database-backed scheduler for tasks shared across replicas.
//!
//! See the workspace README ("Project layout") for how the crates relate.
