//! The HTML report renders in headless Chromium: `mxcensus report datasets/sample`, then
//! Chromium loads report.html from disk, dumps the DOM and takes a screenshot. Fails on any
//! console message (the report has no scripts, so anything logged is an error, a blocked
//! resource or a script that should not be there), on any network request the page makes
//! (read from Chromium's net log; every host resolves to nothing and every fetch goes to a
//! closed local proxy, so nothing leaves the machine), on a DOM without the report's
//! sections and SVG charts, and on a missing or blank screenshot. The screenshot is kept at
//! target/report-screenshot.png. Skipped (with a message) without Chromium.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 4000;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn chromium() -> Option<PathBuf> {
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
    })
}

/// What Chromium saw when loading a page.
struct Render {
    /// Console lines (`...:CONSOLE...] "message", source: URL (line)`).
    console: Vec<String>,
    /// URLs the page asked the network for (not Chromium's own background requests).
    requests: Vec<String>,
    /// The DOM after load.
    dom: String,
    /// The screenshot.
    screenshot: PathBuf,
}

/// Runs Chromium once on `page` with `action` (`--dump-dom` or `--screenshot=...`).
/// Returns (stdout, stderr, page requests from the net log).
fn chromium_run(
    bin: &Path,
    page: &Path,
    work: &Path,
    name: &str,
    action: &str,
) -> (String, String, Vec<String>) {
    let profile = work.join(format!("profile-{name}"));
    let net_log = work.join(format!("net-{name}.json"));
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-extensions",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--no-default-browser-check",
            "--disable-features=Translate,OptimizationHints,MediaRouter,SpellCheck",
            // Nothing may leave the machine: no host resolves, every HTTP(S) fetch goes to
            // a closed port on loopback. The net log still records each attempt.
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=http://127.0.0.1:9",
            &format!("--window-size={WIDTH},{HEIGHT}"),
            &format!("--user-data-dir={}", profile.display()),
            &format!("--log-net-log={}", net_log.display()),
            action,
            &url,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read both pipes on threads so a chatty Chromium cannot block on a full pipe.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).ok();
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).ok();
        s
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            child.wait().ok();
            panic!("chromium did not finish within 120 s ({action})");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let stdout = out_t.join().unwrap();
    let stderr = err_t.join().unwrap();
    let requests = page_requests(&net_log);
    (stdout, stderr, requests)
}

/// URLs requested by the page itself: URL_REQUEST_START_JOB events whose network isolation
/// key is the file:// page (Chromium's own update/account/time requests have another key).
fn page_requests(net_log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(net_log)
        .unwrap_or_else(|e| panic!("chromium wrote no net log at {}: {e}", net_log.display()));
    // A log cut short (killed browser) lacks its closing brackets.
    let v: serde_json::Value = serde_json::from_str(&text)
        .or_else(|_| serde_json::from_str(&format!("{}]}}", text.trim_end().trim_end_matches(','))))
        .expect("net log is not JSON");
    let start_job = v["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
        .as_u64()
        .expect("net log without URL_REQUEST_START_JOB");
    let mut urls: Vec<String> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"].as_u64() == Some(start_job))
        .filter(|e| {
            let p = &e["params"];
            p["network_isolation_key"]
                .as_str()
                .is_some_and(|k| k.starts_with("file://"))
                || p["initiator"].as_str() == Some("null")
        })
        .filter_map(|e| e["params"]["url"].as_str().map(str::to_owned))
        .filter(|u| !u.starts_with("file:") && !u.starts_with("data:"))
        .collect();
    urls.sort();
    urls.dedup();
    urls
}

fn console_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_owned)
        .collect()
}

fn render(bin: &Path, page: &Path, work: &Path) -> Render {
    std::fs::create_dir_all(work).unwrap();
    let screenshot = work.join("screenshot.png");
    let (dom, err1, req1) = chromium_run(bin, page, work, "dom", "--dump-dom");
    let (_, err2, req2) = chromium_run(
        bin,
        page,
        work,
        "shot",
        &format!("--screenshot={}", screenshot.display()),
    );
    let mut console = console_lines(&err1);
    console.extend(console_lines(&err2));
    let mut requests = req1;
    requests.extend(req2);
    requests.sort();
    requests.dedup();
    Render {
        console,
        requests,
        dom,
        screenshot,
    }
}

