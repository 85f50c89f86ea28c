//! The lexical layer shared by the MTA-STS TXT record (RFC 8461 §3.1) and the TLS-RPT
//! record (RFC 8460 §3).
//!
//! Both records have the same shape:
//!
//! ```text
//! record      = version 1*(field-delim field) [field-delim]
//! field-delim = *WSP ";" *WSP                                  ; WSP = SP / HTAB
//! extension   = ext-name "=" ext-value
//! ext-name    = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
//! ext-value   = 1*(%x21-3A / %x3C / %x3E-7E)
//! ```
//!
//! This module assembles a record from its DNS character-strings, decides how a record
//! begins relative to its version tag (the selection step of both RFCs), splits the fields
//! and checks the extension grammar. It works on bytes: TXT data is not guaranteed to be
//! text, and nothing here can panic on arbitrary input.

use std::fmt;

/// `true` for the ABNF `WSP` characters: space and horizontal tab (RFC 5234 Appendix B.1).
pub fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Joins the character-strings of one TXT record with no separator, as both RFC 8461 §3.1
/// and RFC 8460 §3 require ("concatenated without adding spaces").
///
/// ```
/// use mxcensus_proto::txtfields::join_character_strings;
/// let strings = [b"v=STSv1; id=2016".to_vec(), b"0831085700Z;".to_vec()];
/// assert_eq!(join_character_strings(&strings), b"v=STSv1; id=20160831085700Z;");
/// ```
pub fn join_character_strings<S: AsRef<[u8]>>(strings: &[S]) -> Vec<u8> {
    let mut joined = Vec::with_capacity(strings.iter().map(|s| s.as_ref().len()).sum());
    for s in strings {
        joined.extend_from_slice(s.as_ref());
    }
    joined
}

/// Removes leading `WSP`.
pub fn trim_wsp_start(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_wsp(b)).unwrap_or(s.len());
    s.get(start..).unwrap_or_default()
}

/// Removes trailing `WSP`.
pub fn trim_wsp_end(s: &[u8]) -> &[u8] {
    let end = s.iter().rposition(|&b| !is_wsp(b)).map_or(0, |i| i + 1);
    s.get(..end).unwrap_or_default()
}

/// Removes leading and trailing `WSP`.
pub fn trim_wsp(s: &[u8]) -> &[u8] {
    trim_wsp_end(trim_wsp_start(s))
}

/// The offset and value of the first byte outside US-ASCII, if any.
pub fn first_non_ascii(s: &[u8]) -> Option<(usize, u8)> {
    s.iter().copied().enumerate().find(|&(_, b)| !b.is_ascii())
}

/// Renders bytes for a finding's detail: quoted, escaped, cut to a readable length.
pub fn show(s: &[u8]) -> String {
    const MAX: usize = 80;
    let text = String::from_utf8_lossy(s);
    let mut shown: String = text.chars().take(MAX).collect();
    if text.chars().nth(MAX).is_some() {
        shown.push('…');
    }
    format!("{shown:?}")
}

/// The version tag a record must begin with, and the stem that marks a near miss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionTag {
    /// The tag as the ABNF spells it, case-sensitive: `v=STSv1` or `v=TLSRPTv1`.
    pub literal: &'static str,
    /// The start of the tag's value that shows the publisher meant this protocol, matched
    /// without regard to case: `STS` or `TLSRPT`.
    pub stem: &'static str,
}

/// How a record begins relative to its [`VersionTag`].
///
/// Both RFCs discard records "that do not begin with" the literal tag followed by `;`
/// (RFC 8461 §3.1, RFC 8460 §3). Only [`VersionPrefix::Exact`] passes that test; the other
/// non-foreign values are records the publisher evidently meant as this protocol, which
/// a census reports as broken rather than as absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionPrefix {
    /// Begins with the literal tag and `;`: `v=STSv1;`.
    Exact,
    /// The tag, whitespace, then `;` (`v=STSv1 ;`): allowed by the ABNF's `*WSP ";"`, but
    /// not the literal prefix the selection step tests for.
    WspBeforeDelimiter,
    /// The tag followed by the end of the record or by something other than a delimiter
    /// (`v=STSv1`, `v=STSv1 id=1`, `v=STSv1,id=1`).
    MissingDelimiter,
    /// A near miss of the tag: another case (`V=STSv1`, `v=stsv1`), spaces around `=`,
    /// leading whitespace or quotes, or another version (`v=STSv2`).
    Variant,
    /// The tag appears, but as a later field (`id=1; v=STSv1`).
    NotFirst,
    /// Nothing suggests this protocol: another record sharing the name (SPF, verification
    /// tokens, ...).
    Foreign,
}

