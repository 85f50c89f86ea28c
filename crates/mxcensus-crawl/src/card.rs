//! The dataset card (`datasets/CARD.md`), generated from the table documentation
//! (`mxcensus_dataset::tables`) and the failure-class tables of every area, so that it
//! cannot drift from the code: a test fails when the checked-in card differs from
//! [`render`] (run it with `MXCENSUS_UPDATE_CARD=1` to rewrite the file).

use mxcensus_dataset::manifest::SCHEMA_VERSION;
use mxcensus_dataset::tables::{TABLES, card_section};
use mxcensus_probe::policy_fetch::FetchClass;
use mxcensus_probe::smtp::SmtpClass;
use mxcensus_proto::cert::CertClass;
use mxcensus_proto::failure_classes;
use mxcensus_proto::finding::FailureClass;
use mxcensus_proto::policy::PolicyClass;
use mxcensus_proto::sts_txt::StsTxtClass;
use mxcensus_proto::tlsa::DaneClass;
use mxcensus_proto::tlsrpt::TlsRptClass;

use crate::facts::CrawlClass;

failure_classes! {
    /// The classes `mxcensus_proto::classify` adds itself, from lookups and host
    /// judgements (the area tables cover the record, policy, certificate, SMTP and fetch
    /// classes).
    pub enum VerdictClass {
        /// The MX lookup was bogus (SERVFAIL, data with CD=1).
        MxBogus = "mx_bogus", Error, "RFC 4035 §5.5; SPEC §G",
            "Repair the DNSSEC chain of the domain's zone.";
        /// The MX lookup failed (SERVFAIL, time-out, REFUSED) after retries.
        MxDnsError = "mx_dns_error", Error, "SPEC §G; RFC 7672 §2.1.1",
            "Make every name server of the zone answer.";
        /// The `_mta-sts` TXT lookup was bogus.
        TxtBogus = "txt_bogus", Error, "SPEC §A",
            "Repair the DNSSEC chain of the zone holding _mta-sts.<domain>.";
        /// The `_mta-sts` TXT lookup failed.
        TxtDnsError = "txt_dns_error", Error, "SPEC §A",
            "Make the name servers of _mta-sts.<domain> answer.";
        /// The `_smtp._tls` TXT lookup was bogus.
        TlsrptBogus = "tlsrpt_bogus", Error, "SPEC §E",
            "Repair the DNSSEC chain of the zone holding _smtp._tls.<domain>.";
        /// The `_smtp._tls` TXT lookup failed.
        TlsrptDnsError = "tlsrpt_dns_error", Error, "SPEC §E",
            "Make the name servers of _smtp._tls.<domain> answer.";
        /// An MX host's address lookup was bogus.
        MxAddressBogus = "mx_address_bogus", Error, "RFC 7672 §2.1.2",
            "Repair the DNSSEC chain of the MX host's zone.";
        /// An MX host's address lookup failed.
        MxAddressDnsError = "mx_address_dns_error", Error, "RFC 7672 §2.1.2",
            "Make the MX host's name servers answer.";
        /// An MX host has no address (NXDOMAIN or NODATA for A and AAAA).
        MxNoAddress = "mx_no_address", Error, "RFC 5321 §5.1",
            "Publish A/AAAA records for every MX host.";
        /// A TLSA lookup was bogus.
        TlsaBogus = "tlsa_bogus", Error, "RFC 7672 §2.1.2",
            "Repair the DNSSEC chain of the zone holding _25._tcp.<mx>.";
        /// A TLSA lookup failed.
        TlsaLookupError = "tlsa_lookup_error", Error, "RFC 7672 §2.1.2",
            "Make the name servers of _25._tcp.<mx> answer (NXDOMAIN/NODATA must be signed).";
        /// `MX 0 .` among other MX records.
        NullMxMixed = "null_mx_mixed", Error, "RFC 7505 §3",
            "Publish the null MX alone, or remove it.";
        /// An MX host not covered by any `mx` pattern of a valid policy.
        MxNotCovered = "mx_not_covered", Error, "RFC 8461 §4.1; SPEC §D",
            "Add a pattern for every MX host to the policy.";
        /// Mode enforce, and no MX host passes the policy.
        StsEnforceWithoutAnyValidMx = "sts_enforce_without_any_valid_mx", Error, "SPEC §D, §H",
            "Fix the MX certificates or patterns before enforcing.";
        /// TLSA published behind an insecure MX RRset: DANE does not apply.
        TlsaBehindInsecureMx = "tlsa_behind_insecure_mx", Warning, "RFC 7672 §2.2",
            "Sign the domain's zone (DS at the parent) so the MX RRset validates.";
        /// TLSA (or the host's addresses) not secure under a secure MX RRset.
        TlsaInsecure = "tlsa_insecure", Warning, "RFC 7672 §2.2",
            "Sign the MX host's zone so its addresses and TLSA validate.";
        /// Only PKIX-TA/PKIX-EE TLSA records, which SMTP does not use.
        OnlyPkixUsages = "only_pkix_usages", Warning, "RFC 7672 §3.1.3",
            "Publish DANE-EE (3 1 1) or DANE-TA (2 1 1) records.";
        /// Secure TLSA records none of which is usable (unknown parameters).
        TlsaUnusableParams = "tlsa_unusable_params", Warning, "RFC 7672 §2.2; RFC 7671 §4",
            "Publish records with usage 2 or 3, selector 0/1, matching type 0/1/2.";
        /// Usable TLSA but the host does not offer STARTTLS (or the handshake fails).
        TlsaButNoStarttls = "tlsa_but_no_starttls", Error, "RFC 7672 §2.2",
            "Enable STARTTLS on every address of the MX host.";
        /// Usable TLSA that does not match the served certificate chain.
        TlsaMismatch = "tlsa_mismatch", Error, "RFC 7672 §3; RFC 7671 §8.1",
            "Publish TLSA for the new key before rolling the certificate (RFC 7671 §8.1).";
    }
}