/// Problems with the screenshot: missing, not a PNG of the window's size, implausibly
/// small, or one colour (checked with Pillow when python3 has it; a single-colour
/// 1280×4000 PNG from Chromium is about 23 KB, so without Pillow the size stands in).
fn screenshot_problems(png: &Path) -> Vec<String> {
    let Ok(bytes) = std::fs::read(png) else {
        return vec![format!("no screenshot at {}", png.display())];
    };
    let mut problems = Vec::new();
    if bytes.len() < 33 || &bytes[..8] != b"\x89PNG\r\n\x1a\n" || &bytes[12..16] != b"IHDR" {
        return vec![format!(
            "{} is not a PNG ({} bytes)",
            png.display(),
            bytes.len()
        )];
    }
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    if (width, height) != (WIDTH, HEIGHT) {
        problems.push(format!(
            "screenshot is {width}x{height}, expected {WIDTH}x{HEIGHT}"
        ));
    }
    let check = "import sys\nfrom PIL import Image\nim = Image.open(sys.argv[1]).convert('RGB')\n\
                 colors = im.getcolors(1 << 24)\nbg = max(c for c, _ in colors)\n\
                 total = im.width * im.height\nprint(len(colors), (total - bg) / total)\n";
    let pil = Command::new("python3")
        .args(["-c", check])
        .arg(png)
        .output()
        .ok()
        .filter(|o| o.status.success());
    match pil {
        Some(o) => {
            let text = String::from_utf8_lossy(&o.stdout);
            let mut it = text.split_whitespace();
            let colours: u64 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            let drawn: f64 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0.0);
            // A page with text and charts colours well over 1% of the window.
            if colours < 2 || drawn < 0.01 {
                problems.push(format!(
                    "screenshot is blank: {colours} colours, {:.3}% of pixels off the background",
                    drawn * 100.0
                ));
            }
        }
        None => {
            eprintln!("note: python3 with Pillow not found; judging the screenshot by its size");
            if bytes.len() < 30_000 {
                problems.push(format!(
                    "screenshot is {} bytes: a blank 1280x4000 page is about 23 KB",
                    bytes.len()
                ));
            }
        }
    }
    problems
}

/// Everything wrong with a render, apart from page-specific DOM content.
fn problems(r: &Render) -> Vec<String> {
    let mut out = Vec::new();
    for l in &r.console {
        out.push(format!("console: {l}"));
    }
    for u in &r.requests {
        out.push(format!("network request: {u}"));
    }
    if !r.dom.contains("<svg") {
        out.push("DOM has no <svg> element".to_owned());
    }
    out.extend(screenshot_problems(&r.screenshot));
    out
}

/// References the HTML makes to anything outside itself (scripts, styles, images, fonts).
fn external_references(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    for needle in [
        "<script src",
        "src=\"http",
        "src='http",
        "src=\"//",
        "url(http",
        "url(\"http",
        "url('http",
        "url(//",
        "@import",
        "<link rel=\"stylesheet\" href=\"http",
        "<iframe",
    ] {
        if let Some(i) = lower.find(needle) {
            let end = lower[i..]
                .find('>')
                .map_or(lower.len(), |e| i + e + 1)
                .min(i + 200);
            out.push(html[i..end].to_owned());
        }
    }
    out
}

/// The text of every `<h2>` of DOM, lowercase, tags inside removed.
fn h2_texts(dom: &str) -> Vec<String> {
    let lower = dom.to_lowercase();
    let mut out = Vec::new();
    let mut rest = lower.as_str();
    while let Some(i) = rest.find("<h2") {
        let after = &rest[i..];
        let (Some(open_end), Some(close)) = (after.find('>'), after.find("</h2>")) else {
            break;
        };
        let inner = after.get(open_end + 1..close).unwrap_or("");
        let mut text = String::new();
        let mut in_tag = false;
        for c in inner.chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => text.push(c),
                _ => {}
            }
        }
        out.push(text.trim().to_owned());
        rest = &after[close + 5..];
    }
    out
}

fn screenshot_keep_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().canonicalize().unwrap().join("target"));
    target.join("report-screenshot.png")
}

