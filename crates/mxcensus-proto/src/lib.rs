//! # mxcensus-proto: the protocol rules, as pure functions
//!
//! This crate owns every rule mxcensus applies to decide a verdict: parsing the MTA-STS TXT
//! record (RFC 8461 §3.1), the policy body (§3.2), the TLS-RPT record (RFC 8460 §3),
//! matching MX hosts against policy patterns and certificate names (RFC 8461 §4,
//! RFC 6125), matching TLSA records against a served chain (RFC 6698, 7671, 7672), and the
//! headline verdict values of the dataset.
//!
//! It must not do I/O: no sockets, no files, no clocks (callers pass the time), no
//! async runtime. Network probes live in `mxcensus-probe`; this crate only judges what
//! they brought back, so every rule can be unit-tested, property-tested and fuzzed.
//!
//! Every failure class is an enum variant with a stable `snake_case` code (see
//! [`finding`]), the vocabulary of `../shared/SPEC.md`.
//!
//! ```
//! use mxcensus_proto::dnsname::normalize_host;
//! assert_eq!(normalize_host("MX1.Example.COM.").unwrap(), "mx1.example.com");
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cert;
pub mod classify;
pub mod dnsname;
pub mod finding;
pub mod mx_pattern;
pub mod policy;
pub mod sts_txt;
pub mod tlsa;
pub mod tlsrpt;
pub mod txtfields;
pub mod verdict;
