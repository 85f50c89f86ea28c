//! Epochs: the same world a while later, with a known set of changes.
//!
//! Epoch 0 is the base world ([`Population::base_domain`]). Epoch `E > 0` takes every
//! domain's epoch-0 configuration and, for a deterministic subset of domains chosen by
//! keyed hashes of `(seed, index, E)`, applies **one** change from the list below
//! ([`EpochChange`]). Every other domain stays identical, so a diff of two epochs holds
//! exactly the planted changes. Epochs are not cumulative: each is epoch 0 plus its own
//! changes (epoch 2 is not epoch 1 plus more).
//!
//! **Selection.** For each change kind `k` a domain is *eligible* by plain structural rules
//! (below), and a candidate when also `unit(seed, index, FIELD + 64·E + k) < RATE[k]`;
//! among its candidates the domain takes the one with the smallest `draw / rate`. The
//! rates are shares of the eligible domains ([`EpochChange::rate`]); at the default
//! profile they change about 6% of all domains per epoch. DANE changes need secure,
//! self-hosted zones, which are rare in the default profile (about 0.4% of domains
//! publish TLSA for their own MX hosts); [`dense_profile`] raises the DNSSEC and DANE
//! shares so that a world of 1,500 domains shows every kind a few times (unit tests
//! check both).
//!
//! **Only clean changes.** No change touches a domain whose zone has a planted name server
//! fault or is bogus. After applying a change, the ground truth of the domain before and
//! after ([`crate::truth::truth_row`], simnet's own rules) must differ in exactly the
//! headline columns the change is meant to move, in the intended direction (for example
//! `dnssec_signed` moves `dnssec` from `insecure` to `secure` and nothing else: never the
//! `dane` column); a change that would do more (or less) is not applied and the next
//! candidate is tried. So each change maps to one diff finding of `mxcensus diff`.
//!
//! The changes (their codes are the truth table's `changes` column):
//!
//! | code | eligible domains | what changes |
//! | --- | --- | --- |
//! | `sts_adopted` | no MTA-STS, not null MX | TXT `v=STSv1; id=…;` and a valid, self-hosted policy (`testing` or `enforce`, `max_age` 604800, the MX hosts as patterns) |
//! | `sts_dropped` | working MTA-STS (valid TXT and policy, mode `testing`/`enforce`) | the TXT record and the policy are removed |
//! | `sts_mode_changed` | working MTA-STS | `testing` ⇄ `enforce`, with a new `id` (RFC 8461 §3.1) |
//! | `policy_changed_same_id` | working MTA-STS | `max_age` changed, **same `id`** (the mistake SPEC §B asks to detect) |
//! | `policy_bytes_changed_same_id` | working MTA-STS | CRLF line ends become LF: other bytes, the same parsed policy, same `id` |
//! | `policy_changed_new_id` | working MTA-STS | `max_age` changed with a new `id` (done right: no finding) |
//! | `dnssec_signed` | unsigned zone, no TLSA on any MX host | zone signed, DS published (DNSSEC `insecure` → `secure`) |
//! | `dnssec_unsigned` | secure zone, no TLSA on any MX host | DNSKEY and DS removed (`secure` → `insecure`) |
//! | `dane_added` | secure zone, MX hosts in the own zone, no TLSA | `3 1 1` TLSA for every MX host (`dane` → `all`/`partial`) |
//! | `dane_removed` | secure zone, TLSA on own MX hosts, DANE working | TLSA removed (`dane` → `none`) |
//! | `dane_broken` | secure zone, DANE-EE on own MX hosts, working | the first such host rolls its key, TLSA not updated (`dane` → `broken`) |
//! | `dane_fixed` | secure zone, TLSA on own MX hosts with a planted DANE fault | `3 1 1` of the key each such host serves (`broken` → `all`/`partial`) |
//! | `tlsrpt_added` | no TLS-RPT, not null MX | a valid `v=TLSRPTv1; rua=mailto:…` record |
//! | `tlsrpt_removed` | valid TLS-RPT | the record is removed |
//!
//! New ids are the old id (or, for adoption, a hash) with `e<E>` appended: still
//! `1*32(ALPHA / DIGIT)`, and different in every epoch.

