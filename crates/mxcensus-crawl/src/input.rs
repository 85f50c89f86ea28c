//! Reading the input list: Tranco-style CSV (`rank,domain`), a plain list, or standard
//! input, streamed line by line.
//!
//! Every line ends in exactly one place: an accepted [`InputDomain`], an [`InputReject`]
//! (a row of the `input_errors` table, with the line number and a reason code), or a
//! counted blank/comment line. Nothing is dropped silently. Names are normalised as
//! DESIGN.md's `domain` column requires: lowercase A-labels without the trailing dot.
//!
//! Memory: the duplicate check keeps 16 bytes per accepted domain of this shard (a
//! 128-bit digest), so a 1M-domain shard costs about 20 MB; sharding divides it.

use std::collections::HashSet;
use std::io::BufRead;

use mxcensus_proto::dnsname::{DomainNameError, normalize_host};

/// Lines longer than this are not domain names (253 octets, plus a rank and slack).
pub const MAX_LINE: usize = 1024;

/// How to read the lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InputFormat {
    /// Decide from the first non-blank, non-comment line: `digits,` means Tranco.
    #[default]
    Auto,
    /// `rank,domain` per line (Tranco, Umbrella, Majestic after cutting columns).
    Tranco,
    /// One domain per line.
    Plain,
}

/// An accepted input domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputDomain {
    /// 1-based line number in the input.
    pub line: u64,
    /// Rank from the input, when it had one.
    pub rank: Option<u64>,
    /// Normalised domain: lowercase A-labels, no trailing dot.
    pub domain: String,
}

/// Why a line was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputErrorKind {
    /// The line is not valid UTF-8.
    #[error("line is not valid UTF-8")]
    NotUtf8,
    /// The line is over [`MAX_LINE`] bytes.
    #[error("line is over {MAX_LINE} bytes")]
    LineTooLong,
    /// A Tranco line whose rank is not a positive integer.
    #[error("rank {0:?} is not a positive integer")]
    BadRank(String),
    /// A Tranco line with no domain after the rank.
    #[error("no domain after the rank")]
    MissingDomain,
    /// More fields than `rank,domain`.
    #[error("more than two comma-separated fields")]
    ExtraFields,
    /// A URL or e-mail address rather than a domain.
    #[error("a URL or address, not a domain name: {0:?}")]
    NotADomain(String),
    /// A name with a single label (a TLD or a bare host).
    #[error("single-label name {0:?} is not a registrable mail domain")]
    SingleLabel(String),
    /// The name breaks host-name syntax.
    #[error("invalid domain name: {0}")]
    BadName(#[from] DomainNameError),
    /// The same normalised domain appeared on an earlier line.
    #[error("duplicate of line {first_line}")]
    Duplicate {
        /// Line where the domain was first accepted.
        first_line: u64,
    },
}

impl InputErrorKind {
    /// Stable reason code stored in the `input_errors` table.
    pub fn code(&self) -> &'static str {
        match self {
            InputErrorKind::NotUtf8 => "not_utf8",
            InputErrorKind::LineTooLong => "line_too_long",
            InputErrorKind::BadRank(_) => "bad_rank",
            InputErrorKind::MissingDomain => "missing_domain",
            InputErrorKind::ExtraFields => "extra_fields",
            InputErrorKind::NotADomain(_) => "not_a_domain",
            InputErrorKind::SingleLabel(_) => "single_label",
            InputErrorKind::BadName(_) => "bad_name",
            InputErrorKind::Duplicate { .. } => "duplicate",
        }
    }
}

/// A rejected line: a row of `input_errors`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputReject {
    /// 1-based line number.
    pub line: u64,
    /// The line as read (lossy UTF-8, capped at [`MAX_LINE`] bytes).
    pub raw: String,
    /// Why it was rejected.
    pub kind: InputErrorKind,
}

/// One line's fate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputItem {
    /// A domain to crawl (in this shard).
    Domain(InputDomain),
    /// A rejected line.
    Reject(InputReject),
}

