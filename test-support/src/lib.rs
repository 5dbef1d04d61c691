//! Dev-only test helpers (filled in by the test-command work).
