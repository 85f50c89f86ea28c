//! Snapshot diff (owned by the diff helper).