/// Counts kept while reading, for the manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputCounts {
    /// Lines read.
    pub lines: u64,
    /// Blank lines and `#` comments.
    pub blank_or_comment: u64,
    /// Header lines (`rank,domain`) skipped.
    pub headers: u64,
    /// Valid domains that belong to other shards.
    pub other_shards: u64,
    /// Domains accepted for this shard.
    pub accepted: u64,
    /// Lines rejected.
    pub rejected: u64,
}

/// Which slice of the input this run owns (`--shard i/N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 0-based index.
    pub index: u32,
    /// Number of shards (>= 1).
    pub count: u32,
}

impl Shard {
    /// The whole input.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parses `i/N` (0 <= i < N).
    pub fn parse(s: &str) -> Option<Shard> {
        let (i, n) = s.split_once('/')?;
        let index: u32 = i.trim().parse().ok()?;
        let count: u32 = n.trim().parse().ok()?;
        (count >= 1 && index < count).then_some(Shard { index, count })
    }

    /// Whether `domain` (normalised) belongs to this shard.
    pub fn owns(&self, domain: &str) -> bool {
        self.count <= 1 || shard_of(domain, self.count) == self.index
    }
}

/// The shard of a normalised domain: the first 8 bytes of its SHA-256, big-endian, modulo
/// `count`. Stable across machines, versions and runs, so any scheduler can split work.
pub fn shard_of(domain: &str, count: u32) -> u32 {
    if count <= 1 {
        return 0;
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, domain.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    (u64::from_be_bytes(first) % u64::from(count)) as u32
}

fn key_of(domain: &str) -> [u8; 16] {
    let digest = ring::digest::digest(&ring::digest::SHA256, domain.as_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest.as_ref()[..16]);
    key
}

/// Streams an input list, one [`InputItem`] per domain or rejected line.
pub struct InputReader<R> {
    reader: R,
    format: InputFormat,
    shard: Shard,
    line_no: u64,
    buf: Vec<u8>,
    seen: Seen,
    /// A failure of the on-disk seen set, reported by the next `next()`.
    seen_error: Option<std::io::Error>,
    counts: InputCounts,
}

/// The domains seen so far, with their first line.
enum Seen {
    /// In memory, by a 128-bit fingerprint (small inputs: `check`, tests).
    Memory(std::collections::HashMap<[u8; 16], u64>),
    /// On disk, by the domain itself (exact): memory does not grow with the input.
    Disk(crate::spill::DiskMap),
}

impl Seen {
    /// Records `domain` at `line` unless seen; returns the first line if seen.
    fn first_line(&mut self, domain: &str, line: u64) -> std::io::Result<Option<u64>> {
        match self {
            Seen::Memory(m) => match m.entry(key_of(domain)) {
                std::collections::hash_map::Entry::Occupied(e) => Ok(Some(*e.get())),
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(line);
                    Ok(None)
                }
            },
            Seen::Disk(m) => Ok(m.insert(domain.as_bytes(), &line.to_le_bytes())?.map(|v| {
                let mut b = [0u8; 8];
                let n = v.len().min(8);
                b[..n].copy_from_slice(&v[..n]);
                u64::from_le_bytes(b)
            })),
        }
    }
}

impl<R: BufRead> InputReader<R> {
    /// Reads `reader` in `format`, keeping only domains of `shard`.
    pub fn new(reader: R, format: InputFormat, shard: Shard) -> Self {
        InputReader {
            reader,
            format,
            shard,
            line_no: 0,
            buf: Vec::with_capacity(256),
            seen: Seen::Memory(Default::default()),
            seen_error: None,
            counts: InputCounts::default(),
        }
    }

    /// Keeps the seen domains in `map` (exact, on disk) instead of memory. `map` may
    /// already hold domains (e.g. done before a resume, with their line as 8 bytes
    /// little-endian): a later line with one of them is a duplicate. Call before reading.
    pub fn with_seen_map(mut self, map: crate::spill::DiskMap) -> Self {
        self.seen = Seen::Disk(map);
        self
    }