use crate::population::{
    DomainConfig, HostZone, MailKind, PolicyHosting, PolicyMode, Population, Sts, StsTxt, TlsaKind,
    Tlsrpt, ZoneDnssec, draw, policy_body, unit,
};
use crate::profile::{DaneFault, TxtFault};
use crate::truth::{TruthRow, starttls_ok, truth_row};

/// Hash fields of epoch draws: `FIELD + 64 * epoch + kind`, far above the population's.
const FIELD: u64 = 1 << 32;

/// `max_age` values a changed policy moves between.
const MAX_AGES: [u64; 5] = [86_400, 604_800, 1_209_600, 2_592_000, 31_557_600];

/// One change an epoch applies to a domain's epoch-0 configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EpochChange {
    /// MTA-STS published (TXT and a valid policy, `testing` or `enforce`).
    StsAdopted,
    /// MTA-STS TXT and policy removed.
    StsDropped,
    /// `testing` ⇄ `enforce`, with a new id.
    StsModeChanged,
    /// Policy `max_age` changed, TXT id kept (SPEC §B mistake).
    PolicyChangedSameId,
    /// Policy bytes changed (line ends), parsed policy and TXT id kept.
    PolicyBytesChangedSameId,
    /// Policy `max_age` changed with a new TXT id.
    PolicyChangedNewId,
    /// Zone signed and DS published.
    DnssecSigned,
    /// DNSKEY and DS removed.
    DnssecUnsigned,
    /// TLSA published on the own MX hosts of a secure zone.
    DaneAdded,
    /// TLSA removed.
    DaneRemoved,
    /// Key rolled without updating TLSA.
    DaneBroken,
    /// TLSA updated to a rolled key.
    DaneFixed,
    /// A valid TLS-RPT record published.
    TlsrptAdded,
    /// The TLS-RPT record removed.
    TlsrptRemoved,
}

impl EpochChange {
    /// Every change, in selection order.
    pub const ALL: [EpochChange; 14] = [
        EpochChange::StsAdopted,
        EpochChange::StsDropped,
        EpochChange::StsModeChanged,
        EpochChange::PolicyChangedSameId,
        EpochChange::PolicyBytesChangedSameId,
        EpochChange::PolicyChangedNewId,
        EpochChange::DnssecSigned,
        EpochChange::DnssecUnsigned,
        EpochChange::DaneAdded,
        EpochChange::DaneRemoved,
        EpochChange::DaneBroken,
        EpochChange::DaneFixed,
        EpochChange::TlsrptAdded,
        EpochChange::TlsrptRemoved,
    ];

