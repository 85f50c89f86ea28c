//! The MTA-STS policy body served at `https://mta-sts.<domain>/.well-known/mta-sts.txt`
//! (RFC 8461 §3.2).
//!
//! The body is a list of `key: value` lines (ABNF in RFC 8461 §3.2; keys and values are
//! case-sensitive per RFC 7405): `version: STSv1`, `mode: enforce|testing|none`,
//! `max_age: <1-10 digits>` (at most 31557600), one `mx: <pattern>` line per pattern
//! (at least one unless the mode is `none`), and extension fields, which are ignored.
//! For fields other than `mx`, the first occurrence counts and later ones are ignored.
//!
//! [`parse_policy`] reads the body twice:
//! * **leniently** (trim each line, skip blank lines, accept LF, CRLF and bare CR line
//!   ends): this reading decides [`PolicyEvaluation::valid`], because tolerant senders
//!   accept it;
//! * **strictly**, by the ABNF (no whitespace before a key or before `:`, no blank lines,
//!   at most one final line end, extension values free of control characters): what the
//!   lenient reading forgave is reported as `strict_abnf_violation` (a warning) and clears
//!   [`PolicyEvaluation::strict_ok`].
//!
//! Reading choices (crawler rules, see SPEC §C):
//! * `max_age` above 31557600 is an **error** (`max_age_over_limit`): RFC 8461 §3.2 sets that
//!   maximum, and some senders reject such policies, but others clamp; the value as written
//!   is kept in [`Policy::max_age`] so a study can evaluate the clamped reading too.
//!   More than 10 digits is `bad_max_age` (ABNF), again with the (saturated) value kept.
//! * A byte-order mark is an error: a strict sender reads `\u{FEFF}version` as an unknown key.
//! * Jekyll front matter (`---` … `---`) is an error, since senders see it as it is served;
//!   the fields after it are still evaluated so the findings say what the policy would be.
//! * HTML, prose or a pasted TXT record yield one `html_body` / `not_a_policy` finding
//!   rather than one finding per line.
//!
//! Parsing is linear in the body length and never panics; findings of one class are capped
//! at [`MAX_FINDINGS_PER_CLASS`] plus one summary, so 10 MB of junk gives a short report.
//! A body that is not valid gives `sts-policy-invalid` in TLS-RPT terms (RFC 8460 §4.3.2.2).
//!
//! ```
//! use mxcensus_proto::policy::parse_policy;
//! use mxcensus_proto::verdict::StsMode;
//! let eval = parse_policy(b"version: STSv1\r\nmode: enforce\r\nmx: mx.example.net\r\nmax_age: 604800\r\n");
//! assert!(eval.valid && eval.strict_ok);
//! let policy = eval.policy.unwrap();
//! assert_eq!(policy.mode, StsMode::Enforce);
//! assert_eq!(policy.max_age, 604800);
//! ```

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;

use crate::failure_classes;
use crate::finding::{Finding, Severity};
use crate::mx_pattern::MxPattern;
use crate::verdict::StsMode;

/// The largest `max_age` RFC 8461 §3.2 allows: 31557600 seconds (about one year).
pub const MAX_AGE_LIMIT: u64 = 31_557_600;

/// Below this `max_age` (one day), policies are flagged `max_age_short` (RFC 8461 §10.2
/// prefers long values).
pub const MAX_AGE_SHORT: u64 = 86_400;

/// Findings of one class listed individually before a single summary finding.
pub const MAX_FINDINGS_PER_CLASS: usize = 16;

/// The only policy version defined (RFC 8461 §3.2).
pub const VERSION_STSV1: &str = "STSv1";

failure_classes! {
    /// What can be wrong with (or worth noting about) a policy body (RFC 8461 §3.2).
    pub enum PolicyClass {
        /// Nothing but whitespace.
        EmptyBody = "empty_body", Error, "RFC 8461 §3.2",
            "Serve the policy: version, mode, max_age and mx lines.";
        /// An HTML page was served instead of the policy.
        HtmlBody = "html_body", Error, "RFC 8461 §3.2",
            "Serve the policy file as text/plain; check rewrite or fallback rules that return a page.";
        /// Text with no policy field at all (prose, a placeholder, a pasted TXT record).
        NotAPolicy = "not_a_policy", Error, "RFC 8461 §3.2",
            "Replace the text with an MTA-STS policy (version: STSv1, mode, max_age, mx).";
        /// A Jekyll/static-site front-matter block (`---` … `---`) is part of the body.
        JekyllFrontMatter = "jekyll_front_matter", Error, "RFC 8461 §3.2",
            "Make the site generator strip the front matter, or remove the `---` block.";
        /// The body starts with a UTF-8 byte-order mark.
        BomPresent = "bom_present", Error, "RFC 8461 §3.2",
            "Save the file without a byte-order mark.";
        /// The body is not valid UTF-8.
        NonUtf8 = "non_utf8", Error, "RFC 8461 §3.2 (ABNF: UTF-8 only)",
            "Save the policy as plain ASCII/UTF-8.";
        /// A non-blank line that is not `key: value` with a valid key.
        MalformedLine = "malformed_line", Error, "RFC 8461 §3.2",
            "Write every line as `key: value`, one field per line.";
        /// No `version` field.
        MissingVersion = "missing_version", Error, "RFC 8461 §3.2",
            "Add `version: STSv1`.";
        /// `version` is not exactly `STSv1`.
        BadVersion = "bad_version", Error, "RFC 8461 §3.2",
            "Write `version: STSv1` (case-sensitive).";
        /// No `mode` field.
        MissingMode = "missing_mode", Error, "RFC 8461 §3.2",
            "Add `mode: testing` (or enforce / none).";
        /// `mode` is not exactly `enforce`, `testing` or `none`.
        BadMode = "bad_mode", Error, "RFC 8461 §3.2",
            "Use `enforce`, `testing` or `none`, lowercase.";
        /// No `max_age` field.
        MissingMaxAge = "missing_max_age", Error, "RFC 8461 §3.2",
            "Add `max_age: 604800` (seconds).";
        /// `max_age` is not 1 to 10 digits.
        BadMaxAge = "bad_max_age", Error, "RFC 8461 §3.2",
            "Write max_age as plain decimal seconds, at most 31557600.";
        /// `max_age` above 31557600: the RFC's maximum; senders reject or clamp it.
        MaxAgeOverLimit = "max_age_over_limit", Error, "RFC 8461 §3.2",
            "Lower max_age to at most 31557600.";
        /// `max_age` under one day: valid, but gives little protection.
        MaxAgeShort = "max_age_short", Info, "RFC 8461 §10.2",
            "Use a max_age of weeks (e.g. 1209600) once the policy is stable.";
        /// No `mx` field although the mode is not `none`.
        MissingMx = "missing_mx", Error, "RFC 8461 §3.2",
            "Add one `mx:` line per MX host (or wildcard) of the domain.";
        /// An `mx` value that is not a valid pattern.
        BadMxPattern = "bad_mx_pattern", Error, "RFC 8461 §3.2",
            "Write each mx as a host name or `*.` plus a domain, A-labels, no trailing dot.";
        /// A wildcard directly over one label (`*.com`).
        MxPatternOverbroad = "mx_pattern_overbroad", Warning, "RFC 8461 §3.2, §4.1",
            "Narrow the wildcard to the provider's own domain.";
        /// An `mx` pattern under a reserved or placeholder name (`example.com`, `yourdomain`).
        MxPlaceholder = "mx_placeholder", Warning, "RFC 2606, RFC 6761",
            "Replace the template value with the domain's real MX hosts.";
        /// The same `mx` pattern listed twice.
        MxPatternDuplicate = "mx_pattern_duplicate", Info, "RFC 8461 §3.2",
            "Remove the repeated mx line.";
        /// A non-`mx` field repeated: the first counts, the rest are ignored.
        DuplicateField = "duplicate_field", Warning, "RFC 8461 §3.2",
            "Keep one line per field; some implementations use the last one.";
        /// A field this parser does not know: ignored per the RFC.
        UnknownField = "unknown_field", Info, "RFC 8461 §3.2",
            "Remove the field unless an extension defines it; keys are case-sensitive.";
        /// Valid only under the lenient reading.
        StrictAbnfViolation = "strict_abnf_violation", Warning, "RFC 8461 §3.2 (ABNF)",
            "Write `key: value` lines with no leading spaces, no blank lines, one final line end.";
        /// `mode: none`: valid, but senders treat the domain as having no policy.
        ModeNone = "mode_none", Info, "RFC 8461 §5",
            "Switch to testing or enforce when the domain should be protected.";
    }
}

