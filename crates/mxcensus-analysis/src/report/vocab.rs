//! Severity and fix of a failure class, for the report's failure table.
//!
//! The vocabulary lives in `failure_classes!` tables spread over mxcensus-proto,
//! mxcensus-probe and mxcensus-crawl; the dataset card (`datasets/CARD.md`) is generated
//! from all of them and kept current by a test in mxcensus-crawl. Reading the card keeps
//! this crate off the network crates' dependency tree (tokio, hickory, rustls).

use std::collections::HashMap;
use std::sync::OnceLock;

const CARD: &str = include_str!("../../../../datasets/CARD.md");

/// Areas in the order a code met in several is looked up: the classifier decides what
/// lands in `error_classes`, so its table comes first.
const AREA_ORDER: [&str; 9] = [
    "Lookups and verdicts",
    "Crawler",
    "SMTP probe",
    "Certificates",
    "DANE verification",
    "Policy fetch",
    "MTA-STS TXT record",
    "Policy body",
    "TLS-RPT record",
];

/// One vocabulary entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// `error`, `warning`, `info`.
    pub severity: &'static str,
    /// The card section (short form).
    pub area: &'static str,
    /// The one-line fix.
    pub fix: &'static str,
}

fn area_rank(area: &str) -> usize {
    AREA_ORDER
        .iter()
        .position(|a| area.starts_with(a))
        .unwrap_or(AREA_ORDER.len())
}

fn parse(card: &'static str) -> HashMap<&'static str, (usize, Entry)> {
    let mut out: HashMap<&'static str, (usize, Entry)> = HashMap::new();
    let mut in_vocab = false;
    let mut area: &'static str = "";
    for line in card.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            in_vocab = h.starts_with("Failure-class vocabulary");
            continue;
        }
        if !in_vocab {
            continue;
        }
        if let Some(h) = line.strip_prefix("### ") {
            // "SMTP probe (SPEC §I)" -> "SMTP probe".
            area = h.split(" (").next().unwrap_or(h).trim();
            continue;
        }
        let Some(body) = line.strip_prefix("| `") else {
            continue;
        };
        // Cells are separated by " | "; an escaped pipe is written "\|".
        let cells: Vec<&str> = body.split(" | ").collect();
        let (Some(code), Some(sev), Some(fix)) = (cells.first(), cells.get(1), cells.get(3)) else {
            continue;
        };
        let code = code.trim_end_matches('`');
        let fix = fix.trim_end_matches(" |").trim_end_matches('|').trim();
        let severity = match sev.trim() {
            "error" => "error",
            "warning" => "warning",
            "info" => "info",
            _ => continue,
        };
        let rank = area_rank(area);
        let entry = Entry {
            severity,
            area,
            fix,
        };
        match out.get(code) {
            Some((r, _)) if *r <= rank => {}
            _ => {
                out.insert(code, (rank, entry));
            }
        }
    }
    out
}

fn table() -> &'static HashMap<&'static str, (usize, Entry)> {
    static TABLE: OnceLock<HashMap<&'static str, (usize, Entry)>> = OnceLock::new();
    TABLE.get_or_init(|| parse(CARD))
}

/// The vocabulary entry of `code`, when the card lists it.
pub(crate) fn lookup(code: &str) -> Option<Entry> {
    table().get(code).map(|(_, e)| *e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_vocabulary_is_read() {
        let e = lookup("no_starttls").unwrap_or_else(|| panic!("no_starttls missing"));
        assert_eq!((e.severity, e.area), ("error", "SMTP probe"));
        assert!(e.fix.starts_with("Enable STARTTLS"), "{}", e.fix);
        // Listed by the DANE verifier as error and by the classifier as warning: the
        // classifier's entry wins, as it decides what is in error_classes.
        let e = lookup("tlsa_insecure").unwrap_or_else(|| panic!("tlsa_insecure missing"));
        assert_eq!((e.severity, e.area), ("warning", "Lookups and verdicts"));
        assert!(lookup("mx_not_covered").is_some());
        assert!(lookup("cert_expired").is_some());
        assert!(lookup("not_a_class").is_none());
        assert!(table().len() > 100);
    }

    #[test]
    fn escaped_pipes_stay_in_the_fix() {
        let card = "## Failure-class vocabulary\n\n### Area (x)\n\n| `a_b` | warning | RFC 1 | Use x \\| y. |\n## Next\n| `c` | error | r | f |\n";
        let t = parse(card);
        assert_eq!(t.len(), 1);
        assert_eq!(t["a_b"].1.fix, "Use x \\| y.");
        assert_eq!(t["a_b"].1.area, "Area");
    }
}