    /// Marks domains as already seen (e.g. done before a resume), so that a later line
    /// with one of them is reported as a duplicate rather than crawled twice.
    pub fn preload_seen(
        &mut self,
        domains: impl IntoIterator<Item = (String, u64)>,
    ) -> std::io::Result<()> {
        for (d, line) in domains {
            self.seen.first_line(&d, line)?;
        }
        Ok(())
    }

    /// Counts so far.
    pub fn counts(&self) -> &InputCounts {
        &self.counts
    }

    /// The format in use (resolved once `Auto` has seen a line).
    pub fn format(&self) -> InputFormat {
        self.format
    }

    /// Reads one raw line into `self.buf`, capped; returns (bytes read, over cap).
    fn read_line(&mut self) -> std::io::Result<Option<bool>> {
        self.buf.clear();
        let mut too_long = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok(if self.buf.is_empty() && !too_long {
                    None
                } else {
                    Some(too_long)
                });
            }
            let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..i], Some(i + 1)),
                None => (available, None),
            };
            let room = MAX_LINE.saturating_sub(self.buf.len());
            if chunk.len() > room {
                too_long = true;
            }
            self.buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
            let used = done.unwrap_or(available.len());
            self.reader.consume(used);
            if done.is_some() {
                return Ok(Some(too_long));
            }
        }
    }

    fn reject(&mut self, kind: InputErrorKind) -> InputItem {
        self.counts.rejected += 1;
        InputItem::Reject(InputReject {
            line: self.line_no,
            raw: String::from_utf8_lossy(&self.buf).into_owned(),
            kind,
        })
    }

    /// Judges the current line; `None` for blank/comment/header/other-shard lines.
    fn judge(&mut self, too_long: bool) -> Option<InputItem> {
        if too_long {
            return Some(self.reject(InputErrorKind::LineTooLong));
        }
        let Ok(text) = std::str::from_utf8(&self.buf) else {
            return Some(self.reject(InputErrorKind::NotUtf8));
        };
        let line = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
        if line.is_empty() || line.starts_with('#') {
            self.counts.blank_or_comment += 1;
            return None;
        }
        if self.format == InputFormat::Auto {
            let first = line.split(',').next().unwrap_or("");
            let is_rank = !first.is_empty() && first.trim().bytes().all(|b| b.is_ascii_digit());
            let is_header = line.eq_ignore_ascii_case("rank,domain");
            self.format = if is_rank || is_header {
                InputFormat::Tranco
            } else {
                InputFormat::Plain
            };
        }
        let (rank, name) = match self.format {
            InputFormat::Tranco => {
                let mut fields = line.split(',');
                let rank_text = fields.next().unwrap_or("").trim();
                let name = fields.next().map(str::trim);
                if fields.next().is_some() {
                    return Some(self.reject(InputErrorKind::ExtraFields));
                }
                if line.eq_ignore_ascii_case("rank,domain") {
                    self.counts.headers += 1;
                    return None;
                }
                let rank = match rank_text.parse::<u64>() {
                    Ok(r) if r > 0 => r,
                    _ => {
                        return Some(self.reject(InputErrorKind::BadRank(rank_text.to_owned())));
                    }
                };
                match name {
                    Some(n) if !n.is_empty() => (Some(rank), n.to_owned()),
                    _ => return Some(self.reject(InputErrorKind::MissingDomain)),
                }
            }
            InputFormat::Plain | InputFormat::Auto => (None, line.to_owned()),
        };
        if name.contains("://") || name.contains('/') || name.contains('@') || name.contains(':') {
            return Some(self.reject(InputErrorKind::NotADomain(name)));
        }
        let domain = match normalize_host(&name) {
            Ok(d) => d,
            Err(e) => return Some(self.reject(InputErrorKind::BadName(e))),
        };
        if !domain.contains('.') {
            return Some(self.reject(InputErrorKind::SingleLabel(domain)));
        }
        if !self.shard.owns(&domain) {
            self.counts.other_shards += 1;
            return None;
        }
        let line_no = self.line_no;
        match self.seen.first_line(&domain, line_no) {
            Err(e) => {
                self.seen_error = Some(e);
                None
            }
            Ok(Some(first_line)) => Some(self.reject(InputErrorKind::Duplicate { first_line })),
            Ok(None) => {
                self.counts.accepted += 1;
                Some(InputItem::Domain(InputDomain {
                    line: line_no,
                    rank,
                    domain,
                }))
            }
        }
    }
}

