//! NSEC denial of existence: the exact chain of a small zone, and RFC 4470 minimally
//! covering NSEC records ("white lies") for zones whose names are never listed.
//!
//! White lies cover a query name with an interval that contains no name a simnet zone
//! can hold: the owner is the query name's first label with its last octet decremented
//! and `\255` appended, the next name is the first label with `\000` appended. Every name
//! strictly between them is the query name itself, its descendants, or a name with a
//! `\255`/`\000` octet; simnet zones hold only LDH names, so aggressive NSEC use by a
//! resolver (RFC 8198) cannot deny an existing name. The next name is deliberately not a
//! descendant of the query name, so validators derive the right closest encloser from it.
use hickory_proto::rr::Name;

/// An NSEC interval: `owner` and `next` (the NSEC's owner and Next Domain Name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interval {
    /// The NSEC owner name.
    pub owner: Name,
    /// The NSEC Next Domain Name.
    pub next: Name,
}

/// Largest label, and largest name in wire octets (RFC 1035 §2.3.4).
const MAX_LABEL: usize = 63;
const MAX_NAME: usize = 255;

/// The wire length of a name (labels + length octets + root).
fn wire_len(labels: &[Vec<u8>]) -> usize {
    labels.iter().map(|l| l.len() + 1).sum::<usize>() + 1
}

fn labels_of(name: &Name) -> Vec<Vec<u8>> {
    name.iter().map(|l| l.to_ascii_lowercase()).collect()
}

fn name_of(labels: &[Vec<u8>]) -> Option<Name> {
    let mut name = Name::from_labels(labels.iter().map(|l| l.as_slice())).ok()?;
    name.set_fqdn(true);
    Some(name)
}

/// A name just below `name` in canonical order, whose interval to `name` holds only
/// names no simnet zone contains. `None` for the root or unrepresentable names.
pub fn predecessor(name: &Name) -> Option<Name> {
    let mut labels = labels_of(name);
    let first = labels.first_mut()?;
    match first.last().copied() {
        None => return None,
        // "a\000" > every name below "a": prepend the largest single-octet label.
        Some(0) => {
            first.pop();
            if first.is_empty() {
                // "\000.P" follows P directly (only P's own subtree lies between, and
                // "\000" is its smallest label): P is the predecessor.
                labels.remove(0);
            } else {
                labels.insert(0, vec![0xff]);
            }
        }
        Some(mut octet) => {
            octet -= 1;
            // Canonical order is case-insensitive: upper-case octets sort as lower case.
            if octet.is_ascii_uppercase() {
                octet = b'A' - 1;
            }
            first.pop();
            first.push(octet);
            if first.len() < MAX_LABEL {
                first.push(0xff);
            }
        }
    }
    if wire_len(&labels) > MAX_NAME {
        return None;
    }
    name_of(&labels)
}

/// A name just above `name` and its whole subtree in canonical order (the first label
/// with `\000` appended). `None` when that would be too long.
pub fn successor_beyond(name: &Name) -> Option<Name> {
    let mut labels = labels_of(name);
    let first = labels.first_mut()?;
    if first.len() >= MAX_LABEL {
        return None;
    }
    first.push(0);
    if wire_len(&labels) > MAX_NAME {
        return None;
    }
    name_of(&labels)
}

/// The immediate successor of `name` (`\000.name`), for an NSEC owned by an existing
/// name (NODATA). `None` when too long.
pub fn successor_child(name: &Name) -> Option<Name> {
    let mut labels = labels_of(name);
    labels.insert(0, vec![0]);
    if wire_len(&labels) > MAX_NAME {
        return None;
    }
    name_of(&labels)
}

/// The white lie covering the nonexistent `name` of the zone at `apex`. Falls back to
/// wider intervals (ending at the apex, as the last NSEC of a chain does) for names at
/// the limits of the name space.
pub fn white_lie_cover(apex: &Name, name: &Name) -> Interval {
    let owner = predecessor(name)
        .filter(|p| apex.zone_of(p))
        .unwrap_or_else(|| name.base_name());
    let next = successor_beyond(name).unwrap_or_else(|| apex.clone());
    Interval { owner, next }
}

/// The white lie owned by the existing `name` (NODATA or an empty non-terminal).
pub fn white_lie_at(apex: &Name, name: &Name) -> Interval {
    let next = successor_child(name)
        .or_else(|| successor_beyond(name))
        .unwrap_or_else(|| apex.clone());
    Interval {
        owner: name.clone(),
        next,
    }
}

/// The NSEC of an exact `chain` (sorted, apex first) whose interval covers or owns
/// `name`: the last chain name at or before `name`, and the one after it (the apex
/// after the last). `None` for an empty chain.
pub fn chain_interval(chain: &[Name], name: &Name) -> Option<Interval> {
    let idx = chain.partition_point(|n| n <= name);
    let owner = chain.get(idx.checked_sub(1)?)?.clone();
    let next = chain.get(idx).or_else(|| chain.first())?.clone();
    Some(Interval { owner, next })
}