/// Decides how `record` begins relative to `tag`. See [`VersionPrefix`].
pub fn classify_version_prefix(record: &[u8], tag: &VersionTag) -> VersionPrefix {
    let literal = tag.literal.as_bytes();
    if let Some(rest) = record.strip_prefix(literal) {
        let after_wsp = trim_wsp_start(rest);
        return match (rest.first(), after_wsp.first()) {
            (Some(b';'), _) => VersionPrefix::Exact,
            (Some(b' ' | b'\t'), Some(b';')) => VersionPrefix::WspBeforeDelimiter,
            // `v=STSv10;` or `v=STSv1.1;`: the version token continues, so it is another
            // version, not a missing delimiter.
            (Some(&b), _) if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') => {
                VersionPrefix::Variant
            }
            _ => VersionPrefix::MissingDelimiter,
        };
    }
    if loose_tag_match(record, tag, true) {
        return VersionPrefix::Variant;
    }
    let later = record
        .split(|&b| b == b';')
        .skip(1)
        .any(|field| loose_tag_match(field, tag, false));
    if later {
        VersionPrefix::NotFirst
    } else {
        VersionPrefix::Foreign
    }
}

/// `v` `=` stem, ignoring case, whitespace around `=`, leading whitespace and (when
/// `allow_quote`) leading `"` left over from zone-file quoting.
fn loose_tag_match(s: &[u8], tag: &VersionTag, allow_quote: bool) -> bool {
    let mut s = trim_wsp_start(s);
    if allow_quote {
        while let Some(rest) = s.strip_prefix(b"\"") {
            s = trim_wsp_start(rest);
        }
    }
    let Some(rest) = s.strip_prefix(b"v").or_else(|| s.strip_prefix(b"V")) else {
        return false;
    };
    let Some(rest) = trim_wsp_start(rest).strip_prefix(b"=") else {
        return false;
    };
    let value = trim_wsp_start(rest);
    let stem = tag.stem.as_bytes();
    value
        .get(..stem.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(stem))
}

/// A departure from `1*(field-delim field) [field-delim]` found while splitting fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DelimiterProblem {
    /// Text other than whitespace between the version and the first `;`.
    MissingDelimiter,
    /// Two delimiters with no field between them (`;;`); `position` counts fields from 1.
    EmptyField {
        /// Which field (1-based, after the version) is empty.
        position: usize,
    },
    /// Whitespace after the last field that is not followed by `;`: the ABNF lets
    /// whitespace appear only around a `;`.
    TrailingWhitespace,
}

impl fmt::Display for DelimiterProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DelimiterProblem::MissingDelimiter => f.write_str("the version is not followed by ';'"),
            DelimiterProblem::EmptyField { position } => {
                write!(f, "field {position} is empty (two ';' in a row)")
            }
            DelimiterProblem::TrailingWhitespace => {
                f.write_str("whitespace after the last field without a following ';'")
            }
        }
    }
}

/// The fields of a record after its version tag, and any delimiter problems.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldList<'a> {
    /// Each field with its surrounding delimiter whitespace removed, in record order.
    pub fields: Vec<&'a [u8]>,
    /// Delimiter problems, in record order.
    pub problems: Vec<DelimiterProblem>,
}

/// Splits what follows the version tag into fields.
///
/// Fields are separated by `*WSP ";" *WSP`; one trailing delimiter is allowed. A value
/// cannot contain `;` in either record (MTA-STS values exclude it, TLS-RPT URIs must
/// percent-encode it), so splitting on `;` first is exact.
pub fn split_fields(after_version: &[u8]) -> FieldList<'_> {
    let mut list = FieldList::default();
    let mut pieces = after_version.split(|&b| b == b';');
    // Before the first `;`: only the delimiter's leading whitespace may appear.
    if let Some(head) = pieces.next()
        && !trim_wsp(head).is_empty()
    {
        list.problems.push(DelimiterProblem::MissingDelimiter);
    }
    let pieces: Vec<&[u8]> = pieces.collect();
    let last = pieces.len().saturating_sub(1);
    for (i, piece) in pieces.iter().enumerate() {
        let field = trim_wsp(piece);
        if field.is_empty() {
            // The last piece may be empty: that is the optional trailing delimiter.
            if i != last {
                list.problems
                    .push(DelimiterProblem::EmptyField { position: i + 1 });
            }
            continue;
        }
        if i == last && trim_wsp_end(piece).len() != piece.len() {
            list.problems.push(DelimiterProblem::TrailingWhitespace);
        }
        list.fields.push(field);
    }
    list
}