/// The values of a policy body (RFC 8461 §3.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The `version` value as written (`STSv1` in a valid policy).
    pub version: String,
    /// The `mode`.
    pub mode: StsMode,
    /// `max_age` in seconds as written (saturating at `u64::MAX`), even above
    /// [`MAX_AGE_LIMIT`]: clamp it with [`Policy::max_age_clamped`] for the lenient reading.
    pub max_age: u64,
    /// The valid `mx` patterns, in body order (invalid ones are reported, not kept).
    pub mx: Vec<MxPattern>,
    /// Other fields, first occurrence of each name, in body order.
    pub extensions: Vec<(String, String)>,
}

impl Policy {
    /// `max_age` capped at [`MAX_AGE_LIMIT`], as clamping senders read it.
    pub fn max_age_clamped(&self) -> u64 {
        self.max_age.min(MAX_AGE_LIMIT)
    }

    /// The canonical text of the policy: `version`, `mode`, `max_age`, the `mx` lines, then
    /// extensions, each line ended by CRLF.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "version: {}\r\nmode: {}\r\nmax_age: {}\r\n",
            self.version, self.mode, self.max_age
        );
        for p in &self.mx {
            let _ = write!(out, "mx: {p}\r\n");
        }
        for (k, v) in &self.extensions {
            let _ = write!(out, "{k}: {v}\r\n");
        }
        out
    }
}

/// The result of [`parse_policy`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyEvaluation {
    /// No error-severity finding: a sender applying the lenient reading uses this policy.
    pub valid: bool,
    /// The best-effort reading: present when `version` exists and `mode` and `max_age`
    /// could be read, even if the policy is invalid for another reason.
    pub policy: Option<Policy>,
    /// Every finding, in body order, capped per class.
    pub findings: Vec<Finding<PolicyClass>>,
    /// Valid and free of strict ABNF violations.
    pub strict_ok: bool,
}

impl PolicyEvaluation {
    /// Whether a finding of `class` is present.
    pub fn has(&self, class: PolicyClass) -> bool {
        self.findings.iter().any(|f| f.class == class)
    }
}

/// Collects findings, listing at most [`MAX_FINDINGS_PER_CLASS`] per class.
struct Collector {
    findings: Vec<Finding<PolicyClass>>,
    counts: HashMap<PolicyClass, usize>,
}

impl Collector {
    fn new() -> Self {
        Collector {
            findings: Vec::new(),
            counts: HashMap::new(),
        }
    }

    fn push(&mut self, class: PolicyClass, detail: impl FnOnce() -> String) {
        let n = self.counts.entry(class).or_insert(0);
        *n += 1;
        if *n <= MAX_FINDINGS_PER_CLASS {
            self.findings.push(Finding::new(class, detail()));
        }
    }

    fn has_errors(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.severity() == Severity::Error)
    }

    fn has(&self, class: PolicyClass) -> bool {
        self.counts.contains_key(&class)
    }

    fn finish(mut self) -> Vec<Finding<PolicyClass>> {
        let mut over: Vec<(PolicyClass, usize)> = self
            .counts
            .iter()
            .filter(|(_, n)| **n > MAX_FINDINGS_PER_CLASS)
            .map(|(c, n)| (*c, *n))
            .collect();
        over.sort();
        for (class, n) in over {
            let more = n - MAX_FINDINGS_PER_CLASS;
            self.findings.push(Finding::new(
                class,
                format!("... and {more} more like these"),
            ));
        }
        self.findings
    }
}

/// How a line ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LineEnd {
    Lf,
    CrLf,
    /// A bare CR: not a line end under the ABNF.
    Cr,
    /// The last line, with no line end.
    None,
}

struct RawLine<'a> {
    /// 1-based line number in the body.
    number: usize,
    text: &'a str,
    end: LineEnd,
}