fn class_table<C: FailureClass>(title: &str, about: &str) -> String {
    let mut out = format!(
        "### {title}\n\n{about}\n\n| code | severity | reference | fix |\n| --- | --- | --- | --- |\n"
    );
    for c in C::ALL {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            c.code(),
            c.severity(),
            c.reference().replace('|', "\\|"),
            c.fix().replace('|', "\\|")
        ));
    }
    out
}

const INTRO: &str = "\
# mxcensus dataset card

Generated by `mxcensus_crawl::card::render` from the code that writes the tables; do not
edit by hand (`MXCENSUS_UPDATE_CARD=1 cargo test -p mxcensus-crawl card` rewrites it).

## Layout

A snapshot is Hive-partitioned Parquet (zstd), readable by DuckDB, pyarrow, polars and
Spark without conversion:

```text
OUT/snapshot=<id>/shard=<i>/
  domains/part-NNNNNN.parquet     one file per committed segment and table
  mx/  smtp/  policies/  input_errors/
  _segments/NNNNNN.json           commit markers (a segment without one is discarded)
  manifest.json                   provenance: tool, git revision, configuration, input
                                  SHA-256 and counts, resolver and canaries, start/end,
                                  status (running, complete, interrupted), counts per
                                  headline value, schema version
```

`<id>` defaults to the UTC date of the run; `<i>` is the shard index (`--shard i/N`, a
stable hash of the domain). Query all shards with
`read_parquet('OUT/snapshot=*/shard=*/domains/*.parquet', hive_partitioning = true)`.
Rows are written as the crawl goes; a segment's files are renamed from a temporary name
and its marker written only once complete, so `--resume` trusts every committed row and
never duplicates one.
";

const READING: &str = "\
## Reading choices

- **Absent is not unmeasured.** `absent` means a validated or plain NXDOMAIN/NODATA (or
  TXT records none of which is the record in question); `error` means no answer could be
  had after retries (SERVFAIL, time-out, REFUSED, bogus). Errors never count as absence.
  Lookups are retried with backoff (time-outs, SERVFAIL) before an error is recorded; an
  SMTP connect or greeting time-out is retried once after a pause.
- **DNSSEC needs a proven validator.** Before a run, two canaries (a signed name that
  must give AD, a broken one that must give SERVFAIL and answer with CD) test the
  resolver; the manifest records them and `domains.validator_ok`. Without a proven
  validator `dnssec` is `unknown` and `dane` is `error`, never `insecure`/`none`.
- **Bogus vs. error.** A SERVFAIL that the same query with CD=1 answers is bogus; a bogus
  MX RRset gives `mx_status = error`, `dnssec = bogus`, `starttls = error`, `dane = error`.