/// Splits a field at its first `=` into name and value.
pub fn split_name_value(field: &[u8]) -> Option<(&[u8], &[u8])> {
    let eq = field.iter().position(|&b| b == b'=')?;
    Some((field.get(..eq)?, field.get(eq + 1..)?))
}

/// Why an extension field does not match `ext-name "=" ext-value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExtensionError {
    /// The field has no `=`.
    NoEquals,
    /// Nothing before `=`.
    EmptyName,
    /// The name is over 32 characters.
    NameTooLong {
        /// Characters in the name.
        len: usize,
    },
    /// The name does not start with a letter or digit, or has a character outside
    /// letters, digits, `_`, `-`, `.`.
    BadNameChar {
        /// The offending byte.
        byte: u8,
    },
    /// Nothing after `=`.
    EmptyValue,
    /// The value has a space, control character, `=`, `;` or non-ASCII byte.
    BadValueChar {
        /// The offending byte.
        byte: u8,
    },
}

impl fmt::Display for ExtensionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtensionError::NoEquals => f.write_str("not of the form name=value"),
            ExtensionError::EmptyName => f.write_str("empty name before '='"),
            ExtensionError::NameTooLong { len } => {
                write!(f, "name is {len} characters long, over 32")
            }
            ExtensionError::BadNameChar { byte } => write!(
                f,
                "name has {} (only letters, digits, '_', '-', '.', starting with a letter or digit)",
                describe_byte(*byte)
            ),
            ExtensionError::EmptyValue => f.write_str("empty value after '='"),
            ExtensionError::BadValueChar { byte } => write!(
                f,
                "value has {} (no spaces, controls, '=', ';' or non-ASCII)",
                describe_byte(*byte)
            ),
        }
    }
}

/// Names one byte for a detail message: `'x'` when printable, else its hex value.
pub fn describe_byte(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else if b == b' ' {
        "a space".to_owned()
    } else {
        format!("byte 0x{b:02x}")
    }
}

/// `true` if `b` may appear in an extension value: `%x21-3A / %x3C / %x3E-7E`.
pub fn is_ext_value_char(b: u8) -> bool {
    matches!(b, 0x21..=0x3a | 0x3c | 0x3e..=0x7e)
}