/// Splits at LF, CRLF and bare CR, in one pass. No empty line is produced after a final
/// line end.
fn split_lines(s: &str) -> Vec<RawLine<'_>> {
    let bytes = s.as_bytes();
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let (end, next) = match bytes.get(i) {
            Some(b'\n') => (LineEnd::Lf, i + 1),
            Some(b'\r') if bytes.get(i + 1) == Some(&b'\n') => (LineEnd::CrLf, i + 2),
            Some(b'\r') => (LineEnd::Cr, i + 1),
            _ => {
                i += 1;
                continue;
            }
        };
        // Both ends are at ASCII bytes, so on char boundaries.
        lines.push(RawLine {
            number: lines.len() + 1,
            text: s.get(start..i).unwrap_or(""),
            end,
        });
        start = next;
        i = next;
    }
    if start < bytes.len() {
        lines.push(RawLine {
            number: lines.len() + 1,
            text: s.get(start..).unwrap_or(""),
            end: LineEnd::None,
        });
    }
    lines
}

fn is_wsp(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn trim_wsp(s: &str) -> &str {
    s.trim_matches(is_wsp)
}

/// `sts-policy-ext-name` without its length limit: `(ALPHA / DIGIT) *(ALPHA / DIGIT / "_" /
/// "-" / ".")`.
fn is_field_name(k: &str) -> bool {
    let mut bytes = k.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// A short, quoted excerpt of `s` for a finding's detail.
fn snippet(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        format!("{s:?}")
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut:?}...")
    }
}

/// Whether the body (after leading whitespace) starts like an HTML document.
fn looks_like_html(text: &str) -> bool {
    let t = text.trim_start();
    let head: String = t.chars().take(10).collect::<String>().to_ascii_lowercase();
    ["<!doctype", "<html", "<head", "<body", "<!--"]
        .iter()
        .any(|p| head.starts_with(p))
}

/// Finds a front-matter block: the first non-blank line is `---` and a later line is `---`.
/// Returns the indexes of the opening and closing lines.
fn front_matter(lines: &[RawLine<'_>]) -> Option<(usize, usize)> {
    let open = lines.iter().position(|l| !trim_wsp(l.text).is_empty())?;
    if trim_wsp(lines.get(open)?.text) != "---" {
        return None;
    }
    let close = lines
        .iter()
        .enumerate()
        .skip(open + 1)
        .find(|(_, l)| trim_wsp(l.text) == "---")?
        .0;
    Some((open, close))
}

/// A line read as a field under the lenient reading.
struct Field<'a> {
    number: usize,
    key: &'a str,
    value: &'a str,
}

/// A mode value a sender would recognise.
fn parse_mode(v: &str) -> Option<StsMode> {
    match v {
        "enforce" => Some(StsMode::Enforce),
        "testing" => Some(StsMode::Testing),
        "none" => Some(StsMode::None),
        _ => None,
    }
}

const KNOWN_KEYS: [&str; 4] = ["version", "mode", "max_age", "mx"];

/// Reserved (RFC 2606, RFC 6761) or template names in an `mx` pattern.
fn is_placeholder(domain: &str) -> bool {
    let tld = domain.rsplit('.').next().unwrap_or(domain);
    if matches!(tld, "example" | "test" | "invalid" | "localhost") {
        return true;
    }
    let reserved = ["example.com", "example.net", "example.org"];
    if reserved
        .iter()
        .any(|r| domain == *r || domain.ends_with(&format!(".{r}")))
    {
        return true;
    }
    domain.split('.').any(|l| {
        matches!(
            l,
            "yourdomain" | "your-domain" | "mydomain" | "yourcompany" | "domain-com"
        )
    })
}

