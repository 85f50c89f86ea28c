//! The report (owned by the report helper).