    /// The stable code (the truth table's `changes` values).
    pub fn code(self) -> &'static str {
        match self {
            EpochChange::StsAdopted => "sts_adopted",
            EpochChange::StsDropped => "sts_dropped",
            EpochChange::StsModeChanged => "sts_mode_changed",
            EpochChange::PolicyChangedSameId => "policy_changed_same_id",
            EpochChange::PolicyBytesChangedSameId => "policy_bytes_changed_same_id",
            EpochChange::PolicyChangedNewId => "policy_changed_new_id",
            EpochChange::DnssecSigned => "dnssec_signed",
            EpochChange::DnssecUnsigned => "dnssec_unsigned",
            EpochChange::DaneAdded => "dane_added",
            EpochChange::DaneRemoved => "dane_removed",
            EpochChange::DaneBroken => "dane_broken",
            EpochChange::DaneFixed => "dane_fixed",
            EpochChange::TlsrptAdded => "tlsrpt_added",
            EpochChange::TlsrptRemoved => "tlsrpt_removed",
        }
    }

    /// The change with this code.
    pub fn from_code(code: &str) -> Option<EpochChange> {
        EpochChange::ALL.into_iter().find(|c| c.code() == code)
    }

    /// Share of the eligible domains that take this change in an epoch. Rare kinds
    /// (few eligible domains) get high rates so that small worlds still show them.
    pub fn rate(self) -> f64 {
        match self {
            EpochChange::StsAdopted => 0.012,
            EpochChange::StsDropped
            | EpochChange::StsModeChanged
            | EpochChange::PolicyChangedSameId => 0.06,
            EpochChange::PolicyBytesChangedSameId | EpochChange::PolicyChangedNewId => 0.05,
            EpochChange::DnssecSigned => 0.01,
            EpochChange::DnssecUnsigned => 0.08,
            EpochChange::DaneAdded => 0.2,
            EpochChange::DaneRemoved | EpochChange::DaneBroken => 0.25,
            EpochChange::DaneFixed => 0.6,
            EpochChange::TlsrptAdded => 0.01,
            EpochChange::TlsrptRemoved => 0.06,
        }
    }
}

impl std::fmt::Display for EpochChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// The default profile with more signed zones, more DANE among them and more DANE
/// faults, so that a small world (1,500 domains) shows every [`EpochChange`] a few times
/// in one epoch. Everything else is the default.
pub fn dense_profile() -> crate::profile::Profile {
    let mut p = crate::profile::Profile::default();
    p.dnssec.signed_share = 0.3;
    p.dnssec.dane_of_signed_share = 0.6;
    p.faults.dane.share = 0.3;
    p
}

/// The zone is served normally: no planted name server fault, not bogus.
fn healthy(d: &DomainConfig) -> bool {
    d.nameserver.is_none() && !matches!(d.dnssec, ZoneDnssec::Bogus(_))
}

/// MTA-STS that works at epoch 0: a valid TXT record and a valid policy in mode
/// `testing` or `enforce` (warnings allowed).
fn working_sts(d: &DomainConfig) -> Option<&Sts> {
    d.sts.as_ref().filter(|s| {
        s.txt_fault.is_none_or(TxtFault::is_warning)
            && s.fetch_fault.is_none()
            && s.body_fault
                .is_none_or(crate::profile::BodyFault::is_warning)
            && matches!(s.mode, PolicyMode::Testing | PolicyMode::Enforce)
            && matches!(s.txt, StsTxt::Records(_))
    })
}

fn own_hosts(d: &DomainConfig) -> bool {
    matches!(d.mail, MailKind::SelfHosted | MailKind::Implicit)
        && !d.mx.is_empty()
        && d.mx.iter().all(|h| h.zone == HostZone::Domain)
}

fn no_tlsa(d: &DomainConfig) -> bool {
    d.mx.iter().all(|h| h.tlsa_generation.is_none())
}

/// Whether `change` may apply to `d` (structural rules; the truth check comes after).
fn eligible(change: EpochChange, d: &DomainConfig) -> bool {
    if !healthy(d) {
        return false;
    }
    let secure = d.dnssec == ZoneDnssec::Secure;
    match change {
        EpochChange::StsAdopted => {
            d.sts.is_none() && d.mail != MailKind::NullMx && !d.mx.is_empty()
        }
        EpochChange::StsDropped
        | EpochChange::StsModeChanged
        | EpochChange::PolicyChangedSameId
        | EpochChange::PolicyBytesChangedSameId
        | EpochChange::PolicyChangedNewId => working_sts(d).is_some(),
        EpochChange::DnssecSigned => d.dnssec == ZoneDnssec::Unsigned && no_tlsa(d),
        EpochChange::DnssecUnsigned => secure && no_tlsa(d),
        EpochChange::DaneAdded => secure && own_hosts(d) && no_tlsa(d),
        EpochChange::DaneRemoved => secure && own_hosts(d) && !no_tlsa(d),
        EpochChange::DaneBroken => {
            secure
                && own_hosts(d)
                && d.mx.iter().any(|h| {
                    h.tlsa_kind == TlsaKind::DaneEe
                        && h.dane_fault.is_none()
                        && h.tlsa_generation == Some(h.cert_generation)
                })
        }
        EpochChange::DaneFixed => {
            secure
                && own_hosts(d)
                && d.mx
                    .iter()
                    .any(|h| h.tlsa_generation.is_some() && h.dane_fault.is_some())
        }
        EpochChange::TlsrptAdded => d.tlsrpt.is_none() && d.mail != MailKind::NullMx,
        EpochChange::TlsrptRemoved => d.tlsrpt.as_ref().is_some_and(|t| t.fault.is_none()),
    }
}

