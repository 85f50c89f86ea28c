//! A small world started in-process and checked from the outside with real tools: `dig`
//! through the validating Unbound, `openssl s_client -starttls smtp` (also with DANE
//! TLSA data), and `curl --cacert`. For a sample of domains covering every planted class,
//! the headline columns derived from what the servers say must equal the truth row.
//!
//! Skips (with a message) when unbound, dig, openssl or curl is missing.
#![allow(clippy::unwrap_used, clippy::print_stdout)]
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use mxcensus_simnet::population::{BadMxKind, MailKind, Population};
use mxcensus_simnet::profile::{
    BodyFault, CoverageFault, DaneFault, DnssecFault, FaultClass, FetchFault, NameserverFault,
    Profile, SmtpFault, TlsrptFault, TxtFault,
};
use mxcensus_simnet::truth::{TruthRow, pattern_matches, truth_row};
use mxcensus_simnet::world::{Ports, ResolverMode, World, WorldConfig};

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args([
            "-c",
            &format!("command -v {tool} || test -x /usr/sbin/{tool}"),
        ])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

struct Ctx {
    resolver_ip: String,
    resolver_port: String,
    smtp_port: u16,
    https_port: u16,
    ca: PathBuf,
    tmp: PathBuf,
    tls_cache: HashMap<(String, String, Option<String>), Tls>,
}

#[derive(Debug, Default)]
struct Dig {
    status: String,
    ad: bool,
    /// (type, rdata) of answer records.
    answers: Vec<(String, String)>,
}

impl Ctx {
    fn dig(&self, name: &str, rtype: &str, extra: &[&str]) -> Dig {
        let out = Command::new("dig")
            .args([&format!("@{}", self.resolver_ip), "-p", &self.resolver_port])
            .args(["+dnssec", "+time=20", "+tries=1", "+nocomments", "+nostats"])
            .args(["+comments"])
            .args(extra)
            .args([name, rtype])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut d = Dig::default();
        for line in text.lines() {
            if let Some(rest) = line.split("status: ").nth(1) {
                d.status = rest.split(',').next().unwrap_or("").to_owned();
            }
            if let Some(flags) = line.strip_prefix(";; flags:") {
                d.ad = flags
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .split_whitespace()
                    .any(|f| f == "ad");
            }
        }
        let mut in_answer = false;
        for line in text.lines() {
            if line.starts_with(";; ANSWER SECTION") {
                in_answer = true;
                continue;
            }
            if line.starts_with(";;") || line.is_empty() {
                in_answer = false;
                continue;
            }
            if in_answer {
                let f: Vec<&str> = line.split_whitespace().collect();
                if f.len() >= 5 {
                    d.answers.push((f[3].to_owned(), f[4..].join(" ")));
                }
            }
        }
        if d.status.is_empty() {
            d.status = "TIMEOUT".to_owned();
        }
        d
    }

    /// The TXT records of an answer, each with its character-strings joined, unescaped
    /// from dig's presentation form (`\DDD`, `\X`).
    fn txt_values(d: &Dig) -> Vec<Vec<u8>> {
        d.answers
            .iter()
            .filter(|(t, _)| t == "TXT")
            .map(|(_, v)| {
                let mut out = Vec::new();
                let mut chars = v.chars().peekable();
                let mut quoted = false;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => quoted = !quoted,
                        '\\' if quoted => {
                            let digits: String =
                                std::iter::from_fn(|| chars.next_if(|d| d.is_ascii_digit()))
                                    .take(3)
                                    .collect();
                            if digits.len() == 3 {
                                out.push(digits.parse::<u8>().unwrap());
                            } else if let Some(x) = chars.next() {
                                let mut buf = [0; 4];
                                out.extend_from_slice(x.encode_utf8(&mut buf).as_bytes());
                            }
                        }
                        c if quoted => {
                            let mut buf = [0; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => {}
                    }
                }
                out
            })
            .collect()
    }

    /// The first address of `host`: A (after CNAMEs) or AAAA.
    fn address(&self, host: &str) -> Option<String> {
        let a = self.dig(host, "A", &[]);
        if let Some((_, ip)) = a.answers.iter().find(|(t, _)| t == "A") {
            return Some(ip.clone());
        }
        let aaaa = self.dig(host, "AAAA", &[]);
        aaaa.answers
            .iter()
            .find(|(t, _)| t == "AAAA")
            .map(|(_, ip)| format!("[{ip}]"))
    }

