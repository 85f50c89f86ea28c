//! The report as a document (headings, paragraphs, tables, charts), built once from the
//! [`Report`] and rendered to Markdown and HTML, so both show the same numbers.
//!
//! Text may hold `code` spans in backticks; renderers escape everything else.

use super::figures::{Group, Headline, Matrix, Report, share};
use super::pct;

/// A table cell: its text and, for heat tables, an intensity in 0..=1.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Cell {
    pub text: String,
    pub heat: Option<f64>,
}

impl Cell {
    fn text(t: impl Into<String>) -> Cell {
        Cell {
            text: t.into(),
            heat: None,
        }
    }
}

/// A table with a header row.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Table {
    pub head: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// One horizontal bar.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Bar {
    pub label: String,
    pub value: f64,
    pub text: String,
}

/// A chart (HTML only; its numbers are always in a table or text beside it).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Chart {
    /// Horizontal bars (funnels, failure classes), values on one scale.
    HBars {
        title: String,
        axis: String,
        bars: Vec<Bar>,
    },
    /// Grouped vertical bars of shares (0..=1) per group and series.
    Grouped {
        title: String,
        axis: String,
        groups: Vec<String>,
        series: Vec<String>,
        values: Vec<Vec<f64>>,
    },
    /// Vertical bars of counts (a histogram).
    Columns {
        title: String,
        axis: String,
        bars: Vec<(String, u64)>,
    },
}

/// A block of the document.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Block {
    Heading(u8, String),
    Para(String),
    Warning(String),
    Table(Table),
    Chart(Chart),
    /// A list of `term: definition`.
    Definitions(Vec<(String, String)>),
}

fn count_share(n: u64, of: u64) -> String {
    format!("{n} ({})", pct(share(n, of)))
}

fn matrix_table(m: &Matrix) -> Table {
    let max = m.counts.iter().flatten().copied().max().unwrap_or(0);
    let mut head = vec![String::new()];
    head.extend(m.columns.iter().map(|c| c.label.to_owned()));
    head.push("total".to_owned());
    let mut rows = Vec::new();
    for (axis, counts) in m.rows.iter().zip(&m.counts) {
        let mut row = vec![Cell::text(axis.label)];
        for &n in counts {
            row.push(Cell {
                text: count_share(n, m.total),
                // Log scale: the "none/none" cell dwarfs the rest at Internet scale.
                heat: Some(if max > 0 {
                    (n as f64).ln_1p() / (max as f64).ln_1p()
                } else {
                    0.0
                }),
            });
        }
        row.push(Cell::text(count_share(counts.iter().sum(), m.total)));
        rows.push(row);
    }
    let mut total = vec![Cell::text("total")];
    for c in 0..m.columns.len() {
        let n: u64 = m.counts.iter().filter_map(|r| r.get(c)).sum();
        total.push(Cell::text(count_share(n, m.total)));
    }
    total.push(Cell::text(m.total.to_string()));
    rows.push(total);
    Table { head, rows }
}

fn matrix_definitions(m: &Matrix) -> Block {
    let mut defs = Vec::new();
    for a in m.rows.iter().chain(&m.columns) {
        defs.push((a.label.to_owned(), a.definition.to_owned()));
    }
    defs.push((
        format!("left out ({})", m.excluded),
        m.excluded_definition.to_owned(),
    ));
    Block::Definitions(defs)
}

const GROUP_HEAD: [&str; 12] = [
    "domains",
    "with MX",
    "STARTTLS all",
    "STS TXT valid",
    "policy valid",
    "testing",
    "enforce",
    "enforce, all MX valid",
    "TLS-RPT valid",
    "DNSSEC signed",
    "DANE valid",
    "DANE broken",
];

fn group_row(key: &str, h: &Headline) -> Vec<Cell> {
    let d = h.domains;
    let mut row = vec![Cell::text(key), Cell::text(d.to_string())];
    for n in [
        h.with_mx,
        h.starttls_all,
        h.sts_txt_valid,
        h.sts_policy_valid,
        h.sts_testing,
        h.sts_enforce,
        h.sts_enforce_all_valid,
        h.tlsrpt_valid,
        h.dnssec_secure,
        h.dane_valid,
        h.dane_broken,
    ] {
        row.push(Cell::text(count_share(n, d)));
    }
    row
}

