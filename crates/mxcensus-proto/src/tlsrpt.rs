//! The SMTP TLS Reporting record at `_smtp._tls.<policy-domain>` (RFC 8460 §3).
//!
//! ```text
//! tlsrpt-record    = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
//! field-delim      = *WSP ";" *WSP
//! tlsrpt-field     = tlsrpt-rua / tlsrpt-extension    ; rua is required
//! tlsrpt-version   = %s"v=TLSRPTv1"
//! tlsrpt-rua       = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
//! tlsrpt-uri       = URI                              ; RFC 3986
//! tlsrpt-extension = tlsrpt-ext-name "=" tlsrpt-ext-value
//! ```
//!
//! "Commas (ASCII 0x2C), exclamation points (ASCII 0x21), and semicolons (ASCII 0x3B)"
//! inside a URI MUST be percent-encoded (§3). Only `mailto:` and `https:` destinations
//! are defined (§3, §5.1, §5.2).
//!
//! Selection (§3) is the same as for MTA-STS: records that do not begin with
//! `v=TLSRPTv1;` are discarded, and a number other than one means no TLS-RPT. As in
//! [`crate::sts_txt`], records plainly meant as TLS-RPT that fail the literal-prefix test
//! (`v=TLSRPTv1 ;`, `V=TLSRPTv1;`, `v=TLSRPTv1` without `;`, ...) are reported, and make
//! the verdict `Invalid` rather than `Absent` when no record passes.
//!
//! A record whose URIs all use other schemes is syntactically valid, but no sender can
//! deliver a report: `tlsrpt_unsupported_scheme` is an Error and the verdict `Invalid`
//! (the parsed record is still returned). Other-scheme URIs beside a usable one are
//! ignored by senders and reported as `tlsrpt_other_scheme` (Info). Several `rua` fields
//! are allowed by the ABNF (`1*(field-delim tlsrpt-field)`); their URIs are combined.

use std::fmt;

use crate::failure_classes;
use crate::finding::{Finding, Severity};
use crate::txtfields::{
    self, VersionPrefix, VersionTag, ascii_string, classify_version_prefix, describe_byte, label,
    show, split_fields, split_name_value, trim_wsp,
};
use crate::verdict::TlsRpt;

failure_classes! {
    /// Failure classes of the TLS-RPT record (SPEC §E).
    ///
    /// `tlsrpt_dns_error` is produced by the crawler from its lookup; the parser emits
    /// the others.
    pub enum TlsRptClass {
        /// No TLS-RPT record: NXDOMAIN, NODATA, or no record beginning with
        /// `v=TLSRPTv1`.
        TlsrptNone = "tlsrpt_none", Info, "RFC 8460 §3",
            "Publish \"v=TLSRPTv1; rua=mailto:tlsrpt@<domain>\" at _smtp._tls.<domain> to receive TLS failure reports.";
        /// The TXT lookup failed (SERVFAIL, timeout, REFUSED, bogus).
        TlsrptDnsError = "tlsrpt_dns_error", Error, "RFC 8460 §3",
            "Make the authoritative servers answer TXT queries for _smtp._tls.<domain>.";
        /// More than one record begins with `v=TLSRPTv1;`: senders send no reports.
        TlsrptMultiple = "tlsrpt_multiple", Error, "RFC 8460 §3",
            "Keep exactly one \"v=TLSRPTv1;\" record; list several URIs in one rua field, separated by ','.";
        /// The record does not begin with the case-sensitive `v=TLSRPTv1`.
        TlsrptBadVersion = "tlsrpt_bad_version", Error, "RFC 8460 §3",
            "Begin the record with exactly \"v=TLSRPTv1;\": lowercase v, uppercase TLSRPT, no spaces or quotes.";
        /// `v=TLSRPTv1 ;`: allowed by the ABNF but not the literal prefix
        /// `v=TLSRPTv1;` that selects records, so senders discard it.
        TlsrptPrefixVariant = "tlsrpt_prefix_variant", Error, "RFC 8460 §3",
            "Begin the record with exactly \"v=TLSRPTv1;\" (no space before the ';').";
        /// `v=TLSRPTv1` is present, but not as the first field.
        TlsrptVersionNotFirst = "tlsrpt_version_not_first", Error, "RFC 8460 §3",
            "Move \"v=TLSRPTv1;\" to the very start of the record.";
        /// No `rua` field.
        TlsrptMissingRua = "tlsrpt_missing_rua", Error, "RFC 8460 §3",
            "Add \"rua=mailto:<address>\" or \"rua=https://<host>/<path>\".";
        /// A `rua` entry that is not an RFC 3986 URI, or not a usable mailto/https one.
        TlsrptBadUri = "tlsrpt_bad_uri", Error, "RFC 8460 §3",
            "Write each rua entry as a full URI (mailto:user@example.com or https://host/path), percent-encoding ',', '!' and ';'.";
        /// Every URI has a scheme other than `mailto` or `https`: no report can be sent.
        TlsrptUnsupportedScheme = "tlsrpt_unsupported_scheme", Error, "RFC 8460 §3",
            "Use a mailto: or https: URI in rua.";
        /// A URI with another scheme beside usable ones; senders ignore it.
        TlsrptOtherScheme = "tlsrpt_other_scheme", Info, "RFC 8460 §3",
            "Remove rua URIs whose scheme is neither mailto nor https.";
        /// A `,` inside a URI was not percent-encoded, so the text after it is read as a
        /// separate (broken) URI.
        TlsrptUnencodedComma = "tlsrpt_unencoded_comma", Error, "RFC 8460 §3",
            "Write ',' inside a URI as %2C, or give each address its own mailto: URI.";
        /// `rua=` with no URI, or an empty entry in the list.
        TlsrptEmptyRua = "tlsrpt_empty_rua", Error, "RFC 8460 §3",
            "Give rua at least one URI and no empty entries (stray ',').";
        /// A field that is neither `rua` nor a well-formed extension.
        TlsrptBadExtension = "tlsrpt_bad_extension", Error, "RFC 8460 §3",
            "Write other fields as name=value: name of letters, digits, '_', '-', '.' (max 32); value without spaces, '=' or ';'.";
        /// Empty fields, missing `;`, or whitespace after the last field.
        TlsrptBadDelimiter = "tlsrpt_bad_delimiter", Error, "RFC 8460 §3",
            "Separate fields with ';' (spaces around it allowed); no empty fields, no trailing spaces without ';'.";
        /// A byte outside US-ASCII.
        TlsrptNonAscii = "tlsrpt_non_ascii", Error, "RFC 8460 §3",
            "Use US-ASCII only in the record; percent-encode anything else inside URIs.";
    }
}

