//! The authoritative DNS engine: every zone of the simulated Internet served from one
//! address over UDP and TCP, signed online (Ed25519), with NSEC denial.
//!
//! One engine answers every query from the deepest zone it serves that contains the
//! name, except DS queries, answered from the parent (RFC 4035 §3.1.4.1). A validating
//! resolver pointed at it with stub zones (the root, each TLD, each faulty zone: see
//! [`resolver`]) and the root's DS as trust anchor resolves and validates the whole
//! tree. The zone data come from a [`ZoneSource`].
pub mod denial;
pub mod engine;
pub mod memory;
pub mod resolver;
pub mod server;
pub mod sign;
pub mod zone;

pub use engine::{Engine, Transport};
pub use memory::{StaticSource, StaticSourceError};
pub use resolver::{root_trust_anchor, unbound_stub_zones};
pub use server::{DnsServer, ServerConfig};
pub use zone::{
    Behavior, Delegation, Denial, NameData, RrSet, Signing, SigningFault, Zone, ZoneKey,
    ZoneSource, ds_for, wrong_ds_for,
};