fn group_table(first: &str, groups: &[(String, &Headline)]) -> Table {
    let mut head = vec![first.to_owned()];
    head.extend(GROUP_HEAD.iter().map(|s| (*s).to_owned()));
    Table {
        head,
        rows: groups.iter().map(|(k, h)| group_row(k, h)).collect(),
    }
}

fn grouped_chart(title: &str, groups: &[(String, &Headline)]) -> Chart {
    let series = [
        "MTA-STS policy valid",
        "enforce",
        "DNSSEC signed",
        "DANE valid",
        "TLS-RPT valid",
    ];
    let values = groups
        .iter()
        .map(|(_, h)| {
            [
                h.sts_policy_valid,
                h.sts_enforce,
                h.dnssec_secure,
                h.dane_valid,
                h.tlsrpt_valid,
            ]
            .iter()
            .map(|&n| share(n, h.domains).unwrap_or(0.0))
            .collect()
        })
        .collect();
    Chart::Grouped {
        title: title.to_owned(),
        axis: "share of the group's domains".to_owned(),
        groups: groups.iter().map(|(k, _)| k.clone()).collect(),
        series: series.iter().map(|s| (*s).to_owned()).collect(),
        values,
    }
}

fn named(groups: &[Group]) -> Vec<(String, &Headline)> {
    groups
        .iter()
        .map(|g| (g.key.clone(), &g.headline))
        .collect()
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn days(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |d| format!("{d:.2}"))
}

