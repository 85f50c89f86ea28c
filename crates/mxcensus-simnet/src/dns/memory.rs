//! A small in-memory [`ZoneSource`] built by hand: for tests, benchmarks, and worlds
//! small enough to list (the population implements the trait lazily instead).
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use hickory_proto::dnssec::rdata::DS;
use hickory_proto::rr::Name;

use super::zone::{Delegation, Denial, NameData, RrSet, Zone, ZoneSource, fqdn_lower};

/// What one owner name holds in a [`StaticSource`] zone.
#[derive(Clone, Debug)]
enum Node {
    Data(Vec<RrSet>),
    Cut(Delegation),
}

#[derive(Clone, Debug)]
struct ZoneEntry {
    zone: Arc<Zone>,
    names: BTreeMap<Name, Node>,
}

/// Zones held in memory, with every owner name listed.
#[derive(Clone, Debug, Default)]
pub struct StaticSource {
    zones: HashMap<Name, ZoneEntry>,
}

/// Why a record could not be added to a [`StaticSource`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StaticSourceError {
    /// No zone added so far contains the owner name.
    #[error("no zone contains {0}")]
    NoZone(String),
    /// The owner name is a delegation point of its zone (data belongs to the child).
    #[error("{0} is a delegation point")]
    AtCut(String),
    /// A delegation was asked for at a zone apex with no parent zone.
    #[error("no parent zone for the delegation {0}")]
    NoParent(String),
}

impl StaticSource {
    /// An empty source.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a zone; its records come with [`StaticSource::add`].
    pub fn add_zone(&mut self, mut zone: Zone) {
        zone.apex = fqdn_lower(&zone.apex);
        let apex = zone.apex.clone();
        let names = self
            .zones
            .remove(&apex)
            .map(|e| e.names)
            .unwrap_or_default();
        self.zones.insert(
            apex,
            ZoneEntry {
                zone: Arc::new(zone),
                names,
            },
        );
    }

    /// Adds an RRset at `owner` in the deepest zone containing it (replacing an RRset of
    /// the same type).
    pub fn add(&mut self, owner: &Name, set: RrSet) -> Result<(), StaticSourceError> {
        let owner = fqdn_lower(owner);
        let apex = self
            .deepest(&owner)
            .ok_or_else(|| StaticSourceError::NoZone(owner.to_ascii()))?;
        let Some(entry) = self.zones.get_mut(&apex) else {
            return Err(StaticSourceError::NoZone(owner.to_ascii()));
        };
        match entry
            .names
            .entry(owner.clone())
            .or_insert_with(|| Node::Data(Vec::new()))
        {
            Node::Data(sets) => {
                sets.retain(|s| s.rtype != set.rtype);
                sets.push(set);
                Ok(())
            }
            Node::Cut(_) => Err(StaticSourceError::AtCut(owner.to_ascii())),
        }
    }

    /// Delegates `child` from its parent zone (the deepest zone strictly above it) with
    /// name servers `ns` and DS RRset `ds` (empty: insecure delegation).
    pub fn delegate(
        &mut self,
        child: &Name,
        ttl: u32,
        ns: Vec<Name>,
        ds: Vec<DS>,
    ) -> Result<(), StaticSourceError> {
        let child = fqdn_lower(child);
        if child.is_root() {
            return Err(StaticSourceError::NoParent(child.to_ascii()));
        }
        let parent = self
            .deepest(&child.base_name())
            .ok_or_else(|| StaticSourceError::NoParent(child.to_ascii()))?;
        let Some(entry) = self.zones.get_mut(&parent) else {
            return Err(StaticSourceError::NoParent(child.to_ascii()));
        };
        entry
            .names
            .insert(child, Node::Cut(Delegation { ttl, ns, ds }));
        Ok(())
    }

    /// Switches the zone at `apex` to an exact NSEC chain over the names added so far
    /// (call after adding its records and delegations).
    pub fn use_exact_chain(&mut self, apex: &Name) {
        let apex = fqdn_lower(apex);
        if let Some(entry) = self.zones.get_mut(&apex) {
            let mut names: Vec<Name> = entry.names.keys().cloned().collect();
            names.push(apex.clone());
            let mut zone = (*entry.zone).clone();
            zone.denial = Denial::chain(names);
            entry.zone = Arc::new(zone);
        }
    }

    /// The apex of the deepest zone containing `name`.
    fn deepest(&self, name: &Name) -> Option<Name> {
        let mut candidate = name.clone();
        loop {
            if self.zones.contains_key(&candidate) {
                return Some(candidate);
            }
            if candidate.is_root() {
                return None;
            }
            candidate = candidate.base_name();
        }
    }
}

impl ZoneSource for StaticSource {
    fn zone_for(&self, name: &Name) -> Option<Arc<Zone>> {
        let apex = self.deepest(name)?;
        self.zones.get(&apex).map(|e| e.zone.clone())
    }

    fn lookup(&self, zone: &Zone, name: &Name) -> NameData {
        let Some(entry) = self.zones.get(&zone.apex) else {
            return NameData::NxDomain;
        };
        if let Some(node) = entry.names.get(name) {
            return match node {
                Node::Data(sets) => NameData::Data(sets.clone()),
                Node::Cut(cut) => NameData::Delegation(cut.clone()),
            };
        }
        // Canonical order puts a name's descendants right after it.
        let below = entry
            .names
            .range(name.clone()..)
            .next()
            .is_some_and(|(next, _)| name.zone_of(next));
        if below || *name == zone.apex {
            NameData::EmptyNonTerminal
        } else {
            NameData::NxDomain
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::zone::Signing;
    use hickory_proto::rr::RData;
    use std::net::Ipv4Addr;
    use std::str::FromStr;

    fn n(s: &str) -> Name {
        Name::from_str(s).unwrap()
    }

    #[test]
    fn lookups_classify_names() {
        let mut src = StaticSource::new();
        src.add_zone(Zone::new(n("."), Signing::Unsigned));
        src.add_zone(Zone::new(n("example."), Signing::Unsigned));
        let a = RrSet::single(60, RData::A(Ipv4Addr::LOCALHOST.into()));
        src.add(&n("x.y.example."), a.clone()).unwrap();
        src.delegate(&n("example."), 60, vec![n("ns.example.")], vec![])
            .unwrap();
        let root = src.zone_for(&n("foo.")).unwrap();
        let ex = src.zone_for(&n("q.x.y.example.")).unwrap();
        assert!(root.apex.is_root());
        assert_eq!(ex.apex, n("example."));
        assert_eq!(src.lookup(&ex, &n("x.y.example.")), NameData::Data(vec![a]));
        assert_eq!(
            src.lookup(&ex, &n("y.example.")),
            NameData::EmptyNonTerminal
        );
        assert_eq!(src.lookup(&ex, &n("z.example.")), NameData::NxDomain);
        assert!(matches!(
            src.lookup(&root, &n("example.")),
            NameData::Delegation(_)
        ));
        assert_eq!(
            src.add(
                &n("example."),
                RrSet::single(1, RData::A(Ipv4Addr::LOCALHOST.into()))
            ),
            Ok(())
        );
        assert!(src.delegate(&n("."), 1, vec![], vec![]).is_err());
    }
}
