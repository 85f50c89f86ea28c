//! # mxcensus-probe: the network probes
//!
//! One module per probe, each with the same shape (as zgrab2 modules have): a `Config`
//! that is validated before use, an async `run` that talks to the network, and a typed
//! result that always carries its evidence (what was sent and received, timings), even
//! when the probe failed. Failures are classified at the point where they happen, with
//! the failure-class vocabulary of `mxcensus-proto`.
//!
//! This crate must not decide headline verdicts (that is `mxcensus-proto`'s job from the
//! evidence), schedule or rate-limit (that is `mxcensus-crawl`), or write datasets. It
//! never sends MAIL, RCPT, DATA or VRFY.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
pub mod dns;
pub mod policy_fetch;
pub mod smtp;
pub mod tcp;
pub mod tls;