/// Parses and judges a policy body (RFC 8461 §3.2). See the module docs for the readings.
pub fn parse_policy(body: &[u8]) -> PolicyEvaluation {
    let mut c = Collector::new();
    let decoded: Cow<'_, str> = match std::str::from_utf8(body) {
        Ok(s) => Cow::Borrowed(s),
        Err(e) => {
            let at = e.valid_up_to();
            let line = body
                .get(..at)
                .map_or(0, |b| b.iter().filter(|x| **x == b'\n').count())
                + 1;
            c.push(PolicyClass::NonUtf8, || {
                format!("invalid UTF-8 at byte {at} (line {line}); read with U+FFFD replacements")
            });
            String::from_utf8_lossy(body)
        }
    };
    let mut text: &str = &decoded;
    if let Some(rest) = text.strip_prefix('\u{FEFF}') {
        c.push(PolicyClass::BomPresent, || {
            "body starts with a UTF-8 byte-order mark (EF BB BF); strict senders read the \
             first key as \"\\u{FEFF}version\""
                .to_owned()
        });
        text = rest;
    }
    if text.trim().is_empty() {
        c.push(PolicyClass::EmptyBody, || {
            format!("body is {} bytes of whitespace or nothing", body.len())
        });
        return finish(c, None);
    }
    if looks_like_html(text) {
        c.push(PolicyClass::HtmlBody, || {
            format!(
                "body starts like HTML: {}",
                snippet(text.trim_start().lines().next().unwrap_or(""))
            )
        });
        return finish(c, None);
    }

    let all_lines = split_lines(text);
    let lines = match front_matter(&all_lines) {
        Some((open, close)) => {
            let (from, to) = (
                all_lines.get(open).map_or(0, |l| l.number),
                all_lines.get(close).map_or(0, |l| l.number),
            );
            c.push(PolicyClass::JekyllFrontMatter, || {
                format!(
                    "lines {from}-{to} are a `---` front-matter block; served as is, the body \
                     is not a policy (the fields after it are judged below)"
                )
            });
            all_lines.get(close + 1..).unwrap_or(&[])
        }
        None => &all_lines[..],
    };

    // Lenient reading: trim, skip blank lines, split at the first ':'.
    let mut fields: Vec<Field<'_>> = Vec::new();
    let mut malformed: Vec<(usize, &str, &'static str)> = Vec::new();
    for line in lines {
        let t = trim_wsp(line.text);
        if t.is_empty() {
            continue;
        }
        match t.split_once(':') {
            Some((k, v)) if is_field_name(trim_wsp(k)) => fields.push(Field {
                number: line.number,
                key: trim_wsp(k),
                value: trim_wsp(v),
            }),
            Some(_) => malformed.push((line.number, t, "the text before ':' is not a field name")),
            None if t.starts_with("- ") => malformed.push((
                line.number,
                t,
                "a YAML list item; write one `mx:` line per pattern",
            )),
            None => malformed.push((line.number, t, "no ':' separates a key from a value")),
        }
    }

    if !fields.iter().any(|f| KNOWN_KEYS.contains(&f.key)) {
        let first = lines
            .iter()
            .map(|l| trim_wsp(l.text))
            .find(|t| !t.is_empty())
            .unwrap_or("");
        let hint = if text.contains("v=STSv1") {
            " (this looks like the _mta-sts TXT record, not the policy file)"
        } else {
            ""
        };
        c.push(PolicyClass::NotAPolicy, || {
            format!(
                "no version, mode, max_age or mx field in {} non-blank lines; first line {}{hint}",
                fields.len() + malformed.len(),
                snippet(first)
            )
        });
        return finish(c, None);
    }

    for (number, t, why) in &malformed {
        c.push(PolicyClass::MalformedLine, || {
            format!("line {number}: {why}: {}", snippet(t))
        });
    }

    check_strict(lines, &mut c);

    // Fields: the first non-mx occurrence counts; every mx line counts.
    let mut version: Option<&Field<'_>> = None;
    let mut mode: Option<&Field<'_>> = None;
    let mut max_age_field: Option<&Field<'_>> = None;
    let mut mx: Vec<MxPattern> = Vec::new();
    let mut mx_seen: HashMap<MxPattern, usize> = HashMap::new();
    let mut extensions: Vec<(String, String)> = Vec::new();
    let mut ext_seen: HashMap<&str, usize> = HashMap::new();
    for f in &fields {
        let slot = match f.key {
            "version" => &mut version,
            "mode" => &mut mode,
            "max_age" => &mut max_age_field,
            "mx" => {
                check_mx(f, &mut mx, &mut mx_seen, &mut c);
                continue;
            }
            other => {
                if let Some(first) = ext_seen.get(other) {
                    c.push(PolicyClass::DuplicateField, || {
                        format!("line {}: `{other}` repeats line {first}; ignored", f.number)
                    });
                } else {
                    ext_seen.insert(other, f.number);
                    extensions.push((other.to_owned(), f.value.to_owned()));
                    let hint = KNOWN_KEYS
                        .iter()
                        .find(|k| k.eq_ignore_ascii_case(other))
                        .map(|k| format!("; keys are case-sensitive, so this is not `{k}`"))
                        .unwrap_or_default();
                    c.push(PolicyClass::UnknownField, || {
                        format!("line {}: `{other}` ignored{hint}", f.number)
                    });
                }
                continue;
            }
        };
        match slot {
            Some(first) => {
                let first_line = first.number;
                c.push(PolicyClass::DuplicateField, || {
                    format!(
                        "line {}: `{}` repeats line {first_line}; the first value counts",
                        f.number, f.key
                    )
                });
            }
            None => *slot = Some(f),
        }
    }

    match version {
        None => c.push(PolicyClass::MissingVersion, || {
            "no `version` line".to_owned()
        }),
        Some(f) if f.value == VERSION_STSV1 => {}
        Some(f) => {
            let hint = if f.value.eq_ignore_ascii_case(VERSION_STSV1) {
                " (the value is case-sensitive)"
            } else {
                ""
            };
            c.push(PolicyClass::BadVersion, || {
                format!(
                    "line {}: {} is not `STSv1`{hint}",
                    f.number,
                    snippet(f.value)
                )
            });
        }
    }

    let mode_value = match mode {
        None => {
            c.push(PolicyClass::MissingMode, || "no `mode` line".to_owned());
            None
        }
        Some(f) => match parse_mode(f.value) {
            Some(m) => Some(m),
            None => {
                let hint = if parse_mode(&f.value.to_ascii_lowercase()).is_some() {
                    " (values are case-sensitive)"
                } else {
                    ""
                };
                c.push(PolicyClass::BadMode, || {
                    format!(
                        "line {}: {} is not enforce, testing or none{hint}",
                        f.number,
                        snippet(f.value)
                    )
                });
                None
            }
        },
    };
    if mode_value == Some(StsMode::None) {
        c.push(PolicyClass::ModeNone, || {
            "mode none: senders treat the domain as having no policy".to_owned()
        });
    }

    let max_age = match max_age_field {
        None => {
            c.push(PolicyClass::MissingMaxAge, || {
                "no `max_age` line".to_owned()
            });
            None
        }
        Some(f) => check_max_age(f, &mut c),
    };

    if mx.is_empty() && mode_value != Some(StsMode::None) && !c.has(PolicyClass::BadMxPattern) {
        c.push(PolicyClass::MissingMx, || {
            "no `mx` line; required unless the mode is none".to_owned()
        });
    }

    let policy = match (version, mode_value, max_age) {
        (Some(v), Some(mode), Some(max_age)) => Some(Policy {
            version: v.value.to_owned(),
            mode,
            max_age,
            mx,
            extensions,
        }),
        _ => None,
    };
    finish(c, policy)
}

fn finish(c: Collector, policy: Option<Policy>) -> PolicyEvaluation {
    let valid = !c.has_errors();
    let strict_ok = valid && !c.has(PolicyClass::StrictAbnfViolation);
    PolicyEvaluation {
        valid,
        policy,
        findings: c.finish(),
        strict_ok,
    }
}

fn check_max_age(f: &Field<'_>, c: &mut Collector) -> Option<u64> {
    let v = f.value;
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        c.push(PolicyClass::BadMaxAge, || {
            format!("line {}: {} is not decimal digits", f.number, snippet(v))
        });
        return None;
    }
    let n = v.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    });
    if v.len() > 10 {
        c.push(PolicyClass::BadMaxAge, || {
            format!(
                "line {}: {} digits, over the ABNF's 10 (and over the {MAX_AGE_LIMIT} maximum)",
                f.number,
                v.len()
            )
        });
    } else if n > MAX_AGE_LIMIT {
        c.push(PolicyClass::MaxAgeOverLimit, || {
            format!(
                "line {}: {n} is over the {MAX_AGE_LIMIT} maximum; some senders reject the \
                 policy, others clamp it",
                f.number
            )
        });
    } else if n < MAX_AGE_SHORT {
        c.push(PolicyClass::MaxAgeShort, || {
            format!("line {}: {n} seconds is under one day", f.number)
        });
    }
    Some(n)
}