    fn tls(&mut self, host: &str, addr: &str, tlsa: Option<String>) -> Tls {
        let key = (host.to_owned(), addr.to_owned(), tlsa.clone());
        if let Some(t) = self.tls_cache.get(&key) {
            return t.clone();
        }
        let mut cmd = Command::new("timeout");
        cmd.args(["20", "openssl", "s_client", "-brief", "-starttls", "smtp"])
            .args(["-connect", &format!("{addr}:{}", self.smtp_port)])
            .args(["-servername", host, "-verify_hostname", host])
            .arg("-CAfile")
            .arg(&self.ca);
        if let Some(rr) = &tlsa {
            cmd.args(["-dane_tlsa_domain", host, "-dane_tlsa_rrdata", rr]);
            // RFC 7672 §3.2.1: DANE-EE(3) is never name checked.
            cmd.arg("-dane_ee_no_namechecks");
        }
        let out = cmd.stdin(Stdio::null()).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let handshake = text.contains("CONNECTION ESTABLISHED");
        let verified = text.contains("Verification: OK");
        // openssl's name check falls back to the CN and accepts partial wildcards; MTA-STS
        // does neither (RFC 8461 §3.3, §4.2), so judge the SAN DNS-IDs here.
        let san_ok = tlsa.is_none()
            && handshake
            && verified
            && self
                .san_names(host, addr, true)
                .iter()
                .any(|n| pattern_matches(n, host));
        let t = Tls {
            handshake,
            verified: verified && (tlsa.is_some() || san_ok),
            dane_matched: text.contains("matched EE certificate")
                || (text.contains("matched TA certificate") && verified),
        };
        self.tls_cache.insert(key, t.clone());
        t
    }

    /// The subjectAltName DNS-IDs of the leaf served at `addr` for `host` (SMTP with
    /// STARTTLS, or HTTPS).
    fn san_names(&self, host: &str, addr: &str, smtp: bool) -> Vec<String> {
        let (port, starttls) = if smtp {
            (self.smtp_port, "-starttls smtp")
        } else {
            (self.https_port, "")
        };
        let script = format!(
            "timeout 20 openssl s_client {starttls} -connect {addr}:{port} -servername {host} \
             </dev/null 2>/dev/null | openssl x509 -noout -ext subjectAltName 2>/dev/null"
        );
        let out = Command::new("sh").args(["-c", &script]).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split([',', '\n'])
            .filter_map(|t| t.trim().strip_prefix("DNS:").map(str::to_owned))
            .collect()
    }

    /// Whether the SMTP server at `addr` (`ip` or `[ip6]`) greets with 220.
    fn greets(&self, addr: &str) -> bool {
        use std::io::{BufRead, BufReader};
        let target = format!("{addr}:{}", self.smtp_port);
        let Ok(sock) = target.parse::<std::net::SocketAddr>() else {
            return false;
        };
        let Ok(stream) = std::net::TcpStream::connect_timeout(&sock, Duration::from_secs(5)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(15)));
        let mut line = String::new();
        let ok = BufReader::new(&stream).read_line(&mut line).is_ok() && line.starts_with("220");
        let _ = std::io::Write::write_all(&mut &stream, b"QUIT\r\n");
        ok
    }

    /// (exit code, http code, content type, body).
    fn curl(&self, host: &str, addr: &str) -> (i32, String, String, Vec<u8>) {
        let body = self.tmp.join("body");
        let _ = std::fs::remove_file(&body);
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "5", "--cacert"])
            .arg(&self.ca)
            .args(["--resolve", &format!("{host}:{}:{addr}", self.https_port)])
            .arg("-o")
            .arg(&body)
            .args(["-w", "%{http_code} %{content_type}"])
            .arg(format!(
                "https://{host}:{}/.well-known/mta-sts.txt",
                self.https_port
            ))
            .output()
            .unwrap();
        let w = String::from_utf8_lossy(&out.stdout).into_owned();
        let (code, ctype) = w.split_once(' ').unwrap_or((&w, ""));
        (
            out.status.code().unwrap_or(-1),
            code.to_owned(),
            ctype.to_owned(),
            std::fs::read(&body).unwrap_or_default(),
        )
    }
}

#[derive(Clone, Debug, Default)]
struct Tls {
    handshake: bool,
    verified: bool,
    dane_matched: bool,
}