/// A new policy id: `base` with the epoch appended.
fn new_id(base: &str, epoch: u32) -> String {
    let mut id = format!("{base}e{epoch}");
    // `1*32(ALPHA / DIGIT)`: keep the tail, which carries the epoch.
    if id.len() > 32 {
        id = id.split_off(id.len() - 32);
    }
    id
}

fn next_max_age(max_age: u64) -> u64 {
    let i = MAX_AGES.iter().position(|&m| m == max_age).unwrap_or(0);
    MAX_AGES[(i + 1) % MAX_AGES.len()]
}

/// Rewrites the TXT records with `id` in place of the current one.
fn set_id(sts: &mut Sts, id: String) {
    if let StsTxt::Records(records) = &mut sts.txt {
        let old = format!("id={};", sts.id);
        let new = format!("id={id};");
        for r in records.iter_mut() {
            *r = r.replacen(&old, &new, 1);
        }
    }
    sts.id = id;
}

fn rebuild_body(sts: &mut Sts) {
    sts.body = policy_body(
        sts.mode,
        &sts.patterns,
        sts.max_age,
        sts.body_fault,
        sts.bad_mx,
        sts.fetch_fault,
    );
}

/// `d` with `change` applied (no checks).
fn change_config(pop: &Population, mut d: DomainConfig, change: EpochChange) -> DomainConfig {
    let epoch = pop.epoch();
    let item = u64::from(d.index);
    let field = FIELD + 64 * u64::from(epoch) + 63;
    match change {
        EpochChange::StsAdopted => {
            let mode = if draw(pop.seed(), item, field) & 1 == 0 {
                PolicyMode::Testing
            } else {
                PolicyMode::Enforce
            };
            let id = new_id(
                &format!("{:08x}", draw(pop.seed(), item, field) >> 32),
                epoch,
            );
            let patterns: Vec<String> = d.mx.iter().map(|h| h.name.clone()).collect();
            let max_age = 604_800;
            let body = policy_body(mode, &patterns, max_age, None, None, None);
            d.sts = Some(Sts {
                mode,
                txt: StsTxt::Records(vec![format!("v=STSv1; id={id};")]),
                id,
                txt_fault: None,
                hosting: PolicyHosting::SelfHosted,
                fetch_fault: None,
                body_fault: None,
                coverage_fault: None,
                bad_mx: None,
                patterns,
                max_age,
                body,
            });
            d.other_txt = None;
        }
        EpochChange::StsDropped => d.sts = None,
        EpochChange::StsModeChanged => {
            if let Some(sts) = &mut d.sts {
                sts.mode = match sts.mode {
                    PolicyMode::Enforce => PolicyMode::Testing,
                    _ => PolicyMode::Enforce,
                };
                let id = new_id(&sts.id, epoch);
                set_id(sts, id);
                rebuild_body(sts);
            }
        }
        EpochChange::PolicyChangedSameId | EpochChange::PolicyChangedNewId => {
            if let Some(sts) = &mut d.sts {
                sts.max_age = next_max_age(sts.max_age);
                if change == EpochChange::PolicyChangedNewId {
                    let id = new_id(&sts.id, epoch);
                    set_id(sts, id);
                }
                rebuild_body(sts);
            }
        }
        EpochChange::PolicyBytesChangedSameId => {
            if let Some(sts) = &mut d.sts {
                sts.body = sts.body.replace("\r\n", "\n");
            }
        }
        EpochChange::DnssecSigned | EpochChange::DnssecUnsigned => {
            let to = if change == EpochChange::DnssecSigned {
                ZoneDnssec::Secure
            } else {
                ZoneDnssec::Unsigned
            };
            d.dnssec = to;
            for h in d.mx.iter_mut().filter(|h| h.zone == HostZone::Domain) {
                h.zone_dnssec = to;
            }
        }
        EpochChange::DaneAdded => {
            for h in &mut d.mx {
                h.tlsa_generation = Some(h.cert_generation);
                h.tlsa_kind = TlsaKind::DaneEe;
                h.dane_fault = None;
            }
        }
        EpochChange::DaneRemoved => {
            for h in &mut d.mx {
                h.tlsa_generation = None;
                h.tlsa_kind = TlsaKind::DaneEe;
                h.dane_fault = None;
            }
        }
        EpochChange::DaneBroken => {
            if let Some(h) = d.mx.iter_mut().find(|h| {
                h.tlsa_kind == TlsaKind::DaneEe
                    && h.dane_fault.is_none()
                    && h.tlsa_generation == Some(h.cert_generation)
            }) {
                h.cert_generation += 1;
                h.dane_fault = Some(DaneFault::TlsaMismatchAfterRoll);
            }
        }
        EpochChange::DaneFixed => {
            for h in d.mx.iter_mut().filter(|h| h.tlsa_generation.is_some()) {
                h.tlsa_generation = Some(h.cert_generation);
                h.tlsa_kind = TlsaKind::DaneEe;
                h.dane_fault = None;
            }
        }
        EpochChange::TlsrptAdded => {
            d.tlsrpt = Some(Tlsrpt {
                fault: None,
                records: vec![format!("v=TLSRPTv1; rua=mailto:tlsrpt@{}", d.name)],
            });
        }
        EpochChange::TlsrptRemoved => d.tlsrpt = None,
    }
    d
}

