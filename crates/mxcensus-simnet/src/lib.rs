//! # mxcensus-simnet: the simulated Internet
//!
//! Owns a seeded population of mail domains whose whole configuration is a pure function
//! of `(seed, index, profile)`, the ground truth derived from it by simnet's own plain
//! rules, and the servers that play that world on loopback: authoritative DNS with real
//! DNSSEC signatures, HTTPS policy hosts, and SMTP MX hosts.
//!
//! It must not call the crawler's classifier (`mxcensus-proto` verdict logic): truth is
//! what simnet planted, so a bug shared by both could not hide itself. It must never send
//! traffic outside 127.0.0.0/8.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
pub mod dns;
pub mod epoch;
pub mod https;
pub mod pki;
pub mod population;
pub mod profile;
pub mod smtp;
pub mod truth;
pub mod unbound;
pub mod world;
pub mod zones;