/// Observed headline columns (same names and values as the truth).
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    mx_status: String,
    sts_txt: String,
    sts_policy: String,
    sts_mode: Option<String>,
    sts_mx_valid: Option<String>,
    starttls: Option<String>,
    tlsrpt: String,
    dnssec: String,
    dane: Option<String>,
}

fn expected(r: &TruthRow) -> Observed {
    Observed {
        mx_status: r.mx_status.to_owned(),
        sts_txt: r.sts_txt.to_owned(),
        sts_policy: r.sts_policy.to_owned(),
        sts_mode: r.sts_mode.map(str::to_owned),
        sts_mx_valid: r.sts_mx_valid.map(str::to_owned),
        starttls: r.starttls.map(str::to_owned),
        tlsrpt: r.tlsrpt.to_owned(),
        dnssec: r.dnssec.to_owned(),
        dane: r.dane.map(str::to_owned),
    }
}

fn count(total: usize, passing: usize) -> String {
    if total > 0 && passing == total {
        "all"
    } else if passing > 0 {
        "some"
    } else {
        "none"
    }
    .to_owned()
}

/// Whether `p` is `["*."] Domain` with LDH labels (RFC 8461 §3.2, RFC 5321 §4.1.2).
fn valid_mx_pattern(p: &str) -> bool {
    let domain = p.strip_prefix("*.").unwrap_or(p);
    domain.split('.').count() >= 2
        && domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// A policy body judged by the plain rules of RFC 8461 §3.2, read leniently (lines
/// trimmed, blank lines skipped; the first of repeated fields counts).
fn judge_body(body: &str) -> Option<(String, Vec<String>)> {
    let mut version = None;
    let mut mode = None;
    let mut max_age = None;
    let mut mx = Vec::new();
    for line in body.lines() {
        let line = line.trim_matches([' ', '\t', '\r']);
        if line.is_empty() {
            continue;
        }
        let (k, v) = line.split_once(':')?;
        let v = v.trim();
        match k {
            "version" if version.is_none() => version = Some(v.to_owned()),
            "mode" if mode.is_none() => mode = Some(v.to_owned()),
            "max_age" if max_age.is_none() => {
                max_age =
                    Some((1..=10).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit()))
                        .filter(|ok| *ok)
                        .and_then(|_| v.parse::<u64>().ok());
            }
            "mx" => mx.push(v.to_owned()),
            _ => {}
        }
    }
    let mode = mode?;
    let ok = version.as_deref() == Some("STSv1")
        && ["enforce", "testing", "none"].contains(&mode.as_str())
        && max_age.is_some_and(|m| m <= 31_557_600)
        && mx.iter().all(|p| valid_mx_pattern(p))
        && (mode == "none" || !mx.is_empty());
    ok.then_some((mode, mx))
}

/// Whether a TXT record is plainly meant as `v=<tag>...` (a near miss of the literal
/// prefix counts: SPEC §A reads it as `invalid`, not `absent`).
fn meant_as(record: &[u8], tag: &str) -> bool {
    let text: String = String::from_utf8_lossy(record)
        .to_ascii_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let tag = format!("v={tag}");
    text.starts_with(&tag) || text.contains(&format!(";{tag}"))
}

/// The `sts_txt` verdict of a TXT RRset by RFC 8461 §3.1 (plain rules).
fn judge_sts_txt(values: &[Vec<u8>]) -> &'static str {
    let exact: Vec<&Vec<u8>> = values
        .iter()
        .filter(|v| v.starts_with(b"v=STSv1;"))
        .collect();
    let near = values.iter().any(|v| meant_as(v, "stsv1"));
    let record = match exact.as_slice() {
        [] if near => return "invalid",
        [] => return "absent",
        [one] => one,
        _ => return "multiple",
    };
    let Ok(text) = std::str::from_utf8(record) else {
        return "invalid";
    };
    if !text.is_ascii() {
        return "invalid";
    }
    let pieces: Vec<&str> = text["v=STSv1;".len()..].split(';').collect();
    let mut id = None;
    for (i, piece) in pieces.iter().enumerate() {
        let field = piece.trim_matches([' ', '\t']);
        if field.is_empty() {
            if i + 1 != pieces.len() {
                return "invalid";
            }
            continue;
        }
        if i + 1 == pieces.len() && field.len() != piece.trim_start_matches([' ', '\t']).len() {
            return "invalid";
        }
        let Some((name, value)) = field.split_once('=') else {
            return "invalid";
        };
        if name == "id" {
            if id.is_none() {
                id = Some(value);
            }
            continue;
        }
        let name_ok = name.len() <= 32
            && name
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
        let value_ok = !value.is_empty()
            && value
                .bytes()
                .all(|b| (0x21..=0x7e).contains(&b) && b != b'=');
        if !name_ok || !value_ok {
            return "invalid";
        }
    }
    match id {
        Some(id)
            if (1..=32).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            "valid"
        }
        _ => "invalid",
    }
}