/// The headline columns of a truth row, in a fixed order.
fn headline(r: &TruthRow) -> [Option<&'static str>; 9] {
    [
        Some(r.mx_status),
        Some(r.sts_txt),
        Some(r.sts_policy),
        r.sts_mode,
        r.sts_mx_valid,
        r.starttls,
        Some(r.tlsrpt),
        Some(r.dnssec),
        r.dane,
    ]
}

const STS_TXT: usize = 1;
const STS_POLICY: usize = 2;
const STS_MODE: usize = 3;
const STS_MX_VALID: usize = 4;
const TLSRPT: usize = 6;
const DNSSEC: usize = 7;
const DANE: usize = 8;

fn active(h: &[Option<&str>; 9]) -> bool {
    h[STS_TXT] == Some("valid")
        && h[STS_POLICY] == Some("valid")
        && matches!(h[STS_MODE], Some("testing" | "enforce"))
}

fn dane_working(v: Option<&str>) -> bool {
    matches!(v, Some("all" | "partial"))
}

/// Whether the truth moved from `before` to `after` exactly as `change` intends.
fn truth_moved_as_intended(
    change: EpochChange,
    before: &[Option<&'static str>; 9],
    after: &[Option<&'static str>; 9],
) -> bool {
    let moved: Vec<usize> = (0..before.len())
        .filter(|&i| before[i] != after[i])
        .collect();
    let only = |allowed: &[usize]| moved.iter().all(|i| allowed.contains(i));
    match change {
        EpochChange::StsAdopted => {
            !active(before) && active(after) && only(&[STS_TXT, STS_POLICY, STS_MODE, STS_MX_VALID])
        }
        EpochChange::StsDropped => {
            active(before)
                && after[STS_TXT] == Some("absent")
                && only(&[STS_TXT, STS_POLICY, STS_MODE, STS_MX_VALID])
        }
        EpochChange::StsModeChanged => active(before) && active(after) && moved == [STS_MODE],
        EpochChange::PolicyChangedSameId
        | EpochChange::PolicyBytesChangedSameId
        | EpochChange::PolicyChangedNewId => active(before) && moved.is_empty(),
        EpochChange::DnssecSigned => {
            before[DNSSEC] == Some("insecure")
                && after[DNSSEC] == Some("secure")
                && moved == [DNSSEC]
        }
        EpochChange::DnssecUnsigned => {
            before[DNSSEC] == Some("secure")
                && after[DNSSEC] == Some("insecure")
                && moved == [DNSSEC]
        }
        EpochChange::DaneAdded => {
            before[DANE] == Some("none") && dane_working(after[DANE]) && moved == [DANE]
        }
        EpochChange::DaneRemoved => {
            dane_working(before[DANE]) && after[DANE] == Some("none") && moved == [DANE]
        }
        EpochChange::DaneBroken => {
            dane_working(before[DANE]) && after[DANE] == Some("broken") && moved == [DANE]
        }
        EpochChange::DaneFixed => {
            before[DANE] == Some("broken") && dane_working(after[DANE]) && moved == [DANE]
        }
        EpochChange::TlsrptAdded => {
            before[TLSRPT] == Some("absent") && after[TLSRPT] == Some("valid") && moved == [TLSRPT]
        }
        EpochChange::TlsrptRemoved => {
            before[TLSRPT] == Some("valid") && after[TLSRPT] == Some("absent") && moved == [TLSRPT]
        }
    }
}

/// Applies `pop`'s epoch to `base` (domain `base.index`'s epoch-0 configuration): the
/// configuration at that epoch and the changes made (at most one; none at epoch 0).
pub fn apply(pop: &Population, base: DomainConfig) -> (DomainConfig, Vec<EpochChange>) {
    let epoch = pop.epoch();
    if epoch == 0 {
        return (base, Vec::new());
    }
    let item = u64::from(base.index);
    let mut candidates: Vec<(f64, EpochChange)> = EpochChange::ALL
        .iter()
        .enumerate()
        .filter_map(|(k, &change)| {
            let u = unit(pop.seed(), item, FIELD + 64 * u64::from(epoch) + k as u64);
            (u < change.rate() && eligible(change, &base)).then(|| (u / change.rate(), change))
        })
        .collect();
    if candidates.is_empty() {
        return (base, Vec::new());
    }
    candidates.sort_by(|a, b| a.0.total_cmp(&b.0));
    let before = headline(&truth_row(pop, &base));
    for (_, change) in candidates {
        let changed = change_config(pop, base.clone(), change);
        if change == EpochChange::DaneAdded && !changed.mx.iter().all(starttls_ok) {
            continue;
        }
        let after = headline(&truth_row(pop, &changed));
        if truth_moved_as_intended(change, &before, &after) {
            return (changed, vec![change]);
        }
    }
    (base, Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;
    use std::collections::BTreeMap;

    fn counts(profile: Profile, seed: u64, n: u32, epoch: u32) -> BTreeMap<EpochChange, u32> {
        let pop = Population::new(seed, n, profile).unwrap().with_epoch(epoch);
        let mut out = BTreeMap::new();
        for i in 0..n {
            let (d, changes) = pop.domain_and_changes(i);
            let base = pop.base_domain(i);
            if changes.is_empty() {
                assert_eq!(d, base, "unchanged domains stay identical");
            } else {
                assert_ne!(d, base);
            }
            for c in changes {
                *out.entry(c).or_default() += 1;
            }
        }
        out
    }

    #[test]
    fn epoch_zero_is_the_base_world() {
        let pop = Population::new(9, 3000, Profile::default()).unwrap();
        assert_eq!(pop.epoch(), 0);
        for i in 0..3000 {
            let (d, c) = pop.domain_and_changes(i);
            assert!(c.is_empty());
            assert_eq!(d, pop.base_domain(i));
        }
    }

    #[test]
    fn small_worlds_show_every_change_a_few_times() {
        for (seed, n) in [(7, 1500), (7, 2000), (21, 1500)] {
            let c = counts(dense_profile(), seed, n, 1);
            let total: u32 = c.values().sum();
            for change in EpochChange::ALL {
                assert!(
                    c.get(&change).copied().unwrap_or(0) >= 2,
                    "seed {seed} n {n}: {change} too rare: {c:?}"
                );
            }
            // A few percent of all domains, not a new world.
            assert!(total * 100 < n * 12, "{total} of {n}: {c:?}");
        }
        // The default profile: about 6% of the domains, most kinds even at 3,000.
        let c = counts(Profile::default(), 7, 3000, 1);
        let total: u32 = c.values().sum();
        assert!((60..240).contains(&total), "{total}: {c:?}");
        assert!(c.len() >= 10, "{c:?}");
    }

    #[test]
    fn epochs_differ_and_are_deterministic() {
        let a = counts(Profile::default(), 7, 1000, 1);
        assert_eq!(a, counts(Profile::default(), 7, 1000, 1));
        let pop1 = Population::new(7, 1000, Profile::default())
            .unwrap()
            .with_epoch(1);
        let pop2 = Population::new(7, 1000, Profile::default())
            .unwrap()
            .with_epoch(2);
        let changed = |p: &Population| -> Vec<u32> {
            (0..1000)
                .filter(|&i| !p.domain_and_changes(i).1.is_empty())
                .collect()
        };
        assert_ne!(changed(&pop1), changed(&pop2));
    }

    #[test]
    fn changes_do_what_they_say() {
        let pop = Population::new(7, 3000, dense_profile())
            .unwrap()
            .with_epoch(3);
        for i in 0..3000 {
            let (d, changes) = pop.domain_and_changes(i);
            let Some(&change) = changes.first() else {
                continue;
            };
            let base = pop.base_domain(i);
            let (b, a) = (truth_row(&pop, &base), truth_row(&pop, &d));
            match change {
                EpochChange::StsModeChanged | EpochChange::PolicyChangedNewId => {
                    let (s0, s1) = (base.sts.unwrap(), d.sts.unwrap());
                    assert_ne!(s0.id, s1.id);
                    assert_ne!(s0.body, s1.body);
                    let StsTxt::Records(r) = &s1.txt else {
                        panic!()
                    };
                    assert!(r[0].contains(&format!("id={};", s1.id)), "{r:?}");
                    assert!(s1.id.len() <= 32 && s1.id.bytes().all(|c| c.is_ascii_alphanumeric()));
                }
                EpochChange::PolicyChangedSameId | EpochChange::PolicyBytesChangedSameId => {
                    let (s0, s1) = (base.sts.unwrap(), d.sts.unwrap());
                    assert_eq!((s0.id, s0.txt), (s1.id, s1.txt));
                    assert_ne!(s0.body, s1.body);
                    assert_eq!(
                        s0.max_age == s1.max_age,
                        change == EpochChange::PolicyBytesChangedSameId
                    );
                }
                EpochChange::DnssecSigned => {
                    assert_eq!((b.dnssec, a.dnssec), ("insecure", "secure"))
                }
                EpochChange::DaneBroken => {
                    assert_eq!(a.dane, Some("broken"));
                    assert!(a.error_classes.contains(&"tlsa_mismatch"));
                }
                EpochChange::StsAdopted => {
                    assert_eq!((a.sts_txt, a.sts_policy), ("valid", "valid"));
                }
                _ => {}
            }
            assert_eq!(EpochChange::from_code(change.code()), Some(change));
        }
    }
}