/// The version tag of TLS-RPT records.
pub const TLSRPT_VERSION: VersionTag = VersionTag {
    literal: "v=TLSRPTv1",
    stem: "TLSRPT",
};

/// The scheme of a `rua` URI. Schemes are case-insensitive (RFC 3986 §3.1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RuaScheme {
    /// `mailto:`: reports are sent by mail, DKIM-signed (RFC 8460 §5.3).
    Mailto,
    /// `https:`: reports are POSTed (RFC 8460 §5.4).
    Https,
    /// Any other scheme, lowercased; senders have no way to use it.
    Other(String),
}

impl RuaScheme {
    /// The lowercase scheme name.
    pub fn as_str(&self) -> &str {
        match self {
            RuaScheme::Mailto => "mailto",
            RuaScheme::Https => "https",
            RuaScheme::Other(s) => s,
        }
    }

    /// `true` for the schemes RFC 8460 defines a delivery method for.
    pub fn is_supported(&self) -> bool {
        matches!(self, RuaScheme::Mailto | RuaScheme::Https)
    }
}

impl fmt::Display for RuaScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for RuaScheme {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One reporting destination from `rua`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RuaUri {
    /// The scheme.
    pub scheme: RuaScheme,
    /// The URI as written in the record (percent-encoding kept).
    pub uri: String,
}

/// A syntactically valid TLS-RPT record.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TlsRptRecord {
    /// Every `rua` URI in record order, across all `rua` fields.
    pub rua: Vec<RuaUri>,
    /// Extension fields in record order, as `(name, value)`; senders ignore them.
    pub extensions: Vec<(String, String)>,
}

impl TlsRptRecord {
    /// The URIs a sender can deliver to (`mailto:` and `https:`).
    pub fn usable_rua(&self) -> impl Iterator<Item = &RuaUri> {
        self.rua.iter().filter(|u| u.scheme.is_supported())
    }
}

/// The outcome of parsing one record with [`parse_tlsrpt_record`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsRptRecordParse {
    /// The record, when it is syntactically valid (it may still have no usable URI:
    /// see `tlsrpt_unsupported_scheme`).
    pub record: Option<TlsRptRecord>,
    /// Everything found, in record order.
    pub findings: Vec<Finding<TlsRptClass>>,
}

impl TlsRptRecordParse {
    /// `true` when the record parsed and has no finding of severity Error.
    pub fn is_usable(&self) -> bool {
        self.record.is_some()
            && !self
                .findings
                .iter()
                .any(|f| f.severity() == Severity::Error)
    }
}

/// The outcome of the §3 procedure on a whole TXT RRset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsRptEvaluation {
    /// `Valid`, `Absent`, `Invalid` or `Multiple`; never `Error`, which the crawler sets
    /// from the DNS outcome.
    pub verdict: TlsRpt,
    /// The selected record when it is syntactically valid: always for `Valid`, and for
    /// an `Invalid` record whose only fault is having no usable URI.
    pub record: Option<TlsRptRecord>,
    /// Everything found. With several TXT records, each detail names its record.
    pub findings: Vec<Finding<TlsRptClass>>,
}