/// Checks an extension name: `(ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")`.
pub fn check_ext_name(name: &[u8]) -> Result<(), ExtensionError> {
    let Some((&first, rest)) = name.split_first() else {
        return Err(ExtensionError::EmptyName);
    };
    if !first.is_ascii_alphanumeric() {
        return Err(ExtensionError::BadNameChar { byte: first });
    }
    if let Some(&byte) = rest
        .iter()
        .find(|&&b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')))
    {
        return Err(ExtensionError::BadNameChar { byte });
    }
    if name.len() > 32 {
        return Err(ExtensionError::NameTooLong { len: name.len() });
    }
    Ok(())
}

/// Checks an extension value: `1*(%x21-3A / %x3C / %x3E-7E)`.
pub fn check_ext_value(value: &[u8]) -> Result<(), ExtensionError> {
    if value.is_empty() {
        return Err(ExtensionError::EmptyValue);
    }
    match value.iter().find(|&&b| !is_ext_value_char(b)) {
        Some(&byte) => Err(ExtensionError::BadValueChar { byte }),
        None => Ok(()),
    }
}

/// Checks a whole extension field and returns its name and value.
pub fn parse_extension(field: &[u8]) -> Result<(&[u8], &[u8]), ExtensionError> {
    let (name, value) = split_name_value(field).ok_or(ExtensionError::NoEquals)?;
    check_ext_name(name)?;
    check_ext_value(value)?;
    Ok((name, value))
}

/// Bytes known to be ASCII (checked by the caller's grammar) as an owned `String`.
pub(crate) fn ascii_string(s: &[u8]) -> String {
    String::from_utf8_lossy(s).into_owned()
}

/// Prefixes each detail with the record's position when the RRset has several records.
pub(crate) fn label<C: crate::finding::FailureClass>(
    findings: Vec<crate::finding::Finding<C>>,
    index: usize,
    total: usize,
) -> impl Iterator<Item = crate::finding::Finding<C>> {
    findings.into_iter().map(move |mut f| {
        if total > 1 {
            f.detail = format!("TXT record {} of {total}: {}", index + 1, f.detail);
        }
        f
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STS: VersionTag = VersionTag {
        literal: "v=STSv1",
        stem: "STS",
    };

    #[test]
    fn join_has_no_separator() {
        let strings: [&[u8]; 3] = [b"v=STSv1;", b" id=1", b"23;"];
        assert_eq!(join_character_strings(&strings), b"v=STSv1; id=123;");
        let none: [&[u8]; 0] = [];
        assert!(join_character_strings(&none).is_empty());
    }

    #[test]
    fn version_prefixes() {
        use VersionPrefix::*;
        let cases: &[(&[u8], VersionPrefix)] = &[
            (b"v=STSv1; id=1", Exact),
            (b"v=STSv1;", Exact),
            (b"v=STSv1 ; id=1", WspBeforeDelimiter),
            (b"v=STSv1\t;id=1", WspBeforeDelimiter),
            (b"v=STSv1", MissingDelimiter),
            (b"v=STSv1 id=1", MissingDelimiter),
            (b"v=STSv1,id=1", MissingDelimiter),
            (b"v=STSv10;", Variant),
            (b"V=STSv1;", Variant),
            (b"v=stsv1;", Variant),
            (b"v = STSv1;", Variant),
            (b" v=STSv1;", Variant),
            (b"\"v=STSv1; id=1\"", Variant),
            (b"v=STSv2; id=1", Variant),
            (b"id=1; v=STSv1", NotFirst),
            (b"v=spf1 -all", Foreign),
            (b"google-site-verification=abc", Foreign),
            (b"", Foreign),
            (b"v", Foreign),
        ];
        for (record, want) in cases {
            assert_eq!(
                classify_version_prefix(record, &STS),
                *want,
                "{}",
                show(record)
            );
        }
    }

    #[test]
    fn fields_split_on_delimiters() {
        let list = split_fields(b"; id=1 ;\text=a\t; ");
        assert_eq!(list.fields, [&b"id=1"[..], b"ext=a"]);
        assert!(list.problems.is_empty());

        let list = split_fields(b";id=1;;x=y");
        assert_eq!(list.fields, [&b"id=1"[..], b"x=y"]);
        assert_eq!(
            list.problems,
            [DelimiterProblem::EmptyField { position: 2 }]
        );

        let list = split_fields(b"; id=1 ");
        assert_eq!(list.problems, [DelimiterProblem::TrailingWhitespace]);

        let list = split_fields(b" id=1");
        assert!(list.fields.is_empty());
        assert_eq!(list.problems, [DelimiterProblem::MissingDelimiter]);

        let list = split_fields(b";");
        assert!(list.fields.is_empty() && list.problems.is_empty());
    }

    #[test]
    fn extension_grammar() {
        assert!(parse_extension(b"a=b").is_ok());
        assert!(parse_extension(b"a_b-c.d=x:y<z>~").is_ok());
        assert!(parse_extension(&[b"a".repeat(32), b"=1".to_vec()].concat()).is_ok());
        assert_eq!(
            parse_extension(&[b"a".repeat(33), b"=1".to_vec()].concat()),
            Err(ExtensionError::NameTooLong { len: 33 })
        );
        assert_eq!(parse_extension(b"ab"), Err(ExtensionError::NoEquals));
        assert_eq!(parse_extension(b"=b"), Err(ExtensionError::EmptyName));
        assert_eq!(
            parse_extension(b"_a=b"),
            Err(ExtensionError::BadNameChar { byte: b'_' })
        );
        assert_eq!(parse_extension(b"a="), Err(ExtensionError::EmptyValue));
        assert_eq!(
            parse_extension(b"a=b=c"),
            Err(ExtensionError::BadValueChar { byte: b'=' })
        );
        assert_eq!(
            parse_extension(b"a=b c"),
            Err(ExtensionError::BadValueChar { byte: b' ' })
        );
        assert_eq!(
            parse_extension("a=é".as_bytes()),
            Err(ExtensionError::BadValueChar { byte: 0xc3 })
        );
    }

    #[test]
    fn trimming_and_display_helpers() {
        assert_eq!(trim_wsp(b" \t a b\t "), b"a b");
        assert_eq!(trim_wsp(b" \t"), b"");
        assert_eq!(first_non_ascii(b"ab\xffc"), Some((2, 0xff)));
        assert_eq!(first_non_ascii(b"abc"), None);
        assert_eq!(show(b"a\"b"), "\"a\\\"b\"");
        assert!(show(&[b'x'; 200]).ends_with("…\""));
        assert_eq!(describe_byte(b' '), "a space");
        assert_eq!(describe_byte(b'='), "'='");
        assert_eq!(describe_byte(0x07), "byte 0x07");
    }
}
