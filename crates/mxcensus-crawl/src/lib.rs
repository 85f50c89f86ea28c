//! # mxcensus-crawl: the crawl engine
//!
//! Owns the path from an input list to rows: reading and normalising the input
//! ([`input`]), deterministic sharding, politeness ([`politeness`]: exclusions,
//! per-address and per-network gates, rate limits), the engine ([`engine::run`]:
//! concurrent domains, MX probes deduplicated per snapshot, canaries), the conversion of
//! probe evidence into classifier facts and rows ([`facts`]), the writer thread
//! ([`writer`]), `--resume` ([`resume`]), `--simnet` ([`simnet`]), the dataset card
//! ([`card`]) and the on-disk dedupe maps that keep memory flat ([`spill`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = mxcensus_crawl::CrawlConfig::new("probe.example.org", "2026-01-01");
//! config.dns.resolvers = vec!["127.0.0.1:53".parse()?];
//! let input = std::fs::File::open("top-1m.csv")?;
//! let summary = mxcensus_crawl::run(config, Box::new(input), "out".as_ref()).await?;
//! eprintln!("{} domains, {}", summary.progress.domains_done, summary.status);
//! # Ok(()) }
//! ```
//!
//! It must not parse protocol data or decide verdicts (that is `mxcensus-proto`), open
//! sockets itself (that is `mxcensus-probe`), or know the Parquet layout (that is
//! `mxcensus-dataset`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod card;
pub mod check;
pub mod config;
pub mod engine;
pub mod facts;
pub mod input;
pub mod politeness;
pub mod resume;
pub mod simnet;
pub mod spill;
pub mod writer;

pub use config::{CrawlConfig, CrawlConfigError, Progress};
pub use engine::{CrawlError, CrawlSummary, DomainCheck, check_domain, run};