- **Implicit MX.** NODATA or NXDOMAIN for MX makes the domain itself the mail host
  (RFC 5321 §5.1); a domain that does not exist then fails with `mx_no_address`.
- **Reached addresses.** An address counts when an SMTP session got past a 220 greeting.
  Unreachable addresses are not MTA-STS failures (RFC 8461 Appendix B); a host none of
  whose addresses was reached passes nothing. A host offers STARTTLS when every reached
  address offered it and completed a TLS 1.2+ handshake; the certificate is judged apart
  (`starttls` ignores certificates, `sts_mx_valid` does not).
- **DANE only behind a secure MX RRset** (RFC 7672 §2.2): `dane = none` whenever the MX
  RRset is insecure, whatever TLSA the hosts publish (`tlsa_behind_insecure_mx`). TLSA is
  usable when its RRset and the host's addresses are secure and one record has usage 2
  or 3. The served chain is verified against it at probe time (DANE-EE: key match, no
  name or date checks; DANE-TA: chain to the anchor and name check), so no chain needs
  caching. A bogus or failed TLSA lookup behind a secure MX RRset makes the host broken.
- **Certificate subcases carry their parent class** (SPEC §B), for MX and policy-host
  certificates alike: a self-signed leaf gives `cert_self_signed` and `cert_untrusted`; a
  name matched only by the CN or by a partial wildcard gives `cert_cn_only` /
  `cert_partial_wildcard_only` and `cert_name_mismatch`. Studies can count either level.
- **`no_sts_record`** (TXT records at `_mta-sts`, none STSv1) is listed in
  `error_classes` although the verdict stays `absent`: SPEC §A lists it among the TXT
  failure classes.
- **A TXT field breaks every rule it breaks**: a non-ASCII byte gives `non_ascii` and the
  class of the field holding it (`bad_extension` in an extension value, whose ABNF is
  %x21-3A / %x3C / %x3E-7E; `bad_id_chars` in the `id`).
- **One DANE class per failed host**: the verifier's diagnosis. `tlsa_mismatch` means no
  usable record matches the served chain; a DANE-TA failure is
  `dane_ta_missing_anchor_in_chain`, `dane_ta_chain_invalid` or `dane_ta_name_mismatch`
  alone (with the anchor served, the record does match the chain).
- **Ground truth follows the same conventions**: simnet's `truth.parquet` lists exactly
  these classes, so `error_classes` agree with it as sorted sets, not only as a superset.
- **Shared probes.** Each (MX host, IP) is probed once per snapshot and shared by every
  domain using it; its evidence is one `smtp` row. Probes respect the exclusion list
  (`excluded_address`, nothing sent), at most `--per-address` connections per address
  and `--per-network` per /24, and global rates. Excluded input domains are never queried
  and appear only in `input_errors` with reason `excluded`.
- **One crawl is a sender's first contact.** No policy is cached; `policies.txt_id` with
  `body_sha256` lets later snapshots flag a policy changed without a new id.
";

const MATRIX: &str = "\
## The MTA-STS × DANE matrix (SPEC §H)

Per domain, rows from `dane`, columns from `sts_txt`/`sts_policy`/`sts_mode`:

| | MTA-STS none (`sts_txt` absent) | invalid / unfetchable (`sts_txt` invalid or multiple, `sts_policy` invalid or fetch_failed, or mode `none`) | testing | enforce |
| --- | --- | --- | --- | --- |
| DANE none (`dane = none`) | | | | |
| DANE partial (`dane = partial`) | | | | |
| DANE all MX (`dane = all`) | | | | |
| DANE broken (`dane = broken`, or `dnssec = bogus`) | | | | |

Domains with `dane = error` (MX set unknown, or resolver not validating) or
`sts_txt = error` are outside the matrix and counted apart. Per MX host the same cut uses
`mx.dane_usable`, `mx.dane_valid` × `mx.covered_by` (not null), `mx.sts_valid`.
Conflict classes: `dane_ok_sts_fail` (`dane_valid` and not `sts_valid` under enforce: STS-only
senders defer), `dane_fail_sts_ok` (`dane_broken` and `sts_valid`: DANE senders defer and
RFC 8461 §2 forbids MTA-STS rescuing it), `both_fail`, and
`sts_enforce_without_any_valid_mx`. A sender with both uses DANE for an MX with usable
TLSA and the MTA-STS policy otherwise.
";