/// Why a `rua` entry is not a usable RFC 3986 URI.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UriError {
    /// No `scheme ":"` at the start: a relative reference such as `user@example.com`.
    NoScheme,
    /// The scheme does not match `ALPHA *(ALPHA / DIGIT / "+" / "-" / ".")`.
    BadScheme,
    /// `,`, `!` or `;` not percent-encoded, which RFC 8460 §3 requires.
    MustBeEncoded {
        /// The byte.
        byte: u8,
    },
    /// A byte RFC 3986 does not allow in a URI (space, `"`, `<`, non-ASCII, ...).
    BadChar {
        /// The byte.
        byte: u8,
    },
    /// `%` not followed by two hex digits.
    BadPercentEncoding,
    /// A second `#`.
    SecondFragment,
    /// `[` or `]` outside the host part.
    BracketOutsideHost,
    /// A `mailto:` URI with no address.
    MailtoWithoutAddress,
    /// An `https:` URI with no host.
    HttpsWithoutHost,
    /// An `https:` URI whose port is not a number.
    BadPort,
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UriError::NoScheme => f.write_str("no scheme (write mailto:... or https://...)"),
            UriError::BadScheme => f.write_str("the scheme is not letters, digits, '+', '-', '.'"),
            UriError::MustBeEncoded { byte } => write!(
                f,
                "{} must be percent-encoded (%{byte:02X})",
                describe_byte(*byte)
            ),
            UriError::BadChar { byte: b' ' | b'\t' } => {
                f.write_str("whitespace inside the URI (separate URIs with ',')")
            }
            UriError::BadChar { byte } => {
                write!(f, "{} is not allowed in a URI", describe_byte(*byte))
            }
            UriError::BadPercentEncoding => f.write_str("'%' not followed by two hex digits"),
            UriError::SecondFragment => f.write_str("more than one '#'"),
            UriError::BracketOutsideHost => f.write_str("'[' or ']' outside the host"),
            UriError::MailtoWithoutAddress => f.write_str("mailto: URI without an address"),
            UriError::HttpsWithoutHost => f.write_str("https: URI without a host"),
            UriError::BadPort => f.write_str("the port is not a number"),
        }
    }
}

/// Parses one `rua` entry as an RFC 3986 URI and checks that a `mailto:` one has an
/// address and an `https:` one a host.
///
/// ```
/// use mxcensus_proto::tlsrpt::{parse_rua_uri, RuaScheme};
/// let uri = parse_rua_uri(b"MAILTO:reports@example.com").unwrap();
/// assert_eq!(uri.scheme, RuaScheme::Mailto);
/// assert!(parse_rua_uri(b"reports@example.com").is_err());
/// ```
pub fn parse_rua_uri(text: &[u8]) -> Result<RuaUri, UriError> {
    let colon = text
        .iter()
        .position(|&b| matches!(b, b':' | b'/' | b'?' | b'#' | b'@'))
        .filter(|&i| text.get(i) == Some(&b':') && i > 0)
        .ok_or(UriError::NoScheme)?;
    let scheme = text.get(..colon).unwrap_or_default();
    let rest = text.get(colon + 1..).unwrap_or_default();
    let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !scheme_ok {
        return Err(UriError::BadScheme);
    }

    // The authority ("//" up to the next '/', '?' or '#') is the only place for '[' ']'.
    let authority = rest.strip_prefix(b"//").map(|after| {
        let end = after
            .iter()
            .position(|&b| matches!(b, b'/' | b'?' | b'#'))
            .unwrap_or(after.len());
        after.get(..end).unwrap_or_default()
    });
    let authority_end = authority.map_or(0, |a| a.len() + 2);

    let mut in_fragment = false;
    let mut i = 0;
    while let Some(&b) = rest.get(i) {
        match b {
            b'%' => {
                let hex = rest.get(i + 1..i + 3).unwrap_or_default();
                if hex.len() != 2 || !hex.iter().all(u8::is_ascii_hexdigit) {
                    return Err(UriError::BadPercentEncoding);
                }
                i += 2;
            }
            b',' | b'!' | b';' => return Err(UriError::MustBeEncoded { byte: b }),
            b'#' if in_fragment => return Err(UriError::SecondFragment),
            b'#' => in_fragment = true,
            b'[' | b']' if i >= authority_end => return Err(UriError::BracketOutsideHost),
            b'[' | b']' => {}
            _ if b.is_ascii_alphanumeric() => {}
            b'-' | b'.' | b'_' | b'~' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b'='
            | b':' | b'@' | b'/' | b'?' => {}
            _ => return Err(UriError::BadChar { byte: b }),
        }
        i += 1;
    }

    let scheme = match scheme.to_ascii_lowercase().as_slice() {
        b"mailto" => RuaScheme::Mailto,
        b"https" => RuaScheme::Https,
        other => RuaScheme::Other(ascii_string(other)),
    };
    match scheme {
        RuaScheme::Mailto => {
            let to_end = rest
                .iter()
                .position(|&b| matches!(b, b'?' | b'#'))
                .unwrap_or(rest.len());
            let to = rest.get(..to_end).unwrap_or_default();
            if !to.contains(&b'@') {
                return Err(UriError::MailtoWithoutAddress);
            }
        }
        RuaScheme::Https => check_https_authority(authority)?,
        RuaScheme::Other(_) => {}
    }
    Ok(RuaUri {
        scheme,
        uri: ascii_string(text),
    })
}

