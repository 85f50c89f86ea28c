//! `mxcensus-analysis`: what a snapshot says, computed from its Parquet files.
//!
//! Owns the adoption comparison of MTA-STS against DANE/DNSSEC: the report (`report.md`,
//! a self-contained `report.html` with inline SVG charts, and `report.json` with every
//! figure) and the diff between two snapshots of the same input. Every number comes from
//! the snapshot's rows; nothing is typed in.
//!
//! Must not: touch the network, crawl, or re-judge protocol rules (the verdicts in the
//! snapshot are the crawler's; this crate counts and cross-tabulates them).
#![forbid(unsafe_code)]

pub mod diff;
pub mod report;
pub mod snapshot;