/// Whether the NSEC interval `iv` proves `name` does not exist (strictly between owner
/// and next, with wrap-around at the end of the zone).
pub fn covers(iv: &Interval, name: &Name) -> bool {
    if iv.owner < iv.next {
        &iv.owner < name && name < &iv.next
    } else {
        &iv.owner < name || name < &iv.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Any labels, even ones `Name::from_str` rejects ("-", octet escapes aside).
    fn n(s: &str) -> Name {
        if s == "." {
            return Name::root();
        }
        let mut name =
            Name::from_labels(s.trim_end_matches('.').split('.').map(str::as_bytes)).unwrap();
        name.set_fqdn(true);
        name
    }

    #[test]
    fn white_lie_covers_name_and_not_neighbours() {
        let apex = n("com.");
        let iv = white_lie_cover(&apex, &n("foo.com."));
        assert!(covers(&iv, &n("foo.com.")));
        assert!(covers(&iv, &n("www.foo.com.")));
        for existing in [
            "fon.com.",
            "fonz.com.",
            "foo0.com.",
            "foo-.com.",
            "fop.com.",
            "com.",
        ] {
            assert!(!covers(&iv, &n(existing)), "{existing} covered");
        }
        // The next name is not below the query name, so the closest encloser is "com".
        assert!(!n("foo.com.").zone_of(&iv.next));
    }

    #[test]
    fn wildcard_cover_is_separate_and_tight() {
        let apex = n("example.");
        let iv = white_lie_cover(&apex, &n("*.example."));
        assert!(covers(&iv, &n("*.example.")));
        assert!(!covers(&iv, &n("a.example.")));
        assert!(!covers(&iv, &n("-.example.")));
        assert!(!covers(&iv, &n("0.example.")));
    }

    #[test]
    fn edge_octets() {
        let apex = n("example.");
        let q = Name::from_labels([b"a\x00".as_slice(), b"example"]).unwrap();
        let iv = white_lie_cover(&apex, &q);
        assert!(covers(&iv, &q));
        assert!(!covers(&iv, &n("www.a.example.")));
        let q = Name::from_labels([b"\x00".as_slice(), b"example"]).unwrap();
        let iv = white_lie_cover(&apex, &q);
        assert!(covers(&iv, &q));
        assert_eq!(iv.owner, apex);
        // 'B' decrements to 'A', which sorts as 'a': must go below 'A' instead.
        let iv = white_lie_cover(&apex, &n("B.example."));
        assert!(!covers(&iv, &n("a.example.")));
        assert!(covers(&iv, &n("b.example.")));
        let long = "x".repeat(63);
        let q = n(&format!("{long}.example."));
        let iv = white_lie_cover(&apex, &q);
        assert!(covers(&iv, &q));
    }

    #[test]
    fn nodata_white_lie_owns_the_name() {
        let apex = n("example.");
        let iv = white_lie_at(&apex, &n("www.example."));
        assert_eq!(iv.owner, n("www.example."));
        let child = Name::from_labels([b"\x00".as_slice(), b"www", b"example"]).unwrap();
        assert_eq!(iv.next, child);
        assert!(!covers(&iv, &n("a.www.example.")));
    }

    #[test]
    fn chain_intervals() {
        let chain: Vec<Name> = ["example.", "a.example.", "m.example.", "z.m.example."]
            .iter()
            .map(|s| n(s))
            .collect();
        let iv = chain_interval(&chain, &n("b.example.")).unwrap();
        assert_eq!(
            iv,
            Interval {
                owner: n("a.example."),
                next: n("m.example.")
            }
        );
        assert!(covers(&iv, &n("b.example.")));
        // Past the last name: wraps to the apex.
        let iv = chain_interval(&chain, &n("zz.example.")).unwrap();
        assert_eq!(iv.owner, n("z.m.example."));
        assert_eq!(iv.next, n("example."));
        assert!(covers(&iv, &n("zz.example.")));
        // An existing name owns its NSEC.
        let iv = chain_interval(&chain, &n("m.example.")).unwrap();
        assert_eq!(iv.owner, n("m.example."));
        assert_eq!(iv.next, n("z.m.example."));
        // The wildcard at the apex is covered by the apex's NSEC.
        let iv = chain_interval(&chain, &n("*.example.")).unwrap();
        assert_eq!(iv.owner, n("example."));
        assert!(covers(&iv, &n("*.example.")));
        assert!(chain_interval(&[], &n("a.example.")).is_none());
    }

    proptest! {
        #[test]
        fn white_lies_cover_only_the_query_subtree(
            q in "[a-z0-9-]{1,20}", other in "[a-z0-9-]{1,20}"
        ) {
            let apex = n("example.");
            let qname = n(&format!("{q}.example."));
            let iv = white_lie_cover(&apex, &qname);
            prop_assert!(covers(&iv, &qname));
            if other != q {
                let on = n(&format!("{other}.example."));
                prop_assert!(!covers(&iv, &on));
                let below = n(&format!("{other}.{other}.example."));
                prop_assert!(!covers(&iv, &below));
            }
        }
    }
}