/// `authority = [ userinfo "@" ] host [ ":" port ]` with a non-empty host (RFC 3986 §3.2,
/// RFC 9110 §4.2.2).
fn check_https_authority(authority: Option<&[u8]>) -> Result<(), UriError> {
    let authority = authority.ok_or(UriError::HttpsWithoutHost)?;
    let host_port = match authority.iter().rposition(|&b| b == b'@') {
        Some(at) => authority.get(at + 1..).unwrap_or_default(),
        None => authority,
    };
    let (host, port) = if host_port.first() == Some(&b'[') {
        let close = host_port
            .iter()
            .position(|&b| b == b']')
            .ok_or(UriError::HttpsWithoutHost)?;
        let after = host_port.get(close + 1..).unwrap_or_default();
        let port = match after.split_first() {
            None => None,
            Some((b':', port)) => Some(port),
            Some(_) => return Err(UriError::BadPort),
        };
        (host_port.get(1..close).unwrap_or_default(), port)
    } else {
        match host_port.iter().rposition(|&b| b == b':') {
            Some(c) => (
                host_port.get(..c).unwrap_or_default(),
                host_port.get(c + 1..),
            ),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err(UriError::HttpsWithoutHost);
    }
    if port.is_some_and(|p| !p.iter().all(u8::is_ascii_digit)) {
        return Err(UriError::BadPort);
    }
    Ok(())
}

/// Parses one (joined) TXT record as the TLS-RPT record.
///
/// A record that does not begin with `v=TLSRPTv1;` is judged as a failed attempt at one;
/// the evaluator uses [`classify_version_prefix`] first to tell foreign records apart.
///
/// ```
/// use mxcensus_proto::tlsrpt::parse_tlsrpt_record;
/// let parsed = parse_tlsrpt_record(b"v=TLSRPTv1;rua=mailto:reports@example.com");
/// assert!(parsed.is_usable());
/// assert_eq!(parsed.record.unwrap().rua[0].uri, "mailto:reports@example.com");
/// ```
pub fn parse_tlsrpt_record(record: &[u8]) -> TlsRptRecordParse {
    let mut findings = Vec::new();
    if let Some((offset, byte)) = txtfields::first_non_ascii(record) {
        findings.push(Finding::new(
            TlsRptClass::TlsrptNonAscii,
            format!("byte 0x{byte:02x} at offset {offset} is not US-ASCII"),
        ));
    }
    let literal_len = TLSRPT_VERSION.literal.len();
    let stop = |findings: Vec<_>| TlsRptRecordParse {
        record: None,
        findings,
    };
    let after_version = match classify_version_prefix(record, &TLSRPT_VERSION) {
        VersionPrefix::Exact => record.get(literal_len..).unwrap_or_default(),
        VersionPrefix::WspBeforeDelimiter => {
            findings.push(Finding::new(
                TlsRptClass::TlsrptPrefixVariant,
                "begins with whitespace between \"v=TLSRPTv1\" and ';', not with the literal \"v=TLSRPTv1;\"; senders discard such records",
            ));
            record.get(literal_len..).unwrap_or_default()
        }
        VersionPrefix::MissingDelimiter => {
            findings.push(Finding::new(
                TlsRptClass::TlsrptBadDelimiter,
                format!("\"v=TLSRPTv1\" is not followed by ';' in {}", show(record)),
            ));
            return stop(findings);
        }
        VersionPrefix::Variant | VersionPrefix::Foreign => {
            findings.push(Finding::new(
                TlsRptClass::TlsrptBadVersion,
                format!(
                    "does not begin with the case-sensitive \"v=TLSRPTv1;\": {}",
                    show(record)
                ),
            ));
            return stop(findings);
        }
        VersionPrefix::NotFirst => {
            findings.push(Finding::new(
                TlsRptClass::TlsrptVersionNotFirst,
                format!("\"v=TLSRPTv1\" is not the first field: {}", show(record)),
            ));
            return stop(findings);
        }
    };

    let fields = split_fields(after_version);
    for problem in &fields.problems {
        findings.push(Finding::new(
            TlsRptClass::TlsrptBadDelimiter,
            problem.to_string(),
        ));
    }

    let mut rua_fields = 0usize;
    let mut rua = Vec::new();
    let mut extensions = Vec::new();
    let mut rua_case_variant: Option<&[u8]> = None;
    let mut previous_was_rua = false;
    for field in &fields.fields {
        let name_value = split_name_value(field);
        if let Some((b"rua", value)) = name_value {
            rua_fields += 1;
            parse_rua_list(value, &mut rua, &mut findings);
            previous_was_rua = true;
            continue;
        }
        if name_value.is_none() && previous_was_rua {
            // Most likely the tail of a URI cut by an unencoded ';'.
            findings.push(Finding::new(
                TlsRptClass::TlsrptBadUri,
                format!(
                    "field {} after rua has no '='; a ';' inside a URI must be written %3B",
                    show(field)
                ),
            ));
        } else {
            match txtfields::parse_extension(field) {
                Ok((name, value)) => {
                    if name.eq_ignore_ascii_case(b"rua") {
                        rua_case_variant = Some(name);
                    }
                    extensions.push((ascii_string(name), ascii_string(value)));
                }
                Err(e) => findings.push(Finding::new(
                    TlsRptClass::TlsrptBadExtension,
                    format!("field {}: {e}", show(field)),
                )),
            }
        }
        previous_was_rua = false;
    }
    if rua_fields == 0 {
        let detail = match rua_case_variant {
            Some(name) => format!(
                "no \"rua=\" field; field names are case-sensitive and {} is an extension",
                show(name)
            ),
            None => "no \"rua=\" field".to_owned(),
        };
        findings.push(Finding::new(TlsRptClass::TlsrptMissingRua, detail));
    }

    let syntax_ok = !findings.iter().any(|f| f.severity() == Severity::Error);
    if !rua.is_empty() {
        if rua.iter().any(|u| u.scheme.is_supported()) {
            for uri in rua.iter().filter(|u| !u.scheme.is_supported()) {
                findings.push(Finding::new(
                    TlsRptClass::TlsrptOtherScheme,
                    format!(
                        "{} ignored: scheme {:?} is neither mailto nor https",
                        show(uri.uri.as_bytes()),
                        uri.scheme.as_str()
                    ),
                ));
            }
        } else {
            let schemes: Vec<&str> = rua.iter().map(|u| u.scheme.as_str()).collect();
            findings.push(Finding::new(
                TlsRptClass::TlsrptUnsupportedScheme,
                format!(
                    "no mailto: or https: URI (schemes: {}); senders cannot deliver reports",
                    schemes.join(", ")
                ),
            ));
        }
    }
    let record = syntax_ok.then_some(TlsRptRecord { rua, extensions });
    TlsRptRecordParse { record, findings }
}

/// Parses the value of one `rua=` field: `tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)`.
fn parse_rua_list(value: &[u8], rua: &mut Vec<RuaUri>, findings: &mut Vec<Finding<TlsRptClass>>) {
    if trim_wsp(value).is_empty() {
        findings.push(Finding::new(TlsRptClass::TlsrptEmptyRua, "rua= has no URI"));
        return;
    }
    if value.first().is_some_and(|&b| txtfields::is_wsp(b)) {
        findings.push(Finding::new(
            TlsRptClass::TlsrptBadUri,
            "whitespace between \"rua=\" and the first URI",
        ));
    }
    for (index, entry) in value.split(|&b| b == b',').enumerate() {
        let entry = trim_wsp(entry);
        if entry.is_empty() {
            findings.push(Finding::new(
                TlsRptClass::TlsrptEmptyRua,
                format!("entry {} of the rua list is empty (stray ',')", index + 1),
            ));
            continue;
        }
        match parse_rua_uri(entry) {
            Ok(uri) => rua.push(uri),
            Err(UriError::NoScheme) if index > 0 => findings.push(Finding::new(
                TlsRptClass::TlsrptUnencodedComma,
                format!(
                    "{} after a ',' is not a URI; a ',' inside a URI must be written %2C",
                    show(entry)
                ),
            )),
            Err(e) => findings.push(Finding::new(
                TlsRptClass::TlsrptBadUri,
                format!("{}: {e}", show(entry)),
            )),
        }
    }
}

/// Applies RFC 8460 §3 to a TXT RRset given as DNS delivers it: one entry per record,
/// each a list of character-strings.
///
/// `Absent` always carries a `tlsrpt_none` finding, including for an empty RRset.
///
/// ```
/// use mxcensus_proto::tlsrpt::evaluate_tlsrpt_rrset;
/// use mxcensus_proto::verdict::TlsRpt;
/// let rrset = vec![vec![b"v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt".to_vec()]];
/// let eval = evaluate_tlsrpt_rrset(&rrset);
/// assert_eq!(eval.verdict, TlsRpt::Valid);
/// ```
pub fn evaluate_tlsrpt_rrset<R, S>(rrset: &[R]) -> TlsRptEvaluation
where
    R: AsRef<[S]>,
    S: AsRef<[u8]>,
{
    let joined: Vec<Vec<u8>> = rrset
        .iter()
        .map(|strings| txtfields::join_character_strings(strings.as_ref()))
        .collect();
    evaluate_tlsrpt_records(&joined)
}

/// Like [`evaluate_tlsrpt_rrset`], for records whose character-strings are already
/// joined (one entry per TXT record).
pub fn evaluate_tlsrpt_records<T: AsRef<[u8]>>(records: &[T]) -> TlsRptEvaluation {
    let total = records.len();
    let mut selected = Vec::new();
    let mut near_misses = 0usize;
    let mut findings = Vec::new();
    for (index, record) in records.iter().enumerate() {
        let record = record.as_ref();
        match classify_version_prefix(record, &TLSRPT_VERSION) {
            VersionPrefix::Exact => selected.push(index),
            VersionPrefix::Foreign => {}
            _ => {
                near_misses += 1;
                let parsed = parse_tlsrpt_record(record);
                findings.extend(label(parsed.findings, index, total));
            }
        }
    }

    let (verdict, record) = match selected.as_slice() {
        [] if near_misses > 0 => (TlsRpt::Invalid, None),
        [] => {
            let detail = match records.first() {
                Some(first) => format!(
                    "{total} TXT record(s), none beginning with \"v=TLSRPTv1;\" (first: {})",
                    show(first.as_ref())
                ),
                None => "no TXT record".to_owned(),
            };
            findings.push(Finding::new(TlsRptClass::TlsrptNone, detail));
            (TlsRpt::Absent, None)
        }
        [only] => {
            let parsed = records
                .get(*only)
                .map(|r| parse_tlsrpt_record(r.as_ref()))
                .unwrap_or(TlsRptRecordParse {
                    record: None,
                    findings: Vec::new(),
                });
            let verdict = if parsed.is_usable() {
                TlsRpt::Valid
            } else {
                TlsRpt::Invalid
            };
            findings.extend(label(parsed.findings, *only, total));
            (verdict, parsed.record)
        }
        many => {
            findings.push(Finding::new(
                TlsRptClass::TlsrptMultiple,
                format!(
                    "{} TXT records begin with \"v=TLSRPTv1;\"; senders send no reports",
                    many.len()
                ),
            ));
            for &index in many {
                if let Some(record) = records.get(index) {
                    let parsed = parse_tlsrpt_record(record.as_ref());
                    findings.extend(label(parsed.findings, index, total));
                }
            }
            (TlsRpt::Multiple, None)
        }
    };
    TlsRptEvaluation {
        verdict,
        record,
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::FailureClass;
    use crate::finding::check_class_table;
    use proptest::prelude::*;

    fn codes(findings: &[Finding<TlsRptClass>]) -> Vec<&'static str> {
        findings.iter().map(|f| f.code()).collect()
    }

    fn eval_one(record: &str) -> TlsRptEvaluation {
        evaluate_tlsrpt_records(&[record.as_bytes()])
    }

    #[track_caller]
    fn assert_class(record: &str, verdict: TlsRpt, class: TlsRptClass) {
        let eval = eval_one(record);
        assert_eq!(eval.verdict, verdict, "{record:?}: {:?}", eval.findings);
        assert!(
            eval.findings.iter().any(|f| f.class == class),
            "{record:?}: want {class}, got {:?}",
            codes(&eval.findings)
        );
    }

    fn uris(eval: &TlsRptEvaluation) -> Vec<&str> {
        eval.record
            .as_ref()
            .map(|r| r.rua.iter().map(|u| u.uri.as_str()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn class_table_is_well_formed() {
        check_class_table::<TlsRptClass>().unwrap();
    }

    #[test]
    fn rfc_examples() {
        let eval = eval_one("v=TLSRPTv1;rua=mailto:reports@example.com");
        assert_eq!(eval.verdict, TlsRpt::Valid);
        assert!(eval.findings.is_empty());
        assert_eq!(uris(&eval), ["mailto:reports@example.com"]);
        assert_eq!(eval.record.unwrap().rua[0].scheme, RuaScheme::Mailto);

        let eval = eval_one("v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt");
        assert_eq!(eval.verdict, TlsRpt::Valid);
        assert!(eval.findings.is_empty());
        assert_eq!(eval.record.unwrap().rua[0].scheme, RuaScheme::Https);

        let eval = eval_one(
            "v=TLSRPTv1; rua=mailto:reports@example.com,https://reporting.example.com/v1/tlsrpt",
        );
        assert_eq!(eval.verdict, TlsRpt::Valid);
        assert_eq!(uris(&eval).len(), 2);
    }

    #[test]
    fn rua_lists() {
        let eval = eval_one("v=TLSRPTv1; rua=mailto:a@x.example \t,\t mailto:b@x.example;");
        assert_eq!(eval.verdict, TlsRpt::Valid, "{:?}", eval.findings);
        assert_eq!(uris(&eval), ["mailto:a@x.example", "mailto:b@x.example"]);
        // Several rua fields are combined.
        let eval = eval_one("v=TLSRPTv1; rua=mailto:a@x.example; rua=https://r.example/");
        assert_eq!(uris(&eval).len(), 2);
        // Percent-encoded commas stay inside one URI.
        let eval = eval_one("v=TLSRPTv1; rua=mailto:a@x.example%2Cb@x.example");
        assert_eq!(eval.verdict, TlsRpt::Valid);
        assert_eq!(uris(&eval).len(), 1);
        // Extensions are kept; an upper-case scheme is still mailto.
        let eval = eval_one("v=TLSRPTv1; ext=1; rua=MAILTO:a@x.example");
        let record = eval.record.unwrap();
        assert_eq!(record.extensions, [("ext".to_owned(), "1".to_owned())]);
        assert_eq!(record.usable_rua().count(), 1);
    }

    #[test]
    fn one_input_per_class() {
        use TlsRptClass::*;
        let cases: &[(&str, TlsRpt, TlsRptClass)] = &[
            (
                "v=TLSRPTv2; rua=mailto:a@x.example",
                TlsRpt::Invalid,
                TlsrptBadVersion,
            ),
            (
                "V=TLSRPTv1; rua=mailto:a@x.example",
                TlsRpt::Invalid,
                TlsrptBadVersion,
            ),
            (
                " v=TLSRPTv1; rua=mailto:a@x.example",
                TlsRpt::Invalid,
                TlsrptBadVersion,
            ),
            (
                "v=TLSRPTv1 ; rua=mailto:a@x.example",
                TlsRpt::Invalid,
                TlsrptPrefixVariant,
            ),
            (
                "rua=mailto:a@x.example; v=TLSRPTv1",
                TlsRpt::Invalid,
                TlsrptVersionNotFirst,
            ),
            (
                "v=TLSRPTv1 rua=mailto:a@x.example",
                TlsRpt::Invalid,
                TlsrptBadDelimiter,
            ),
            (
                "v=TLSRPTv1;; rua=mailto:a@x.example",
                TlsRpt::Invalid,
                TlsrptBadDelimiter,
            ),
            (
                "v=TLSRPTv1; rua=mailto:a@x.example ",
                TlsRpt::Invalid,
                TlsrptBadDelimiter,
            ),
            ("v=TLSRPTv1;", TlsRpt::Invalid, TlsrptMissingRua),
            (
                "v=TLSRPTv1; RUA=mailto:a@x.example",
                TlsRpt::Invalid,
                TlsrptMissingRua,
            ),
            (
                "v=TLSRPTv1; rua=reports@x.example",
                TlsRpt::Invalid,
                TlsrptBadUri,
            ),
            (
                "v=TLSRPTv1; rua=mailto:a!b@x.example",
                TlsRpt::Invalid,
                TlsrptBadUri,
            ),
            (
                "v=TLSRPTv1; rua=mailto:a@x.example mailto:b@x.example",
                TlsRpt::Invalid,
                TlsrptBadUri,
            ),
            (
                "v=TLSRPTv1; rua=https://r.example/a;b",
                TlsRpt::Invalid,
                TlsrptBadUri,
            ),
            (
                "v=TLSRPTv1; rua= mailto:a@x.example",
                TlsRpt::Invalid,
                TlsrptBadUri,
            ),
            ("v=TLSRPTv1; rua=mailto:", TlsRpt::Invalid, TlsrptBadUri),
            ("v=TLSRPTv1; rua=https:/path", TlsRpt::Invalid, TlsrptBadUri),
            (
                "v=TLSRPTv1; rua=https://r.example:x/",
                TlsRpt::Invalid,
                TlsrptBadUri,
            ),
            (
                "v=TLSRPTv1; rua=https://r.example/%zz",
                TlsRpt::Invalid,
                TlsrptBadUri,
            ),
            (
                "v=TLSRPTv1; rua=ftp://r.example/",
                TlsRpt::Invalid,
                TlsrptUnsupportedScheme,
            ),
            (
                "v=TLSRPTv1; rua=ftp://r.example/,mailto:a@x.example",
                TlsRpt::Valid,
                TlsrptOtherScheme,
            ),
            (
                "v=TLSRPTv1; rua=mailto:a@x.example,b@x.example",
                TlsRpt::Invalid,
                TlsrptUnencodedComma,
            ),
            ("v=TLSRPTv1; rua=", TlsRpt::Invalid, TlsrptEmptyRua),
            (
                "v=TLSRPTv1; rua=mailto:a@x.example,",
                TlsRpt::Invalid,
                TlsrptEmptyRua,
            ),
            (
                "v=TLSRPTv1; rua=mailto:a@x.example; ext=a=b",
                TlsRpt::Invalid,
                TlsrptBadExtension,
            ),
            (
                "v=TLSRPTv1; rua=mailto:a@x.example; x=\u{e9}",
                TlsRpt::Invalid,
                TlsrptNonAscii,
            ),
        ];
        for (record, verdict, class) in cases {
            assert_class(record, *verdict, *class);
        }
        let eval = eval_one("v=spf1 -all");
        assert_eq!(
            (eval.verdict, codes(&eval.findings)),
            (TlsRpt::Absent, vec!["tlsrpt_none"])
        );
        let eval = evaluate_tlsrpt_records(&[
            "v=TLSRPTv1; rua=mailto:a@x.example",
            "v=TLSRPTv1; rua=mailto:b@x.example",
        ]);
        assert_eq!(
            (eval.verdict, codes(&eval.findings)),
            (TlsRpt::Multiple, vec!["tlsrpt_multiple"])
        );
        assert!(TlsRptClass::from_code("tlsrpt_dns_error").is_some());
    }

    #[test]
    fn unsupported_scheme_keeps_the_record() {
        let eval = eval_one("v=TLSRPTv1; rua=ftp://r.example/");
        assert_eq!(eval.verdict, TlsRpt::Invalid);
        assert_eq!(codes(&eval.findings), ["tlsrpt_unsupported_scheme"]);
        let record = eval.record.unwrap();
        assert_eq!(record.rua[0].scheme, RuaScheme::Other("ftp".to_owned()));
        assert_eq!(record.usable_rua().count(), 0);
    }

    #[test]
    fn uri_syntax() {
        for ok in [
            "https://r.example",
            "https://user@r.example:8443/p?q=1#f",
            "https://[2001:db8::1]:443/x",
            "mailto:a@x.example?subject=tls",
            "mailto:%22a%20b%22@x.example",
            "urn:x-example:thing",
        ] {
            assert!(parse_rua_uri(ok.as_bytes()).is_ok(), "{ok}");
        }
        let cases: &[(&str, UriError)] = &[
            ("", UriError::NoScheme),
            (":x", UriError::NoScheme),
            ("a@b:c", UriError::NoScheme),
            ("1x:y", UriError::BadScheme),
            ("mailto:a,b@x", UriError::MustBeEncoded { byte: b',' }),
            ("https://h/a\"b", UriError::BadChar { byte: b'"' }),
            ("https://h/\u{e9}", UriError::BadChar { byte: 0xc3 }),
            ("https://h/%4", UriError::BadPercentEncoding),
            ("https://h/#a#b", UriError::SecondFragment),
            ("https://h/[x]", UriError::BracketOutsideHost),
            ("mailto:x.example", UriError::MailtoWithoutAddress),
            ("https:///path", UriError::HttpsWithoutHost),
            ("https://u@:1/", UriError::HttpsWithoutHost),
            ("https://[::1]x/", UriError::BadPort),
        ];
        for (text, want) in cases {
            assert_eq!(
                parse_rua_uri(text.as_bytes()).as_ref().err(),
                Some(want),
                "{text}"
            );
        }
    }

    #[test]
    fn multi_string_and_selection() {
        let rrset = vec![
            vec![b"v=spf1 -all".to_vec()],
            vec![
                b"v=TLSRPTv1; rua=mailto:rep".to_vec(),
                b"orts@example.com".to_vec(),
            ],
        ];
        let eval = evaluate_tlsrpt_rrset(&rrset);
        assert_eq!(eval.verdict, TlsRpt::Valid);
        assert_eq!(uris(&eval), ["mailto:reports@example.com"]);
        // A near miss beside a good record is reported but discarded.
        let eval = evaluate_tlsrpt_records(&[
            "v=TLSRPTv1 ;rua=mailto:a@x.example",
            "v=TLSRPTv1;rua=mailto:b@x.example",
        ]);
        assert_eq!(eval.verdict, TlsRpt::Valid);
        assert_eq!(codes(&eval.findings), ["tlsrpt_prefix_variant"]);
        let none: [&[u8]; 0] = [];
        assert_eq!(evaluate_tlsrpt_records(&none).verdict, TlsRpt::Absent);
    }

    prop_compose! {
        fn rua_uri()(
            mailto in any::<bool>(),
            user in "[a-z0-9._+-]{1,10}",
            host in "[a-z0-9]{1,10}(\\.[a-z0-9]{1,8}){0,2}",
            path in "(/[A-Za-z0-9._~%-]{0,8}){0,3}",
        ) -> String {
            let path = path.replace('%', "%25");
            if mailto { format!("mailto:{user}@{host}") } else { format!("https://{host}{path}") }
        }
    }

    prop_compose! {
        fn valid_record()(
            list in prop::collection::vec(rua_uri(), 1..4),
            comma_ws in prop::collection::vec(("[ \t]{0,2}", "[ \t]{0,2}"), 4),
            exts in prop::collection::vec(
                ("[A-Za-z0-9][A-Za-z0-9_.-]{0,31}", "[!-:<>-~]{1,16}")
                    .prop_filter("not the rua field", |(n, _)| n != "rua"), 0..3),
            delim_ws in prop::collection::vec(("[ \t]{0,2}", "[ \t]{0,2}"), 5),
            rua_pos in 0usize..4,
            trailing in any::<bool>(),
        ) -> (String, Vec<String>, Vec<(String, String)>) {
            let mut rua = String::from("rua=");
            for (i, uri) in list.iter().enumerate() {
                if i > 0 {
                    let (before, after) = &comma_ws[i % comma_ws.len()];
                    rua.push_str(&format!("{before},{after}"));
                }
                rua.push_str(uri);
            }
            let mut fields: Vec<String> = exts.iter().map(|(n, v)| format!("{n}={v}")).collect();
            fields.insert(rua_pos.min(fields.len()), rua);
            let mut text = String::from("v=TLSRPTv1");
            for (i, field) in fields.iter().enumerate() {
                let (before, after) = &delim_ws[i % delim_ws.len()];
                // The first delimiter must be the literal ';' right after the version.
                let before = if i == 0 { "" } else { before.as_str() };
                text.push_str(&format!("{before};{after}{field}"));
            }
            if trailing {
                text.push_str(" ; ");
            }
            (text, list, exts)
        }
    }

    proptest! {
        #[test]
        fn never_panics(rrset in prop::collection::vec(
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..4), 0..4)) {
            let eval = evaluate_tlsrpt_rrset(&rrset);
            if eval.verdict == TlsRpt::Valid {
                prop_assert!(eval.record.is_some());
            }
        }

        #[test]
        fn never_panics_near_the_grammar(
            parts in prop::collection::vec(
                prop::sample::select(vec!["v=TLSRPTv1", ";", " ", ",", "rua=", "mailto:", "https://",
                    "a@b", "%", "%2C", "[", "]", ":", "#", "!", "\u{e9}", "x=y"]),
                0..14),
        ) {
            let record = parts.concat();
            let _ = evaluate_tlsrpt_records(&[record.as_bytes()]);
        }

        #[test]
        fn valid_records_round_trip((text, list, exts) in valid_record()) {
            let eval = evaluate_tlsrpt_records(&[text.as_bytes()]);
            prop_assert_eq!(eval.verdict, TlsRpt::Valid, "{:?} {:?}", text, eval.findings);
            prop_assert!(eval.findings.is_empty());
            let record = eval.record.unwrap();
            let got: Vec<String> = record.rua.iter().map(|u| u.uri.clone()).collect();
            prop_assert_eq!(got, list);
            prop_assert_eq!(record.extensions, exts);
        }
    }
}