fn check_mx(
    f: &Field<'_>,
    mx: &mut Vec<MxPattern>,
    seen: &mut HashMap<MxPattern, usize>,
    c: &mut Collector,
) {
    match MxPattern::parse(f.value) {
        Ok(p) => {
            if p.is_overbroad() {
                c.push(PolicyClass::MxPatternOverbroad, || {
                    format!(
                        "line {}: `{p}` covers every registrant's hosts under a public suffix",
                        f.number
                    )
                });
            }
            if is_placeholder(p.domain()) {
                c.push(PolicyClass::MxPlaceholder, || {
                    format!("line {}: `{p}` is a reserved or template name", f.number)
                });
            }
            if let Some(first) = seen.get(&p) {
                c.push(PolicyClass::MxPatternDuplicate, || {
                    format!("line {}: `{p}` repeats line {first}", f.number)
                });
            } else {
                seen.insert(p.clone(), f.number);
            }
            mx.push(p);
        }
        Err(e) => c.push(PolicyClass::BadMxPattern, || {
            format!(
                "line {}: {} ({}): {e}",
                f.number,
                snippet(f.value),
                e.code()
            )
        }),
    }
}

/// The strict ABNF reading: reports what the lenient reading forgave on blank and field
/// lines (malformed lines are already errors).
fn check_strict(lines: &[RawLine<'_>], c: &mut Collector) {
    let blank = |l: &RawLine<'_>| trim_wsp(l.text).is_empty();
    let Some(first) = lines.iter().position(|l| !blank(l)) else {
        return;
    };
    let last = lines.iter().rposition(|l| !blank(l)).unwrap_or(first);
    let mut violation = |number: usize, why: &str| {
        c.push(PolicyClass::StrictAbnfViolation, || {
            format!("line {number}: {why}")
        });
    };
    if first > 0 {
        let n = lines.first().map_or(1, |l| l.number);
        violation(n, "blank line before the first field");
    }
    let trailing = lines.len().saturating_sub(last + 1);
    if trailing > 0 {
        let n = lines.get(last + 1).map_or(0, |l| l.number);
        violation(
            n,
            &format!(
                "{trailing} blank line(s) after the last field; one final line end is allowed"
            ),
        );
    }
    for line in lines.get(first..=last).unwrap_or(&[]) {
        let n = line.number;
        if line.end == LineEnd::Cr {
            violation(n, "ends with a bare CR; line ends are LF or CRLF");
        }
        if blank(line) {
            violation(n, "blank line between fields");
            continue;
        }
        let Some((raw_key, raw_value)) = line.text.split_once(':') else {
            continue;
        };
        let key = trim_wsp(raw_key);
        if !is_field_name(key) {
            continue;
        }
        if line.text.starts_with(is_wsp) {
            violation(n, "whitespace before the key");
        }
        if raw_key.ends_with(is_wsp) {
            violation(n, "whitespace before ':'");
        }
        if key.len() > 32 {
            violation(n, "field name over 32 characters");
        }
        if !KNOWN_KEYS.contains(&key) {
            let value = trim_wsp(raw_value);
            if value.is_empty() {
                violation(n, "extension field with an empty value");
            } else if let Some(bad) = value
                .chars()
                .find(|&ch| !(ch == ' ' || ('\x21'..='\x7e').contains(&ch) || !ch.is_ascii()))
            {
                violation(
                    n,
                    &format!(
                        "extension value holds {bad:?}; only SP and visible characters are allowed"
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{FailureClass, check_class_table};
    use proptest::prelude::*;

    fn is_error(class: PolicyClass) -> bool {
        class.severity() == Severity::Error
    }

    const RFC_EXAMPLE: &str = "version: STSv1\nmode: enforce\nmx: mail.example.com\n\
        mx: *.example.net\nmx: backupmx.example.com\nmax_age: 604800\n";

    fn parse(s: &str) -> PolicyEvaluation {
        parse_policy(s.as_bytes())
    }

    fn codes(e: &PolicyEvaluation) -> Vec<&'static str> {
        e.findings.iter().map(|f| f.code()).collect()
    }

    /// The body is invalid and carries `class`.
    fn assert_invalid_with(body: &str, class: PolicyClass) -> PolicyEvaluation {
        let e = parse(body);
        assert!(!e.valid, "{body:?} should be invalid: {:?}", e.findings);
        assert!(!e.strict_ok);
        assert!(e.has(class), "{body:?} lacks {class}: {:?}", codes(&e));
        e
    }

    /// The body is valid and carries `class`.
    fn assert_valid_with(body: &str, class: PolicyClass) -> PolicyEvaluation {
        let e = parse(body);
        assert!(e.valid, "{body:?} should be valid: {:?}", e.findings);
        assert!(e.has(class), "{body:?} lacks {class}: {:?}", codes(&e));
        e
    }

    #[test]
    fn class_table_is_well_formed() {
        check_class_table::<PolicyClass>().unwrap();
        assert!(is_error(PolicyClass::MaxAgeOverLimit));
        assert!(!is_error(PolicyClass::UnknownField));
    }

    #[test]
    fn rfc_example_is_valid_and_strict() {
        let e = parse(RFC_EXAMPLE);
        assert!(e.valid && e.strict_ok, "{:?}", e.findings);
        let p = e.policy.unwrap();
        assert_eq!(p.version, "STSv1");
        assert_eq!(p.mode, StsMode::Enforce);
        assert_eq!(p.max_age, 604800);
        let mx: Vec<String> = p.mx.iter().map(|m| m.to_string()).collect();
        assert_eq!(
            mx,
            ["mail.example.com", "*.example.net", "backupmx.example.com"]
        );
        assert!(p.extensions.is_empty());
        // example.com is a reserved name: the only findings are placeholder warnings.
        assert!(
            e.findings
                .iter()
                .all(|f| f.class == PolicyClass::MxPlaceholder)
        );
    }

    #[test]
    fn line_ends() {
        let crlf = RFC_EXAMPLE.replace('\n', "\r\n");
        let a = parse(&crlf);
        let b = parse(RFC_EXAMPLE);
        assert!(a.strict_ok && b.strict_ok);
        assert_eq!(a.policy, b.policy);
        // No final line end, and mixed LF/CRLF, are both ABNF-valid.
        let e = parse("version: STSv1\r\nmode: testing\nmx: mx.a.net\r\nmax_age: 86400");
        assert!(e.strict_ok, "{:?}", e.findings);
        // A bare CR is a line end only leniently.
        let e = parse("version: STSv1\rmode: testing\rmx: mx.a.net\rmax_age: 86400\r");
        assert!(e.valid && !e.strict_ok, "{:?}", e.findings);
        assert_eq!(e.policy.unwrap().mx.len(), 1);
    }

    #[test]
    fn blank_lines_are_lenient_only() {
        for body in [
            "\nversion: STSv1\nmode: testing\nmx: mx.a.net\nmax_age: 86400\n",
            "version: STSv1\n\nmode: testing\nmx: mx.a.net\nmax_age: 86400\n",
            "version: STSv1\nmode: testing\nmx: mx.a.net\nmax_age: 86400\n\n",
            "version: STSv1\r\nmode: testing\r\nmx: mx.a.net\r\nmax_age: 86400\r\n\r\n\r\n",
            "version: STSv1\nmode: testing\nmx: mx.a.net\nmax_age: 86400\n   \n",
        ] {
            let e = assert_valid_with(body, PolicyClass::StrictAbnfViolation);
            assert!(!e.strict_ok);
        }
    }

    #[test]
    fn whitespace_rules() {
        // Trailing WSP and WSP after ':' are ABNF-valid.
        let e = parse("version:STSv1 \nmode:\ttesting\t\nmx:  mx.a.net \nmax_age: 86400 \n");
        assert!(e.strict_ok, "{:?}", e.findings);
        let e = assert_valid_with(
            "  version: STSv1\nmode: testing\nmx: mx.a.net\nmax_age: 86400\n",
            PolicyClass::StrictAbnfViolation,
        );
        assert!(
            e.findings[0]
                .detail
                .contains("line 1: whitespace before the key")
        );
        let e = assert_valid_with(
            "version : STSv1\nmode: testing\nmx: mx.a.net\nmax_age: 86400\n",
            PolicyClass::StrictAbnfViolation,
        );
        assert!(e.findings[0].detail.contains("before ':'"));
    }

    #[test]
    fn empty_html_bom_utf8() {
        assert_invalid_with("", PolicyClass::EmptyBody);
        assert_invalid_with(" \r\n\t\n", PolicyClass::EmptyBody);
        let e = assert_invalid_with("\n  <!DOCTYPE html><html>...", PolicyClass::HtmlBody);
        assert_eq!(e.findings.len(), 1);
        assert_invalid_with("<HTML><body>404</body></HTML>", PolicyClass::HtmlBody);
        let e = assert_invalid_with(
            "\u{FEFF}version: STSv1\nmode: testing\nmx: mx.a.net\nmax_age: 86400\n",
            PolicyClass::BomPresent,
        );
        // The rest is still read.
        assert_eq!(e.policy.unwrap().mode, StsMode::Testing);
        let mut body = b"version: STSv1\nmode: testing\nmx: mx.a.net\nmax_age: 86400\nx: ".to_vec();
        body.extend_from_slice(&[0xff, 0xfe, b'\n']);
        let e = parse_policy(&body);
        assert!(!e.valid && e.has(PolicyClass::NonUtf8));
        assert!(e.findings[0].detail.contains("line 5"), "{:?}", e.findings);
    }

    #[test]
    fn prose_front_matter_and_txt_record() {
        let e = assert_invalid_with(
            "Example Co MTA-STS Policy\n\nThis site does not accept mail.\n",
            PolicyClass::NotAPolicy,
        );
        assert_eq!(codes(&e), ["not_a_policy"]);
        let e = assert_invalid_with(
            "_mta-sts.example.com. TXT \"v=STSv1; id=20250802\"\n",
            PolicyClass::NotAPolicy,
        );
        assert!(e.findings[0].detail.contains("TXT record"));
        let e = assert_invalid_with(
            "---\nlayout: none\npermalink: .well-known/mta-sts.txt\n---\n\
             version: STSv1\nmode: testing\nmx: mx.a.net\nmax_age: 604800\n",
            PolicyClass::JekyllFrontMatter,
        );
        assert_eq!(codes(&e), ["jekyll_front_matter"]);
        assert!(e.findings[0].detail.contains("lines 1-4"));
        assert_eq!(e.policy.unwrap().mx.len(), 1);
        let e = parse("---\npermalink: /x\n---\n\nversion: STSv1\nmode: none\nmax_age: 86400\n");
        assert!(
            e.findings
                .iter()
                .any(|f| f.detail == "line 4: blank line before the first field")
        );
    }

    #[test]
    fn malformed_lines() {
        let e = assert_invalid_with(
            "version: STSv1\nmode: testing\nmx:\n  - mx1.a.net\n  - mx2.a.net\nmax_age: 86400\n",
            PolicyClass::MalformedLine,
        );
        assert!(e.has(PolicyClass::BadMxPattern));
        assert!(e.findings[0].detail.contains("YAML list item"));
        assert_invalid_with(
            "version: STSv1\nmode: testing\n# note: x\nmx: mx.a.net\nmax_age: 86400\n",
            PolicyClass::MalformedLine,
        );
    }

    #[test]
    fn version_classes() {
        assert_invalid_with(
            "mode: testing\nmx: mx.a.net\nmax_age: 86400\n",
            PolicyClass::MissingVersion,
        );
        assert_invalid_with(
            "version: STLS1\nmode: testing\nmx: mx.a.net\nmax_age: 86400\n",
            PolicyClass::BadVersion,
        );
        let e = assert_invalid_with(
            "version: stsv1\nmode: testing\nmx: mx.a.net\nmax_age: 86400\n",
            PolicyClass::BadVersion,
        );
        assert!(e.findings[0].detail.contains("case-sensitive"));
    }

    #[test]
    fn mode_classes() {
        assert_invalid_with(
            "version: STSv1\nmx: mx.a.net\nmax_age: 86400\n",
            PolicyClass::MissingMode,
        );
        let e = assert_invalid_with(
            "version: STSv1\nmode: Enforce\nmx: mx.a.net\nmax_age: 86400\n",
            PolicyClass::BadMode,
        );
        assert!(e.findings[0].detail.contains("case-sensitive"));
        assert!(e.policy.is_none());
        for bad in ["enforced", "[testing]", "live", ""] {
            assert_invalid_with(
                &format!("version: STSv1\nmode: {bad}\nmx: mx.a.net\nmax_age: 86400\n"),
                PolicyClass::BadMode,
            );
        }
        // A mis-cased key is an unknown field, so the mode is missing.
        let e = assert_invalid_with(
            "version: STSv1\nMode: enforce\nmx: mx.a.net\nmax_age: 86400\n",
            PolicyClass::MissingMode,
        );
        assert!(e.has(PolicyClass::UnknownField));
    }

    #[test]
    fn mode_none_without_mx_is_valid() {
        let e = assert_valid_with(
            "version: STSv1\nmode: none\nmax_age: 86400\n",
            PolicyClass::ModeNone,
        );
        assert!(e.strict_ok);
        assert!(e.policy.unwrap().mx.is_empty());
        assert_invalid_with(
            "version: STSv1\nmode: enforce\nmax_age: 86400\n",
            PolicyClass::MissingMx,
        );
    }

    #[test]
    fn max_age_classes() {
        assert_invalid_with(
            "version: STSv1\nmode: testing\nmx: mx.a.net\n",
            PolicyClass::MissingMaxAge,
        );
        for bad in ["-1", "1d", "86400s", "", "1 000"] {
            let e = assert_invalid_with(
                &format!("version: STSv1\nmode: testing\nmx: mx.a.net\nmax_age: {bad}\n"),
                PolicyClass::BadMaxAge,
            );
            assert!(e.policy.is_none());
        }
        let e = assert_invalid_with(
            "version: STSv1\nmode: testing\nmx: mx.a.net\nmax_age: 12345678901\n",
            PolicyClass::BadMaxAge,
        );
        assert_eq!(e.policy.unwrap().max_age, 12345678901);
        let e = assert_invalid_with(
            "version: STSv1\nmode: testing\nmx: mx.a.net\nmax_age: 31557601\n",
            PolicyClass::MaxAgeOverLimit,
        );
        let p = e.policy.unwrap();
        assert_eq!((p.max_age, p.max_age_clamped()), (31557601, 31557600));
        let e = parse("version: STSv1\nmode: testing\nmx: mx.a.net\nmax_age: 31557600\n");
        assert!(e.strict_ok && e.findings.is_empty(), "{:?}", e.findings);
        let e = assert_valid_with(
            "version: STSv1\nmode: testing\nmx: mx.a.net\nmax_age: 3600\n",
            PolicyClass::MaxAgeShort,
        );
        assert!(e.strict_ok);
        let e = parse(
            "version: STSv1\nmode: testing\nmx: mx.a.net\nmax_age: 99999999999999999999999\n",
        );
        assert_eq!(e.policy.unwrap().max_age, u64::MAX);
    }

    #[test]
    fn mx_classes() {
        for bad in [
            "mail.example.com.",
            "*.*.example.com",
            ".a.net",
            "mx*.a.net",
            "192.0.2.1",
            "mx.a.net:25",
            "bücher.de",
        ] {
            let e = assert_invalid_with(
                &format!("version: STSv1\nmode: enforce\nmx: {bad}\nmax_age: 86400\n"),
                PolicyClass::BadMxPattern,
            );
            // A bad pattern is not also reported as a missing mx.
            assert!(!e.has(PolicyClass::MissingMx));
        }
        let e = parse(
            "version: STSv1\nmode: enforce\nmx: MX.A.net\nmx: mx.a.net\nmx: *.com\nmax_age: 86400\n",
        );
        assert!(e.valid);
        assert!(e.has(PolicyClass::MxPatternDuplicate) && e.has(PolicyClass::MxPatternOverbroad));
        assert_eq!(e.policy.unwrap().mx.len(), 3);
        assert_valid_with(
            "version: STSv1\nmode: enforce\nmx: mail.yourdomain.com\nmax_age: 86400\n",
            PolicyClass::MxPlaceholder,
        );
    }

    #[test]
    fn duplicates_first_wins() {
        let e = assert_valid_with(
            "version: STSv1\nmode: testing\nmode: enforce\nmx: mx.a.net\nmax_age: 86400\nmax_age: 5\n",
            PolicyClass::DuplicateField,
        );
        let p = e.policy.unwrap();
        assert_eq!((p.mode, p.max_age), (StsMode::Testing, 86400));
        // The first value counts even when it is the bad one.
        assert_invalid_with(
            "version: STSv1\nmode: Enforce\nmode: enforce\nmx: mx.a.net\nmax_age: 86400\n",
            PolicyClass::BadMode,
        );
        let e = parse("version: STSv1\nmode: testing\nmx: mx.a.net\nmax_age: 86400\nx: 1\nx: 2\n");
        assert!(e.has(PolicyClass::DuplicateField));
        assert_eq!(
            e.policy.unwrap().extensions,
            [("x".to_owned(), "1".to_owned())]
        );
    }

    #[test]
    fn unknown_fields_and_colons_in_values() {
        let e = assert_valid_with(
            "version: STSv1\nmode: testing\nfoo: bar\nx: a:b\nmx: mx.a.net\nmax_age: 86400\n",
            PolicyClass::UnknownField,
        );
        assert!(e.strict_ok);
        let p = e.policy.unwrap();
        assert_eq!(
            p.extensions,
            [("foo".into(), "bar".into()), ("x".into(), "a:b".into())]
        );
        // Concatenated lines: the value holds a ':' and is still judged as max_age.
        assert_invalid_with(
            "version: STSv1\nmode: testing\nmx: mx.a.net\nmax_age: 86400version: STSv1\n",
            PolicyClass::BadMaxAge,
        );
        // Extension values with a tab or control are lenient-only.
        assert_valid_with(
            "version: STSv1\nmode: testing\nmx: mx.a.net\nmax_age: 86400\nx: a\tb\n",
            PolicyClass::StrictAbnfViolation,
        );
        assert_valid_with(
            "version: STSv1\nmode: testing\nmx: mx.a.net\nmax_age: 86400\nx:\n",
            PolicyClass::StrictAbnfViolation,
        );
    }

    #[test]
    fn field_order_is_free() {
        let e = parse("mx: mx.a.net\nmax_age: 86400\nmode: testing\nversion: STSv1\n");
        assert!(e.strict_ok, "{:?}", e.findings);
    }

    #[test]
    fn findings_are_capped_and_junk_is_fast() {
        let junk = "no colon here\n".repeat(1000) + "mode: testing\n";
        let e = parse(&junk);
        let n = e
            .findings
            .iter()
            .filter(|f| f.class == PolicyClass::MalformedLine)
            .count();
        assert_eq!(n, MAX_FINDINGS_PER_CLASS + 1);
        assert!(e.findings.last().unwrap().detail.contains("984 more"));
        let big: Vec<u8> = (0..10_000_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
            .collect();
        let start = std::time::Instant::now();
        let e = parse_policy(&big);
        assert!(!e.valid);
        assert!(start.elapsed().as_secs() < 20);
        // Policy-like junk: many duplicate and mx lines stay linear and capped.
        let lines = "x: y\nmx: mx.a.net\nmode: testing\n\n".repeat(400_000);
        let start = std::time::Instant::now();
        let e = parse(&lines);
        assert!(e.findings.len() < 10 * (MAX_FINDINGS_PER_CLASS + 1));
        assert_eq!(e.policy, None);
        assert!(start.elapsed().as_secs() < 20);
    }

    fn policy_line() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("version: STSv1".to_string()),
            "(mode|Mode|mode ) ?: ?(enforce|testing|none|Enforce|x)",
            "max_age: ?[0-9]{0,12}",
            "mx: ?(\\*\\.)?[a-z.*-]{0,12}\\.?",
            "[a-z_]{1,5}: ?[ -~]{0,8}",
            "[ \t]{0,2}",
            "---",
            "\\PC{0,12}",
        ]
    }

    fn line_end() -> impl Strategy<Value = &'static str> {
        prop_oneof![Just("\n"), Just("\r\n"), Just("\r"), Just("")]
    }

    fn mx_pattern() -> impl Strategy<Value = MxPattern> {
        (
            "(\\*\\.)?",
            "[a-z][a-z0-9]{0,5}(\\.[a-z][a-z0-9]{0,4}(-[a-z0-9]{1,3})?){1,3}",
        )
            .prop_map(|(w, d)| MxPattern::parse(&format!("{w}{d}")).unwrap())
    }

    fn valid_policy() -> impl Strategy<Value = Policy> {
        let mode = prop_oneof![
            Just(StsMode::Enforce),
            Just(StsMode::Testing),
            Just(StsMode::None)
        ];
        let ext = prop::collection::btree_map(
            "[a-z0-9][a-z0-9_.-]{0,20}",
            "[!-~]([ !-~]{0,20}[!-~])?",
            0..4,
        );
        (
            mode,
            0..=MAX_AGE_LIMIT,
            prop::collection::vec(mx_pattern(), 1..=5),
            ext,
        )
            .prop_map(|(mode, max_age, mx, ext)| Policy {
                version: VERSION_STSV1.to_owned(),
                mode,
                max_age,
                mx,
                extensions: ext
                    .into_iter()
                    .filter(|(k, _)| !KNOWN_KEYS.contains(&k.as_str()))
                    .collect(),
            })
    }

    proptest! {
        #[test]
        fn never_panics_on_bytes(body in prop::collection::vec(any::<u8>(), 0..512)) {
            let e = parse_policy(&body);
            prop_assert_eq!(e.valid, !e.findings.iter().any(|f| is_error(f.class)));
            prop_assert!(!e.strict_ok || e.valid);
        }

        #[test]
        fn never_panics_on_policy_like_lines(
            lines in prop::collection::vec((policy_line(), line_end()), 0..12),
        ) {
            let body: String = lines.iter().map(|(l, e)| format!("{l}{e}")).collect();
            let e = parse(&body);
            prop_assert_eq!(e.valid, !e.findings.iter().any(|f| is_error(f.class)));
            if let (true, Some(p)) = (e.valid, &e.policy) {
                let again = parse(&p.to_text());
                prop_assert!(again.valid);
                prop_assert_eq!(again.policy.as_ref(), Some(p));
            }
        }

        #[test]
        fn valid_policy_round_trips(
            policy in valid_policy(),
            lf in any::<bool>(),
            final_end in any::<bool>(),
        ) {
            let mut text = policy.to_text();
            if lf { text = text.replace("\r\n", "\n"); }
            if !final_end { text.truncate(text.trim_end_matches(['\r', '\n']).len()); }
            let e = parse(&text);
            prop_assert!(e.valid, "{:?}", e.findings);
            prop_assert!(e.strict_ok, "{:?}", e.findings);
            prop_assert_eq!(e.policy, Some(policy));
        }

        #[test]
        fn field_order_and_line_ends_do_not_matter(
            policy in valid_policy(),
            ends in prop::collection::vec(prop_oneof![Just("\n"), Just("\r\n")], 12),
            seed in any::<u64>(),
        ) {
            let text = policy.to_text();
            let mut lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
            // Rotate by a random amount: a cheap reordering that keeps mx order within runs.
            let k = (seed as usize) % lines.len().max(1);
            lines.rotate_left(k);
            let body: String = lines.iter().zip(ends.iter().cycle()).map(|(l, e)| format!("{l}{e}")).collect();
            let e = parse(&body);
            prop_assert!(e.strict_ok, "{:?}", e.findings);
            let mut got = e.policy.unwrap();
            let mut want = policy;
            got.mx.sort();
            want.mx.sort();
            got.extensions.sort();
            want.extensions.sort();
            prop_assert_eq!(got, want);
        }
    }
}