/// The `tlsrpt` verdict of a TXT RRset by RFC 8460 §3 (plain rules).
fn judge_tlsrpt(values: &[Vec<u8>]) -> &'static str {
    let exact: Vec<&Vec<u8>> = values
        .iter()
        .filter(|v| v.starts_with(b"v=TLSRPTv1;"))
        .collect();
    let near = values.iter().any(|v| meant_as(v, "tlsrptv1"));
    let record = match exact.as_slice() {
        [] if near => return "invalid",
        [] => return "absent",
        [one] => String::from_utf8_lossy(one).into_owned(),
        _ => return "multiple",
    };
    let Some(rua) = record
        .split(';')
        .map(str::trim)
        .find_map(|f| f.strip_prefix("rua="))
    else {
        return "invalid";
    };
    let mut usable = false;
    for entry in rua.split(',').map(str::trim) {
        let Some((scheme, rest)) = entry.split_once(':') else {
            // Empty, or no scheme: not a URI (RFC 3986 §3).
            return "invalid";
        };
        if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_alphabetic()) || rest.is_empty()
        {
            return "invalid";
        }
        usable |= (scheme == "mailto" && rest.contains('@')) || scheme == "https";
    }
    if usable { "valid" } else { "invalid" }
}

fn observe(ctx: &mut Ctx, domain: &str) -> Observed {
    // DNSSEC and the MX set.
    let mx = ctx.dig(domain, "MX", &[]);
    let (mx_status, dnssec, hosts): (String, String, Vec<String>) = match mx.status.as_str() {
        "NOERROR" => {
            let targets: Vec<String> = mx
                .answers
                .iter()
                .filter(|(t, _)| t == "MX")
                .map(|(_, v)| {
                    v.split_whitespace()
                        .nth(1)
                        .unwrap_or(".")
                        .trim_end_matches('.')
                        .to_owned()
                })
                .collect();
            let dnssec = if mx.ad { "secure" } else { "insecure" }.to_owned();
            if targets.iter().any(|t| t.is_empty()) {
                ("null_mx".into(), dnssec, vec![])
            } else if targets.is_empty() {
                ("implicit".into(), dnssec, vec![domain.to_owned()])
            } else {
                ("ok".into(), dnssec, targets)
            }
        }
        _ => {
            let cd = ctx.dig(domain, "MX", &["+cd"]);
            let dnssec = if cd.status == "NOERROR" {
                "bogus"
            } else {
                "error"
            };
            ("error".into(), dnssec.into(), vec![])
        }
    };
    let failed = mx_status == "error";

    let txt = ctx.dig(&format!("_mta-sts.{domain}"), "TXT", &[]);
    let sts_txt = match txt.status.as_str() {
        "NOERROR" | "NXDOMAIN" => judge_sts_txt(&Ctx::txt_values(&txt)),
        _ => "error",
    }
    .to_owned();

    let mut policy: Option<(String, Vec<String>)> = None;
    let sts_policy = if sts_txt != "valid" {
        "not_attempted".to_owned()
    } else {
        let host = format!("mta-sts.{domain}");
        match ctx.address(&host) {
            None => "fetch_failed".to_owned(),
            Some(addr) => {
                let (exit, code, ctype, body) = ctx.curl(&host, &addr);
                let text = String::from_utf8(body.clone());
                // curl's name check falls back to the CN and may accept partial
                // wildcards; RFC 8461 §3.3 wants a SAN DNS-ID, whole-label wildcard only.
                let fetched = exit == 0
                    && code == "200"
                    && ctype.starts_with("text/plain")
                    && body.len() <= 64 * 1024
                    && text.is_ok()
                    && ctx
                        .san_names(&host, &addr, false)
                        .iter()
                        .any(|n| pattern_matches(n, &host));
                match text {
                    Ok(text) if fetched => {
                        policy = judge_body(&text);
                        if policy.is_some() { "valid" } else { "invalid" }.to_owned()
                    }
                    _ => "fetch_failed".to_owned(),
                }
            }
        }
    };

    let mut starttls_pass = 0;
    let mut sts_pass = 0;
    let mut dane_valid = 0;
    let mut dane_broken = 0;
    for host in &hosts {
        let addr = ctx.address(host);
        let tls = match &addr {
            Some(a) => ctx.tls(host, a, None),
            None => Tls::default(),
        };
        if tls.handshake {
            starttls_pass += 1;
        }
        if let Some((_, patterns)) = &policy
            && patterns.iter().any(|p| pattern_matches(p, host))
            && tls.handshake
            && tls.verified
        {
            sts_pass += 1;
        }
        if dnssec == "secure" {
            let t = ctx.dig(&format!("_25._tcp.{host}"), "TLSA", &[]);
            // Usable records only: DANE-TA(2) / DANE-EE(3), selector 0/1, matching 0/1/2
            // (RFC 7672 §3.1, RFC 6698 §4.1); a host with none counts neither way.
            let rr = t.answers.iter().find(|(ty, rdata)| {
                let f: Vec<&str> = rdata.split_whitespace().collect();
                ty == "TLSA"
                    && f.len() >= 4
                    && ["2", "3"].contains(&f[0])
                    && ["0", "1"].contains(&f[1])
                    && ["0", "1", "2"].contains(&f[2])
            });
            if let (true, Some((_, rdata))) = (t.ad, rr) {
                // A host that never greets with 220 is not a DANE failure.
                if !addr.as_deref().is_some_and(|a| ctx.greets(a)) {
                    continue;
                }
                let matched = match &addr {
                    Some(a) => {
                        let f: Vec<&str> = rdata.split_whitespace().collect();
                        let rr = format!("{} {} {} {}", f[0], f[1], f[2], f[3..].concat());
                        let d = ctx.tls(host, a, Some(rr));
                        d.handshake && d.dane_matched
                    }
                    None => false,
                };
                if matched {
                    dane_valid += 1;
                } else {
                    dane_broken += 1;
                }
            }
        }
    }

    let tlsrpt_dig = ctx.dig(&format!("_smtp._tls.{domain}"), "TXT", &[]);
    let tlsrpt = match tlsrpt_dig.status.as_str() {
        "NOERROR" | "NXDOMAIN" => judge_tlsrpt(&Ctx::txt_values(&tlsrpt_dig)),
        _ => "error",
    }
    .to_owned();

    let (sts_mode, sts_mx_valid) = match &policy {
        Some((mode, _)) if mode != "none" => {
            (Some(mode.clone()), Some(count(hosts.len(), sts_pass)))
        }
        Some((mode, _)) => (Some(mode.clone()), None),
        None => (None, None),
    };
    let null = mx_status == "null_mx";
    Observed {
        starttls: if failed {
            Some("error".into())
        } else if null {
            None
        } else {
            Some(count(hosts.len(), starttls_pass))
        },
        dane: if failed {
            Some("error".into())
        } else if null {
            None
        } else if dnssec != "secure" {
            Some("none".into())
        } else if dane_broken > 0 {
            Some("broken".into())
        } else if dane_valid > 0 && dane_valid == hosts.len() {
            Some("all".into())
        } else if dane_valid > 0 {
            Some("partial".into())
        } else {
            Some("none".into())
        },
        mx_status,
        sts_txt,
        sts_policy,
        sts_mode,
        sts_mx_valid,
        tlsrpt,
        dnssec,
    }
}