/// The whole card.
pub fn render() -> String {
    let mut out = String::from(INTRO);
    out.push_str(&format!(
        "\nSchema version {SCHEMA_VERSION} (bumped whenever a headline column changes).\n\n## Tables\n\n"
    ));
    out.push_str(
        "The headline columns of `domains` (`domain` to `error_classes`) are a contract shared \
         with simnet's ground truth: same names, same values, so agreement is a join on \
         `domain`. Every other column is evidence.\n\n",
    );
    for (name, about, columns) in TABLES {
        out.push_str(&card_section(name, about, columns));
        out.push('\n');
    }
    out.push_str("## Failure-class vocabulary\n\nEvery code that can appear in `error_classes`, `findings`, `ip_failures`, `failure(s)` and `cert_failures`. Severity: error = the RFC makes it invalid or a sender would not use it; warning = valid but fragile; info = informational.\n\n");
    out.push_str(&class_table::<StsTxtClass>(
        "MTA-STS TXT record (RFC 8461 §3.1)",
        "`domains.findings`; error severity also in `error_classes`.",
    ));
    out.push('\n');
    out.push_str(&class_table::<PolicyClass>(
        "Policy body (RFC 8461 §3.2)",
        "`policies.findings`; error severity also in `error_classes`.",
    ));
    out.push('\n');
    out.push_str(&class_table::<FetchClass>(
        "Policy fetch (RFC 8461 §3.3, SPEC §B)",
        "`policies.failure(s)`; the deciding one in `error_classes`.",
    ));
    out.push('\n');
    out.push_str(&class_table::<TlsRptClass>(
        "TLS-RPT record (RFC 8460 §3)",
        "`domains.findings`; error severity also in `error_classes`.",
    ));
    out.push('\n');
    out.push_str(&class_table::<SmtpClass>(
        "SMTP probe (SPEC §I)",
        "`smtp.failure`; in `mx.ip_failures` and `error_classes`.",
    ));
    out.push('\n');
    out.push_str(&class_table::<CertClass>(
        "Certificates (RFC 8461 §4.2, RFC 6125)",
        "`smtp.cert_failures`, `policies.cert_failures`; in `error_classes` for MX hosts that completed TLS.",
    ));
    out.push('\n');
    out.push_str(&class_table::<DaneClass>(
        "DANE verification (RFC 7672, RFC 7671)",
        "`smtp.dane_outcome`, `smtp.dane_findings`.",
    ));
    out.push('\n');
    out.push_str(&class_table::<VerdictClass>(
        "Lookups and verdicts (the classifier)",
        "Added to `error_classes` by the classifier.",
    ));
    out.push('\n');
    out.push_str(&class_table::<CrawlClass>(
        "Crawler",
        "Decided by the crawler itself: exclusions and the DNS of the policy host.",
    ));
    out.push('\n');
    out.push_str(MATRIX);
    out.push('\n');
    out.push_str(READING);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mxcensus_proto::finding::check_class_table;

    #[test]
    fn verdict_classes_match_the_classifier() {
        check_class_table::<VerdictClass>().unwrap();
        let src = include_str!("../../mxcensus-proto/src/classify.rs");
        let code_part = src.split("#[cfg(test)]").next().unwrap_or(src);
        for c in VerdictClass::ALL {
            assert!(
                code_part.contains(&format!("\"{}\"", c.code())),
                "{} is not produced by classify",
                c.code()
            );
        }
        // Every code literal the classifier inserts is documented somewhere.
        for line in code_part
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
        {
            for lit in line.split('"').skip(1).step_by(2) {
                let snake = !lit.is_empty()
                    && lit.contains('_')
                    && lit.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
                if snake {
                    let known = VerdictClass::from_code(lit).is_some()
                        || StsTxtClass::from_code(lit).is_some();
                    assert!(known, "classify code {lit:?} is missing from the card");
                }
            }
        }
    }

    #[test]
    fn card_is_up_to_date() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/CARD.md");
        let want = render();
        if std::env::var_os("MXCENSUS_UPDATE_CARD").is_some() {
            std::fs::write(path, &want).unwrap();
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            have == want,
            "datasets/CARD.md is out of date: run MXCENSUS_UPDATE_CARD=1 cargo test -p mxcensus-crawl card"
        );
        for (name, _, columns) in TABLES {
            for c in columns.iter() {
                assert!(
                    want.contains(&format!("| `{}` |", c.name)),
                    "{name}.{}",
                    c.name
                );
            }
        }
    }
}
