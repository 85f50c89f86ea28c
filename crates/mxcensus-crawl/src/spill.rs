//! Exact, disk-backed maps for the once-per-snapshot dedupe state: the input's seen
//! domains, the MX hosts' DNS facts and the (MX host, IP) probe facts.
//!
//! These grow with the input (about one entry per domain, and one host and one probe per
//! three domains in a typical list), so keeping them in memory made peak RSS grow with
//! the list. A [`DiskMap`] keeps every entry in two files (an open-addressing slot table
//! and an append-only record log) read and written with positioned I/O: the entries live
//! in the kernel's page cache, not in the process, and the process's memory is the same
//! for 100k and 1M domains. [`HotSet`] keeps the recently used entries decoded in memory,
//! with a fixed bound.
//!
//! A lookup is exact: a slot holds a 128-bit hash of the key and the record holds the key
//! itself, which is compared byte for byte, so a hash collision can neither merge two
//! keys (a false "duplicate") nor split one.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::hash::Hash;
use std::io;
use std::net::IpAddr;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Bytes per slot: hash (16), record offset + 1 (8, 0 = empty), key length (4), value
/// length (4).
const SLOT: u64 = 32;
/// Slots of a new map (grows by doubling at half load).
const INITIAL_SLOTS: u64 = 1 << 12;

/// An exact map from byte keys to byte values, kept on disk. Entries are never removed
/// or replaced (first writer wins, as the dedupe needs).
#[derive(Debug)]
pub struct DiskMap {
    dir: PathBuf,
    name: String,
    slots: File,
    log: File,
    log_len: u64,
    capacity: u64,
    len: u64,
    generation: u32,
}

struct Slot {
    hash: [u8; 16],
    offset: u64,
    key_len: u32,
    value_len: u32,
}

impl Slot {
    fn read(file: &File, index: u64) -> io::Result<Slot> {
        let mut b = [0u8; SLOT as usize];
        file.read_exact_at(&mut b, index * SLOT)?;
        let (hash, rest) = b.split_at(16);
        let (offset, rest) = rest.split_at(8);
        let (key_len, value_len) = rest.split_at(4);
        Ok(Slot {
            hash: hash.try_into().unwrap_or_default(),
            offset: u64::from_le_bytes(offset.try_into().unwrap_or_default()),
            key_len: u32::from_le_bytes(key_len.try_into().unwrap_or_default()),
            value_len: u32::from_le_bytes(value_len.try_into().unwrap_or_default()),
        })
    }

    fn write(&self, file: &File, index: u64) -> io::Result<()> {
        let mut b = [0u8; SLOT as usize];
        b[..16].copy_from_slice(&self.hash);
        b[16..24].copy_from_slice(&self.offset.to_le_bytes());
        b[24..28].copy_from_slice(&self.key_len.to_le_bytes());
        b[28..32].copy_from_slice(&self.value_len.to_le_bytes());
        file.write_all_at(&b, index * SLOT)
    }
}

fn hash_of(key: &[u8]) -> [u8; 16] {
    let digest = ring::digest::digest(&ring::digest::SHA256, key);
    let mut h = [0u8; 16];
    h.copy_from_slice(digest.as_ref().get(..16).unwrap_or(&[0u8; 16]));
    h
}

fn start_of(hash: &[u8; 16], capacity: u64) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&hash[..8]);
    u64::from_le_bytes(b) & (capacity - 1)
}

fn too_big() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "spill key or value over 4 GiB")
}

impl DiskMap {
    /// Creates an empty map in `dir` (files `NAME.slots*` and `NAME.log`, replaced if
    /// present: the map holds the state of one run only).
    pub fn create(dir: &Path, name: &str) -> io::Result<DiskMap> {
        std::fs::create_dir_all(dir)?;
        let log = open_new(&dir.join(format!("{name}.log")))?;
        let slots = open_new(&dir.join(format!("{name}.slots0")))?;
        slots.set_len(INITIAL_SLOTS * SLOT)?;
        Ok(DiskMap {
            dir: dir.to_owned(),
            name: name.to_owned(),
            slots,
            log,
            log_len: 0,
            capacity: INITIAL_SLOTS,
            len: 0,
            generation: 0,
        })
    }