/// Up to `per_group` domains for every planted tag and every headline value.
fn sample(pop: &Population, per_group: usize) -> BTreeMap<String, Vec<u32>> {
    let mut groups: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for i in 0..pop.len() {
        let d = pop.domain(i);
        let r = truth_row(pop, &d);
        let mut keys: Vec<String> = r.planted.clone();
        keys.push(format!("dnssec={}", r.dnssec));
        keys.push(format!("dane={}", r.dane.unwrap_or("null")));
        keys.push(format!("sts_policy={}", r.sts_policy));
        keys.push(format!("sts_mx_valid={}", r.sts_mx_valid.unwrap_or("null")));
        keys.push(format!(
            "mail={}",
            match d.mail {
                MailKind::Provider(p) if pop.provider(p).is_some_and(|pr| pr.large) => {
                    format!("large_provider{p}")
                }
                MailKind::Provider(_) => "small_provider".to_owned(),
                other => format!("{other:?}"),
            }
        ));
        for k in keys {
            let g = groups.entry(k).or_default();
            if g.len() < per_group {
                g.push(i);
            }
        }
    }
    groups
}

/// Every planted tag the default profile can produce: each class of each fault category,
/// the planted features and the `bad_mx_pattern` subtypes.
fn every_tag() -> Vec<String> {
    fn codes<C: FaultClass>(out: &mut Vec<String>) {
        let cat = C::CATEGORY.trim_start_matches("faults.");
        out.extend(C::ALL.iter().map(|c| format!("{cat}.{}", c.code())));
    }
    let mut out = Vec::new();
    codes::<TxtFault>(&mut out);
    codes::<FetchFault>(&mut out);
    codes::<BodyFault>(&mut out);
    codes::<CoverageFault>(&mut out);
    codes::<SmtpFault>(&mut out);
    codes::<DaneFault>(&mut out);
    codes::<DnssecFault>(&mut out);
    codes::<NameserverFault>(&mut out);
    codes::<TlsrptFault>(&mut out);
    out.extend(BadMxKind::ALL.map(|k| format!("body.bad_mx_pattern.{}", k.code())));
    out.extend(
        [
            "mx.null_mx",
            "mx.implicit_mx",
            "mx.small_provider",
            "dnssec.island",
            "dnssec.tlsa_in_unsigned_zone",
            "txt.no_sts_record",
            "dane.dane_ta",
            "dane.partial_dane",
        ]
        .map(str::to_owned),
    );
    out
}