/// The report as a document.
pub(crate) fn document(r: &Report) -> Vec<Block> {
    let mut out = Vec::new();
    let p = &r.provenance;
    let h = &r.headline;
    let domains = h.domains;
    out.push(Block::Heading(
        1,
        format!("mxcensus report: snapshot {}", p.snapshot),
    ));
    if p.status != "complete" {
        out.push(Block::Warning(format!(
            "This snapshot is `{}`: the figures cover only its committed rows.",
            p.status
        )));
    }
    for w in &r.warnings {
        out.push(Block::Warning(w.message()));
    }
    out.push(Block::Para(format!(
        "{} domains, {} MX rows (domain x host), {} policy fetches, {} rejected input lines. Every number below is computed from the snapshot's committed Parquet rows; `report.json` holds them all. Shares are of all domains unless a row says otherwise.",
        r.totals.domains, r.totals.mx_rows, r.totals.policies, r.totals.input_errors
    )));

    // Provenance.
    out.push(Block::Heading(2, "Provenance".to_owned()));
    let mut rows = vec![
        vec![Cell::text("snapshot"), Cell::text(&p.snapshot)],
        vec![Cell::text("directory"), Cell::text(&p.dir)],
        vec![Cell::text("status"), Cell::text(&p.status)],
        vec![
            Cell::text("shards"),
            Cell::text(format!(
                "{} found, {} declared",
                p.shards_found,
                opt(&p.shards_declared)
            )),
        ],
    ];
    for (t, n) in &p.rows {
        rows.push(vec![
            Cell::text(format!("rows: {t}")),
            Cell::text(n.to_string()),
        ]);
    }
    out.push(Block::Table(Table {
        head: vec!["".to_owned(), "value".to_owned()],
        rows,
    }));
    let mut shard_rows = Vec::new();
    let mut canary_rows = Vec::new();
    for s in &p.shards {
        let Some(m) = &s.manifest else {
            shard_rows.push(vec![
                Cell::text(s.index.to_string()),
                Cell::text("no manifest"),
                Cell::text(s.domains.to_string()),
            ]);
            continue;
        };
        shard_rows.push(vec![
            Cell::text(s.index.to_string()),
            Cell::text(format!(
                "{}{}",
                super::figures::run_status(m.status),
                if m.resumed > 0 {
                    format!(", resumed {}x", m.resumed)
                } else {
                    String::new()
                }
            )),
            Cell::text(s.domains.to_string()),
            Cell::text(&m.started_at),
            Cell::text(opt(&m.finished_at)),
            Cell::text(format!(
                "{} {} (git {})",
                m.tool,
                m.version,
                opt(&m.git_revision)
            )),
            Cell::text(format!(
                "`{}` sha256 `{}`; {} lines, {} domains, {} rejected",
                m.input_path,
                opt(&m.input_sha256),
                m.input_lines,
                m.input_domains,
                m.input_errors
            )),
            Cell::text(m.resolver_addresses.join(", ")),
            Cell::text(if m.validating { "yes" } else { "NO" }),
            Cell::text(m.schema_version.to_string()),
        ]);
        for c in &m.canaries {
            canary_rows.push(vec![
                Cell::text(s.index.to_string()),
                Cell::text(format!("`{}`", c.name)),
                Cell::text(&c.expected),
                Cell::text(&c.observed),
                Cell::text(if c.ok { "ok" } else { "FAILED" }),
            ]);
        }
    }
    out.push(Block::Table(Table {
        head: [
            "shard",
            "status",
            "domain rows",
            "started",
            "finished",
            "tool",
            "input",
            "resolver",
            "validating",
            "schema",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
        rows: shard_rows,
    }));
    out.push(Block::Para(
        "DNSSEC canaries (checked before the run: a signed name must validate, a broken one must fail):"
            .to_owned(),
    ));
    out.push(Block::Table(Table {
        head: ["shard", "name", "expected", "observed", "result"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        rows: canary_rows,
    }));

    // Funnels.
    for (title, steps, note) in [
        (
            "Adoption funnel (MTA-STS)",
            &r.adoption_funnel,
            "Each step counts domains meeting it and every step above; `alone` counts the step's own condition over all domains.",
        ),
        (
            "DANE funnel",
            &r.dane_funnel,
            "Each step counts domains meeting it and every step above (it starts from domains with MX); `alone` counts the step's own condition over all domains.",
        ),
    ] {
        out.push(Block::Heading(2, title.to_owned()));
        out.push(Block::Para(note.to_owned()));
        out.push(Block::Chart(Chart::HBars {
            title: title.to_owned(),
            axis: "domains".to_owned(),
            bars: steps
                .iter()
                .map(|s| super::doc::Bar {
                    label: s.label.to_owned(),
                    value: s.count as f64,
                    text: format!("{} ({})", s.count, pct(s.share_of_domains)),
                })
                .collect(),
        }));
        out.push(Block::Table(Table {
            head: [
                "step",
                "domains",
                "share of all",
                "share of previous",
                "alone",
                "definition",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
            rows: steps
                .iter()
                .map(|s| {
                    vec![
                        Cell::text(s.label),
                        Cell::text(s.count.to_string()),
                        Cell::text(pct(s.share_of_domains)),
                        Cell::text(pct(s.share_of_previous)),
                        Cell::text(s.alone.to_string()),
                        Cell::text(s.definition),
                    ]
                })
                .collect(),
        }));
    }

    // Matrices.
    out.push(Block::Heading(
        2,
        "MTA-STS x DANE matrix (per domain, SPEC §H)".to_owned(),
    ));
    out.push(Block::Para(format!(
        "Rows: DANE state of the domain; columns: MTA-STS state. Cells: domains (share of the {} domains in the matrix); shading on a log scale. A bogus MX RRset is in the broken row; lookups that failed are in the could-not-tell row and column rather than counted as absence.",
        r.matrix.total
    )));
    out.push(Block::Table(matrix_table(&r.matrix)));
    out.push(matrix_definitions(&r.matrix));
    out.push(Block::Heading(
        2,
        "MTA-STS x DANE matrix (per MX host)".to_owned(),
    ));
    out.push(Block::Para(format!(
        "Each `mx` row (domain x host) once; rows are exclusive and checked top-down. Cells: MX rows (share of {}).",
        r.mx_matrix.total
    )));
    out.push(Block::Table(matrix_table(&r.mx_matrix)));
    out.push(matrix_definitions(&r.mx_matrix));

    out.push(Block::Heading(2, "Conflict classes (SPEC §H)".to_owned()));
    out.push(Block::Table(Table {
        head: ["class", "domains", "MX rows", "definition"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        rows: r
            .conflicts
            .iter()
            .map(|c| {
                vec![
                    Cell::text(format!("`{}`", c.key)),
                    Cell::text(count_share(c.domains, domains)),
                    Cell::text(c.mx.to_string()),
                    Cell::text(c.definition),
                ]
            })
            .collect(),
    }));

    out.push(Block::Heading(
        2,
        "What senders do with each MX host".to_owned(),
    ));
    out.push(Block::Para(format!(
        "Each of the {} `mx` rows, for three kinds of validating sender (SPEC §H): authenticated delivery, deferral, or opportunistic TLS when no policy applies.",
        r.mx_matrix.total
    )));
    out.push(Block::Table(Table {
        head: ["sender", "authenticated", "defer", "opportunistic", "rule"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        rows: r
            .senders
            .iter()
            .map(|m| {
                let total = m.authenticated + m.defer + m.opportunistic;
                vec![
                    Cell::text(format!("`{}`", m.key)),
                    Cell::text(count_share(m.authenticated, total)),
                    Cell::text(count_share(m.defer, total)),
                    Cell::text(count_share(m.opportunistic, total)),
                    Cell::text(m.definition),
                ]
            })
            .collect(),
    }));

    // DNSSEC.
    let d = &r.dnssec;
    out.push(Block::Heading(
        2,
        "DNSSEC and DANE among signed domains".to_owned(),
    ));
    out.push(Block::Table(Table {
        head: vec![
            "figure".to_owned(),
            "value".to_owned(),
            "definition".to_owned(),
        ],
        rows: vec![
            vec![
                Cell::text("signed"),
                Cell::text(count_share(d.signed, d.domains)),
                Cell::text(
                    "`dnssec = secure` (the MX RRset or its denial validated), of all domains",
                ),
            ],
            vec![
                Cell::text("bogus"),
                Cell::text(count_share(d.bogus, d.domains)),
                Cell::text("`dnssec = bogus`"),
            ],
            vec![
                Cell::text("unknown"),
                Cell::text(count_share(d.unknown, d.domains)),
                Cell::text("`dnssec = unknown`: resolver not proven to validate"),
            ],
            vec![
                Cell::text("signed, with MX"),
                Cell::text(d.signed_with_mx.to_string()),
                Cell::text("`dnssec = secure` and `mx_status` `ok` or `implicit`: the base below"),
            ],
            vec![
                Cell::text("DANE valid among signed"),
                Cell::text(count_share(d.dane_valid, d.signed_with_mx)),
                Cell::text("`dane` `all` or `partial`"),
            ],
            vec![
                Cell::text("DANE on every MX among signed"),
                Cell::text(count_share(d.dane_all, d.signed_with_mx)),
                Cell::text("`dane = all`"),
            ],
            vec![
                Cell::text("DANE broken among signed"),
                Cell::text(count_share(d.dane_broken, d.signed_with_mx)),
                Cell::text("`dane = broken`"),
            ],
        ],
    }));

    // Groups.
    let bands = named(&r.by_rank);
    out.push(Block::Heading(2, "By rank band".to_owned()));
    out.push(Block::Para(
        "Disjoint bands of the input rank: top 1k = 1-1,000, top 10k = 1,001-10,000, top 100k = 10,001-100,000, top 1M = 100,001-1,000,000, rest = above; unranked = no rank. Cells: domains (share of the band's domains).".to_owned(),
    ));
    out.push(Block::Chart(grouped_chart("Adoption by rank band", &bands)));
    out.push(Block::Table(group_table("band", &bands)));

    let mut tlds = named(&r.by_tld.top);
    tlds.push(("(other)".to_owned(), &r.by_tld.other));
    out.push(Block::Heading(2, "By TLD".to_owned()));
    out.push(Block::Para(format!(
        "TLD = last label of the domain. The {} largest of {} TLDs, then the rest summed.",
        r.by_tld.top.len(),
        r.by_tld.distinct
    )));
    out.push(Block::Table(group_table("TLD", &tlds)));

    let bp = &r.by_provider;
    let mut providers = named(&bp.top);
    providers.push(("(self-hosted)".to_owned(), &bp.self_hosted));
    providers.push(("(other providers)".to_owned(), &bp.other));
    providers.push(("(no MX host)".to_owned(), &bp.no_mx_host));
    out.push(Block::Heading(2, "By mail provider".to_owned()));
    out.push(Block::Para(format!(
        "Provider = registrable domain (Public Suffix List) of the domain's first MX host in preference order. Self-hosted = that host is under the domain's own registrable domain (implicit MX included); no MX host = null MX or failed MX lookup. The {} largest of {} providers, then the rest summed.",
        bp.top.len(),
        bp.distinct
    )));
    // The chart shows the largest providers only: shares of tiny groups are noise.
    let mut charted: Vec<(String, &Headline)> = named(&bp.top).into_iter().take(8).collect();
    charted.push(("(self-hosted)".to_owned(), &bp.self_hosted));
    out.push(Block::Chart(grouped_chart(
        "Adoption by mail provider (8 largest, and self-hosted)",
        &charted,
    )));
    out.push(Block::Table(group_table("provider", &providers)));

    // Failure classes.
    let f = &r.failure_classes;
    out.push(Block::Heading(2, "Top failure classes".to_owned()));
    out.push(Block::Para(format!(
        "From `domains.error_classes`: {} domains have at least one class ({}); {} distinct classes. Count = domains whose list holds the class.",
        f.domains_with_any,
        pct(share(f.domains_with_any, domains)),
        f.distinct
    )));
    out.push(Block::Chart(Chart::HBars {
        title: "Top failure classes".to_owned(),
        axis: "domains".to_owned(),
        bars: f
            .top
            .iter()
            .map(|c| Bar {
                label: c.code.clone(),
                value: c.domains as f64,
                text: format!("{} ({})", c.domains, pct(c.share)),
            })
            .collect(),
    }));
    out.push(Block::Table(Table {
        head: ["class", "severity", "domains", "share", "area", "fix"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        rows: f
            .top
            .iter()
            .map(|c| {
                vec![
                    Cell::text(format!("`{}`", c.code)),
                    Cell::text(c.severity.unwrap_or("-")),
                    Cell::text(c.domains.to_string()),
                    Cell::text(pct(c.share)),
                    Cell::text(c.area.unwrap_or("-")),
                    Cell::text(c.fix.unwrap_or("-")),
                ]
            })
            .collect(),
    }));

    // max_age.
    let m = &r.max_age;
    out.push(Block::Heading(
        2,
        "Policy max_age: the first-contact downgrade window".to_owned(),
    ));
    out.push(Block::Para(format!(
        "`max_age` of the {} valid policies (`policies.status = valid`). A sender that has cached a policy keeps it this long; before the first fetch (and after expiry) an attacker who strips the TXT record wins. Quantiles are nearest-rank.",
        m.policies
    )));
    out.push(Block::Chart(Chart::Columns {
        title: "max_age of valid policies".to_owned(),
        axis: "policies".to_owned(),
        bars: m
            .buckets
            .iter()
            .map(|b| (b.label.to_owned(), b.count))
            .collect(),
    }));
    out.push(Block::Table(Table {
        head: ["max_age", "policies", "share", "enforce", "testing", "none"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        rows: m
            .buckets
            .iter()
            .map(|b| {
                vec![
                    Cell::text(b.label),
                    Cell::text(b.count.to_string()),
                    Cell::text(pct(share(b.count, m.policies))),
                    Cell::text(b.enforce.to_string()),
                    Cell::text(b.testing.to_string()),
                    Cell::text(b.none.to_string()),
                ]
            })
            .collect(),
    }));
    out.push(Block::Table(Table {
        head: [
            "policies",
            "count",
            "min (s)",
            "median (s)",
            "median (days)",
            "p90 (s)",
            "p90 (days)",
            "max (s)",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
        rows: [("all valid", &m.all), ("mode enforce", &m.enforce)]
            .iter()
            .map(|(k, q)| {
                vec![
                    Cell::text(*k),
                    Cell::text(q.count.to_string()),
                    Cell::text(opt(&q.min_s)),
                    Cell::text(opt(&q.median_s)),
                    Cell::text(days(q.median_days)),
                    Cell::text(opt(&q.p90_s)),
                    Cell::text(days(q.p90_days)),
                    Cell::text(opt(&q.max_s)),
                ]
            })
            .collect(),
    }));

    // Ready to flip.
    let f = &r.ready_to_flip;
    out.push(Block::Heading(2, "Ready to flip to enforce".to_owned()));
    out.push(Block::Para(format!(
        "Of {} domains in `testing` mode, {} ({}) have every MX host valid under their policy (`sts_mx_valid = all`) and could switch to `enforce` without losing mail; {} have some MX valid, {} none.",
        f.testing,
        f.ready,
        pct(f.share_of_testing),
        f.some_valid,
        f.none_valid
    )));

    // TLS-RPT.
    let t = &r.tlsrpt;
    out.push(Block::Heading(2, "TLS-RPT".to_owned()));
    out.push(Block::Para(format!(
        "`tlsrpt = valid` for {} domains ({} of all).",
        t.valid,
        pct(t.share)
    )));
    out.push(Block::Table(Table {
        head: ["among", "domains", "with valid TLS-RPT", "share"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        rows: t
            .among
            .iter()
            .map(|a| {
                vec![
                    Cell::text(a.definition),
                    Cell::text(a.base.to_string()),
                    Cell::text(a.tlsrpt_valid.to_string()),
                    Cell::text(pct(a.share)),
                ]
            })
            .collect(),
    }));
    out.push(Block::Para(format!(
        "Generated by {} (report format {}).",
        r.generated_by, r.report_format
    )));
    out
}