impl<R: BufRead> Iterator for InputReader<R> {
    type Item = std::io::Result<InputItem>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let too_long = match self.read_line() {
                Ok(Some(t)) => t,
                Ok(None) => return None,
                Err(e) => return Some(Err(e)),
            };
            self.line_no += 1;
            self.counts.lines += 1;
            let item = self.judge(too_long);
            if let Some(e) = self.seen_error.take() {
                return Some(Err(e));
            }
            if let Some(item) = item {
                return Some(Ok(item));
            }
        }
    }
}

/// Distinct domains in a set, for tests and small inputs.
pub fn distinct(items: &[InputItem]) -> HashSet<&str> {
    items
        .iter()
        .filter_map(|i| match i {
            InputItem::Domain(d) => Some(d.domain.as_str()),
            InputItem::Reject(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn read(input: &[u8], format: InputFormat, shard: Shard) -> (Vec<InputItem>, InputCounts) {
        let mut r = InputReader::new(input, format, shard);
        let items: Vec<_> = r.by_ref().map(|i| i.expect("io")).collect();
        (items, r.counts().clone())
    }

    fn codes(items: &[InputItem]) -> Vec<(u64, &'static str)> {
        items
            .iter()
            .filter_map(|i| match i {
                InputItem::Reject(r) => Some((r.line, r.kind.code())),
                InputItem::Domain(_) => None,
            })
            .collect()
    }

    #[test]
    fn tranco_lines_are_normalised_and_junk_recorded() {
        let input = "1,Google.COM\n2,bücher.de.\n\n# comment\n3,\nx,foo.com\n4,a,b\n5,http://x.com/\n6,localhost\n7,google.com\n8,bad_name.com\n9,192.0.2.1\n10,  spaced.org  \r\n";
        let (items, counts) = read(input.as_bytes(), InputFormat::Auto, Shard::ALL);
        let domains: Vec<_> = items
            .iter()
            .filter_map(|i| match i {
                InputItem::Domain(d) => Some((d.line, d.rank, d.domain.as_str())),
                _ => None,
            })
            .collect();
        assert_eq!(
            domains,
            [
                (1, Some(1), "google.com"),
                (2, Some(2), "xn--bcher-kva.de"),
                (13, Some(10), "spaced.org")
            ]
        );
        assert_eq!(
            codes(&items),
            [
                (5, "missing_domain"),
                (6, "bad_rank"),
                (7, "extra_fields"),
                (8, "not_a_domain"),
                (9, "single_label"),
                (10, "duplicate"),
                (11, "bad_name"),
                (12, "bad_name"),
            ]
        );
        assert_eq!(counts.lines, 13);
        assert_eq!(counts.blank_or_comment, 2);
        assert_eq!(
            counts.accepted + counts.rejected + counts.blank_or_comment,
            13
        );
        let dup = items.iter().find_map(|i| match i {
            InputItem::Reject(r) if r.kind.code() == "duplicate" => Some(r),
            _ => None,
        });
        assert_eq!(
            dup.map(|r| (&r.kind, r.raw.as_str())),
            Some((&InputErrorKind::Duplicate { first_line: 1 }, "7,google.com"))
        );
    }

    #[test]
    fn plain_list_header_long_and_binary_lines() {
        let mut input = b"rank,domain\n1,a.org\n".to_vec();
        let (items, counts) = read(&input, InputFormat::Auto, Shard::ALL);
        assert_eq!(counts.headers, 1);
        assert_eq!(distinct(&items).len(), 1);

        input = b"example.org\nexample.net.\n".to_vec();
        input.extend_from_slice(&[b'a'; 5000]);
        input.extend_from_slice(b"\n\xff\xfe.com\nlast.example\n");
        let (items, _) = read(&input, InputFormat::Auto, Shard::ALL);
        assert_eq!(codes(&items), [(3, "line_too_long"), (4, "not_utf8")]);
        assert_eq!(distinct(&items).len(), 3);
    }

    #[test]
    fn shards_partition_the_input() {
        let input: String = (0..2000)
            .map(|i| format!("{},d{i}.example.org\n", i + 1))
            .collect();
        let mut total = 0;
        let mut all = HashSet::new();
        for index in 0..4 {
            let (items, _) = read(
                input.as_bytes(),
                InputFormat::Auto,
                Shard { index, count: 4 },
            );
            let set = distinct(&items);
            assert!(set.len() > 350, "shards should be balanced: {}", set.len());
            total += set.len();
            all.extend(set.into_iter().map(str::to_owned));
        }
        assert_eq!(total, 2000);
        assert_eq!(all.len(), 2000);
        assert_eq!(Shard::parse("3/4"), Some(Shard { index: 3, count: 4 }));
        assert_eq!(Shard::parse("4/4"), None);
        assert_eq!(Shard::parse("0/0"), None);
        // The hash is fixed: a change would move domains between shards of old studies.
        assert_eq!(shard_of("example.com", 1000), shard_of("example.com", 1000));
        assert_eq!(shard_of("example.com", 1), 0);
    }

    #[test]
    fn preloaded_domains_are_duplicates() {
        let mut r = InputReader::new(&b"a.org\nb.org\n"[..], InputFormat::Plain, Shard::ALL);
        r.preload_seen([("a.org".to_owned(), 1)]).unwrap();
        let items: Vec<_> = r.map(|i| i.expect("io")).collect();
        assert_eq!(codes(&items), [(1, "duplicate")]);
    }

    proptest! {
        #[test]
        fn every_line_is_accounted_for(lines in proptest::collection::vec(".{0,40}", 0..60)) {
            let input = lines.join("\n");
            let (items, counts) = read(input.as_bytes(), InputFormat::Auto, Shard::ALL);
            prop_assert_eq!(counts.accepted + counts.rejected, items.len() as u64);
            prop_assert_eq!(
                counts.lines,
                counts.accepted + counts.rejected + counts.blank_or_comment + counts.headers
            );
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let (items, counts) = read(&bytes, InputFormat::Auto, Shard { index: 1, count: 3 });
            prop_assert!(items.len() as u64 <= counts.lines);
        }
    }
}

#[cfg(test)]
mod disk_seen_tests {
    use super::*;

    #[test]
    fn disk_seen_map_catches_every_duplicate_and_only_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let mut map = crate::spill::DiskMap::create(dir.path(), "seen").unwrap();
        // A domain committed before a resume, at line 3.
        map.insert(b"done.example", &3u64.to_le_bytes()).unwrap();
        let mut input = String::new();
        for i in 0..5000 {
            input.push_str(&format!("d{i}.example\n"));
        }
        input.push_str("D17.example.\ndone.example\nd4999.example\nnew.example\n");
        let mut r =
            InputReader::new(input.as_bytes(), InputFormat::Plain, Shard::ALL).with_seen_map(map);
        let items: Vec<_> = r.by_ref().map(|i| i.unwrap()).collect();
        let dups: Vec<(u64, u64)> = items
            .iter()
            .filter_map(|i| match i {
                InputItem::Reject(InputReject {
                    line,
                    kind: InputErrorKind::Duplicate { first_line },
                    ..
                }) => Some((*line, *first_line)),
                _ => None,
            })
            .collect();
        assert_eq!(dups, [(5001, 18), (5002, 3), (5003, 5000)]);
        assert_eq!(r.counts().accepted, 5001);
    }
}