#[test]
fn servers_agree_with_the_truth_table() {
    for tool in ["unbound", "dig", "openssl", "curl"] {
        if !have(tool) {
            println!("skipping: {tool} is not installed");
            return;
        }
    }
    let dir = std::env::temp_dir().join(format!("simnet-world-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // SIMNET_WORLD_SEED / SIMNET_WORLD_PER_GROUP widen the sample for a longer check.
    let env = |k: &str, default: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    // Large enough that every planted class occurs (checked below before anything
    // starts); the check cost grows with the number of classes, not with N.
    let n = env("SIMNET_WORLD_DOMAINS", 50_000) as u32;
    let seed = env("SIMNET_WORLD_SEED", 11);
    let per_group = env("SIMNET_WORLD_PER_GROUP", 1) as usize;
    let groups = sample(
        &Population::new(seed, n, Profile::default()).unwrap(),
        per_group,
    );
    let unsampled: Vec<String> = every_tag()
        .into_iter()
        .filter(|t| !groups.contains_key(t))
        .collect();
    assert!(
        unsampled.is_empty(),
        "{n} domains (seed {seed}) plant no {unsampled:?}: raise SIMNET_WORLD_DOMAINS"
    );
    let mut config = WorldConfig::new(n, seed, dir.clone());
    config.ports = Ports::ephemeral();
    config.resolver = ResolverMode::Auto;
    config.ready_timeout = Duration::from_secs(60);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let world = rt.block_on(World::start(config)).unwrap();
    let info = world.info().clone();
    assert!(
        info.resolver_validates,
        "Unbound is installed, so the resolver must validate"
    );
    let (ip, port) = info.resolver.rsplit_once(':').unwrap();
    let mut ctx = Ctx {
        resolver_ip: ip.to_owned(),
        resolver_port: port.to_owned(),
        smtp_port: info.smtp_port,
        https_port: info.https_port,
        ca: info.ca_cert.clone(),
        tmp: dir.clone(),
        tls_cache: HashMap::new(),
    };

    let pop = world.population();
    let mut checked: BTreeMap<u32, ()> = BTreeMap::new();
    let mut failures = Vec::new();
    for (group, members) in &groups {
        for &i in members {
            if checked.insert(i, ()).is_some() {
                continue;
            }
            let d = pop.domain(i);
            let truth = truth_row(pop, &d);
            let seen = observe(&mut ctx, &d.name);
            let want = expected(&truth);
            if seen != want {
                failures.push(format!(
                    "[{group}] {} planted {:?}\n  truth    {want:?}\n  observed {seen:?}",
                    d.name, truth.planted
                ));
            }
        }
    }
    println!(
        "checked {} domains over {} groups: {}",
        checked.len(),
        groups.len(),
        groups.keys().cloned().collect::<Vec<_>>().join(", ")
    );
    // The SMTP log proves the tools never sent MAIL/RCPT/DATA.
    let log = world.smtp().log();
    assert_eq!(log.violations().count(), 0);
    world.stop();
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