#[test]
fn the_html_report_renders_in_chromium() {
    let Some(bin) = chromium() else {
        eprintln!("SKIPPED: chromium not installed");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report");
    let run = Command::new(env!("CARGO_BIN_EXE_mxcensus"))
        .arg("report")
        .arg(root().join("datasets/sample").canonicalize().unwrap())
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "mxcensus report datasets/sample failed:\n{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let html_path = out.join("report.html");
    let html = std::fs::read_to_string(&html_path).unwrap();
    let external = external_references(&html);
    assert!(
        external.is_empty(),
        "report.html refers outside itself: {external:?}"
    );

    let started = Instant::now();
    let r = render(&bin, &html_path, &tmp.path().join("chromium"));
    let keep = screenshot_keep_path();
    if let Some(dir) = keep.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    if r.screenshot.is_file() {
        std::fs::copy(&r.screenshot, &keep).unwrap();
        eprintln!("screenshot: {}", keep.display());
    }
    eprintln!("chromium took {:.1}s", started.elapsed().as_secs_f64());

    let mut bad = problems(&r);
    // The report's sections (issue 5), as <h2> headings of the rendered DOM.
    let headings = h2_texts(&r.dom);
    for section in [
        "provenance",
        "adoption funnel",
        "dane funnel",
        "matrix",
        "conflict",
        "dnssec",
        "rank",
        "tld",
        "provider",
        "failure classes",
        "max_age",
        "ready to flip",
        "tls-rpt",
    ] {
        if !headings.iter().any(|h| h.contains(section)) {
            bad.push(format!("no <h2> section about {section:?} in {headings:?}"));
        }
    }
    let svgs = r.dom.matches("<svg").count();
    if svgs < 3 {
        bad.push(format!("DOM has {svgs} <svg> charts, expected at least 3"));
    }
    assert!(
        bad.is_empty(),
        "report.html in Chromium:\n{}",
        bad.join("\n")
    );
}

/// The checks above catch what they claim to: a JS error and a console message, a page
/// fetching from the network, and a blank page; a clean page passes.
#[test]
fn the_chromium_checks_catch_errors() {
    let Some(bin) = chromium() else {
        eprintln!("SKIPPED: chromium not installed");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let bars: String = (0..40)
        .map(|i| {
            format!(
                "<rect x=\"{}\" y=\"{}\" width=\"25\" height=\"{}\" fill=\"#3366aa\"/>",
                i * 30,
                400 - i * 9,
                i * 9
            )
        })
        .collect();
    let clean = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>clean</title></head><body>\
         <h1>Report</h1><p>{}</p><svg width=\"1200\" height=\"400\">{bars}</svg></body></html>",
        "Lorem ipsum dolor sit amet. ".repeat(200)
    );
    let page = |name: &str, body: &str| {
        let p = tmp.path().join(format!("{name}.html"));
        std::fs::write(&p, body).unwrap();
        p
    };

    let ok = render(&bin, &page("clean", &clean), &tmp.path().join("clean"));
    let p = problems(&ok);
    assert!(p.is_empty(), "a clean page must pass: {p:?}");
    assert!(external_references(&clean).is_empty());

    let js_error = clean.replace(
        "</body>",
        "<script>console.error('boom'); notAFunction();</script></body>",
    );
    let r = render(&bin, &page("js", &js_error), &tmp.path().join("js"));
    let p = problems(&r);
    assert!(
        p.iter()
            .any(|l| l.contains("console:") && l.contains("boom")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|l| l.contains("console:") && l.contains("notAFunction")),
        "{p:?}"
    );

    let network = clean.replace(
        "</body>",
        "<img src=\"http://example.invalid/pixel.png\"><link rel=\"stylesheet\" href=\"https://fonts.example.invalid/a.css\"></body>",
    );
    let r = render(&bin, &page("net", &network), &tmp.path().join("net"));
    let p = problems(&r);
    assert!(
        p.iter()
            .any(|l| l.contains("network request: http://example.invalid/pixel.png")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|l| l.contains("network request: https://fonts.example.invalid/a.css")),
        "{p:?}"
    );
    assert!(!external_references(&network).is_empty());

    assert_eq!(
        h2_texts("<h2 id=\"a\">Adoption <code>funnel</code></h2><p>x</p><H2>TLS-RPT</H2>"),
        ["adoption funnel", "tls-rpt"]
    );

    let blank = "<!doctype html><html><body><svg width=\"1\" height=\"1\"></svg></body></html>";
    let r = render(&bin, &page("blank", blank), &tmp.path().join("blank"));
    let p = problems(&r);
    assert!(p.iter().any(|l| l.contains("blank")), "{p:?}");
}