    /// Entries in the map.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Finds `key`: `Ok(value)` or `Err(free slot index)`.
    fn find(&self, key: &[u8], hash: &[u8; 16]) -> io::Result<Result<Vec<u8>, u64>> {
        let mask = self.capacity - 1;
        let mut i = start_of(hash, self.capacity);
        loop {
            let s = Slot::read(&self.slots, i)?;
            if s.offset == 0 {
                return Ok(Err(i));
            }
            if s.hash == *hash && s.key_len as usize == key.len() {
                let mut rec = vec![0u8; s.key_len as usize + s.value_len as usize];
                self.log.read_exact_at(&mut rec, s.offset - 1)?;
                if rec.get(..key.len()) == Some(key) {
                    return Ok(Ok(rec.split_off(key.len())));
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        Ok(self.find(key, &hash_of(key))?.ok())
    }

    /// Inserts `key` unless present; returns the value already there, if any (which is
    /// kept).
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> io::Result<Option<Vec<u8>>> {
        let hash = hash_of(key);
        let mut index = match self.find(key, &hash)? {
            Ok(v) => return Ok(Some(v)),
            Err(i) => i,
        };
        if (self.len + 1) * 2 > self.capacity {
            self.grow()?;
            index = match self.find(key, &hash)? {
                Ok(v) => return Ok(Some(v)),
                Err(i) => i,
            };
        }
        let key_len = u32::try_from(key.len()).map_err(|_| too_big())?;
        let value_len = u32::try_from(value.len()).map_err(|_| too_big())?;
        let mut rec = Vec::with_capacity(key.len() + value.len());
        rec.extend_from_slice(key);
        rec.extend_from_slice(value);
        self.log.write_all_at(&rec, self.log_len)?;
        Slot {
            hash,
            offset: self.log_len + 1,
            key_len,
            value_len,
        }
        .write(&self.slots, index)?;
        self.log_len += rec.len() as u64;
        self.len += 1;
        Ok(None)
    }

    /// Doubles the slot table (every key is distinct: no key comparison needed).
    fn grow(&mut self) -> io::Result<()> {
        let capacity = self.capacity * 2;
        let generation = self.generation + 1;
        let path = self.dir.join(format!("{}.slots{generation}", self.name));
        let slots = open_new(&path)?;
        slots.set_len(capacity * SLOT)?;
        let mask = capacity - 1;
        const CHUNK: u64 = 2048;
        let mut buf = vec![0u8; (CHUNK * SLOT) as usize];
        let mut first = 0;
        while first < self.capacity {
            let n = CHUNK.min(self.capacity - first);
            let bytes = buf.get_mut(..(n * SLOT) as usize).unwrap_or_default();
            self.slots.read_exact_at(bytes, first * SLOT)?;
            for raw in bytes.chunks_exact(SLOT as usize) {
                let mut hash = [0u8; 16];
                hash.copy_from_slice(&raw[..16]);
                if raw[16..24].iter().all(|b| *b == 0) {
                    continue;
                }
                let mut i = start_of(&hash, capacity);
                loop {
                    let mut off = [0u8; 8];
                    slots.read_exact_at(&mut off, i * SLOT + 16)?;
                    if off == [0u8; 8] {
                        break;
                    }
                    i = (i + 1) & mask;
                }
                slots.write_all_at(raw, i * SLOT)?;
            }
            first += n;
        }
        let old = self
            .dir
            .join(format!("{}.slots{}", self.name, self.generation));
        self.slots = slots;
        self.capacity = capacity;
        self.generation = generation;
        // The old table's pages go back to the system.
        let _ = std::fs::remove_file(old);
        Ok(())
    }
}

fn open_new(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

/// A bounded cache of recently used entries: two generations, the older one dropped
/// when the newer one is full (an approximate LRU in at most `2 × capacity` entries).
#[derive(Debug)]
pub struct HotSet<K, V> {
    young: HashMap<K, V>,
    old: HashMap<K, V>,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V: Clone> HotSet<K, V> {
    /// A cache of at most `2 × capacity` entries.
    pub fn new(capacity: usize) -> Self {
        HotSet {
            young: HashMap::new(),
            old: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// The value of `key`, refreshed as recently used.
    pub fn get<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(v) = self.young.get(key) {
            return Some(v.clone());
        }
        let (k, v) = self.old.remove_entry(key)?;
        self.insert(k, v.clone());
        Some(v)
    }

    /// Adds an entry.
    pub fn insert(&mut self, key: K, value: V) {
        if self.young.len() >= self.capacity {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(key, value);
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The key of a (MX host, IP) probe in a [`DiskMap`].
pub fn probe_key(host: &str, ip: IpAddr) -> Vec<u8> {
    let mut k = Vec::with_capacity(host.len() + 17);
    k.extend_from_slice(host.as_bytes());
    k.push(0);
    match ip {
        IpAddr::V4(a) => k.extend_from_slice(&a.octets()),
        IpAddr::V6(a) => k.extend_from_slice(&a.octets()),
    }
    k
}

/// A compact binary encoder for spilled values.
#[derive(Debug, Default)]
pub struct Enc(pub Vec<u8>);

impl Enc {
    /// A byte.
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    /// A boolean.
    pub fn bool(&mut self, v: bool) {
        self.0.push(u8::from(v));
    }
    /// An optional boolean.
    pub fn opt_bool(&mut self, v: Option<bool>) {
        self.0.push(match v {
            None => 2,
            Some(b) => u8::from(b),
        });
    }
    /// A length or count (saturating at `u32::MAX`, which no spilled value reaches).
    pub fn count(&mut self, n: usize) {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        self.0.extend_from_slice(&n.to_le_bytes());
    }
    /// Bytes, length first.
    pub fn bytes(&mut self, b: &[u8]) {
        self.count(b.len());
        self.0.extend_from_slice(b);
    }
    /// A string.
    pub fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    /// An optional string.
    pub fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
        }
    }
    /// A list of strings.
    pub fn strs<S: AsRef<str>>(&mut self, list: &[S]) {
        self.count(list.len());
        for s in list {
            self.str(s.as_ref());
        }
    }
    /// An address.
    pub fn ip(&mut self, ip: IpAddr) {
        match ip {
            IpAddr::V4(a) => {
                self.u8(4);
                self.0.extend_from_slice(&a.octets());
            }
            IpAddr::V6(a) => {
                self.u8(6);
                self.0.extend_from_slice(&a.octets());
            }
        }
    }
}

/// The decoder of [`Enc`]: `None` on malformed input, never a panic.
#[derive(Debug)]
pub struct Dec<'a>(pub &'a [u8]);

impl<'a> Dec<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    /// A byte.
    pub fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }
    /// A boolean.
    pub fn bool(&mut self) -> Option<bool> {
        match self.u8()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
    /// An optional boolean.
    pub fn opt_bool(&mut self) -> Option<Option<bool>> {
        match self.u8()? {
            0 => Some(Some(false)),
            1 => Some(Some(true)),
            2 => Some(None),
            _ => None,
        }
    }
    /// A length or count.
    pub fn count(&mut self) -> Option<usize> {
        let b = self.take(4)?;
        Some(u32::from_le_bytes(b.try_into().ok()?) as usize)
    }
    /// Bytes.
    pub fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.count()?;
        self.take(n)
    }
    /// A string.
    pub fn str(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.bytes()?).ok()
    }
    /// An optional string.
    pub fn opt_str(&mut self) -> Option<Option<&'a str>> {
        match self.u8()? {
            0 => Some(None),
            1 => Some(Some(self.str()?)),
            _ => None,
        }
    }
    /// A list of strings.
    pub fn strs(&mut self) -> Option<Vec<String>> {
        let n = self.count()?;
        let mut out = Vec::with_capacity(n.min(64));
        for _ in 0..n {
            out.push(self.str()?.to_owned());
        }
        Some(out)
    }
    /// An address.
    pub fn ip(&mut self) -> Option<IpAddr> {
        match self.u8()? {
            4 => {
                let b: [u8; 4] = self.take(4)?.try_into().ok()?;
                Some(IpAddr::from(b))
            }
            6 => {
                let b: [u8; 16] = self.take(16)?.try_into().ok()?;
                Some(IpAddr::from(b))
            }
            _ => None,
        }
    }
}

/// The `&'static str` of a code read back from a spill: codes are static strings from a
/// small fixed vocabulary, so each distinct one is leaked once (bounded by `LIMIT`; a
/// code past it, which only a damaged file could produce, reads as `unknown`).
pub fn intern(s: &str) -> &'static str {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    const LIMIT: usize = 4096;
    static CODES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let set = CODES.get_or_init(|| Mutex::new(HashSet::new()));
    let mut set = match set.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    if let Some(c) = set.get(s) {
        return c;
    }
    if set.len() >= LIMIT {
        return "unknown";
    }
    let leaked: &'static str = Box::leak(s.to_owned().into_boxed_str());
    set.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn insert_get_grow_exact() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = DiskMap::create(dir.path(), "t").unwrap();
        for i in 0..20_000u32 {
            let k = format!("d{i}.example");
            assert_eq!(m.insert(k.as_bytes(), &i.to_le_bytes()).unwrap(), None);
        }
        assert_eq!(m.len(), 20_000);
        for i in 0..20_000u32 {
            let k = format!("d{i}.example");
            assert_eq!(m.get(k.as_bytes()).unwrap(), Some(i.to_le_bytes().to_vec()));
            // First writer wins.
            assert_eq!(
                m.insert(k.as_bytes(), b"other").unwrap(),
                Some(i.to_le_bytes().to_vec())
            );
        }
        assert_eq!(m.get(b"d20000.example").unwrap(), None);
        assert_eq!(m.get(b"").unwrap(), None);
        assert_eq!(m.insert(b"", b"").unwrap(), None);
        assert_eq!(m.get(b"").unwrap(), Some(vec![]));
        // Old slot tables are removed as the map grows.
        let tables = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains(".slots")
            })
            .count();
        assert_eq!(tables, 1);
    }

    #[test]
    fn hot_set_is_bounded_and_keeps_recent() {
        let mut h = HotSet::new(4);
        for i in 0..100 {
            h.insert(i, i * 2);
            assert!(h.len() <= 8);
        }
        assert_eq!(h.get(&99), Some(198));
        assert_eq!(h.get(&0), None);
    }

    #[test]
    fn decoder_rejects_truncation() {
        let mut e = Enc::default();
        e.str("hello");
        e.ip("2001:db8::1".parse().unwrap());
        e.opt_bool(None);
        let full = e.0.clone();
        for n in 0..full.len() {
            let mut d = Dec(&full[..n]);
            let ok = d.str().is_some() && d.ip().is_some() && d.opt_bool().is_some();
            assert!(!ok, "decoded a truncated value of {n} bytes");
        }
        let mut d = Dec(&full);
        assert_eq!(d.str(), Some("hello"));
        assert_eq!(d.ip(), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(d.opt_bool(), Some(None));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn behaves_like_a_hashmap(ops in proptest::collection::vec(("[a-c]{0,3}", any::<u8>()), 0..300)) {
            let dir = tempfile::tempdir().unwrap();
            let mut m = DiskMap::create(dir.path(), "p").unwrap();
            let mut model: HashMap<String, u8> = HashMap::new();
            for (k, v) in ops {
                let expected = model.get(&k).map(|v| vec![*v]);
                model.entry(k.clone()).or_insert(v);
                prop_assert_eq!(m.insert(k.as_bytes(), &[v]).unwrap(), expected);
            }
            prop_assert_eq!(m.len(), model.len() as u64);
            for (k, v) in &model {
                prop_assert_eq!(m.get(k.as_bytes()).unwrap(), Some(vec![*v]));
            }
        }
    }
}
