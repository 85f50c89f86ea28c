//! # mxcensus-crawl: the crawl engine
//!
//! Owns the path from an input list to rows: reading and normalising the input
//! ([`input`]), deterministic sharding, and (as it grows) scheduling, rate limits,
//! retries, MX de-duplication and checkpoint/resume.
//!
//! It must not parse protocol data or decide verdicts (that is `mxcensus-proto`), open
//! sockets itself (that is `mxcensus-probe`), or know the Parquet layout (that is
//! `mxcensus-dataset`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod card;
pub mod config;
pub mod engine;
pub mod facts;
pub mod input;
pub mod politeness;
pub mod resume;
pub mod simnet;
pub mod writer;

pub use config::{CrawlConfig, CrawlConfigError, Progress};
pub use engine::{CrawlError, CrawlSummary, run};
