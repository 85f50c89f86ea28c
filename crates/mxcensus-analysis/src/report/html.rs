//! `report.html`: one self-contained HTML5 file (inline CSS and SVG, no script, no
//! external reference), readable offline and printable.

use std::fmt::Write as _;

use super::doc::{Block, Table};
use super::svg;

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#222;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.6rem 0 1rem;font-size:.85rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f2f2}td.n{text-align:right;white-space:nowrap}
code{background:#f4f4f4;padding:0 .2em;border-radius:3px;font-size:.9em}
.warn{background:#fff3cd;border:1px solid #e0b100;padding:.6rem .8rem;margin:.5rem 0;border-radius:4px}
.scroll{overflow-x:auto}
svg.chart{display:block;max-width:100%;height:auto;font-size:12px;margin:.5rem 0}
svg .ct{font-size:14px;font-weight:bold}svg .tk{font-size:11px;fill:#444}svg .al{font-size:12px;fill:#222}
svg .ax{stroke:#333;stroke-width:1}svg .gr{stroke:#ddd;stroke-width:1}
dl{font-size:.85rem}dt{font-weight:bold}dd{margin:0 0 .3rem 1.5rem}";

/// Escapes `text` and turns `code` spans into `<code>` elements.
fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str("<code>");
            out.push_str(&svg::escape(part));
            out.push_str("</code>");
        } else {
            out.push_str(&svg::escape(part));
        }
    }
    out
}

fn is_number(text: &str) -> bool {
    text.chars().next().is_some_and(|c| c.is_ascii_digit()) || text == "-"
}

fn table(t: &Table, out: &mut String) {
    out.push_str("<div class=\"scroll\"><table><thead><tr>");
    for h in &t.head {
        let _ = write!(out, "<th scope=\"col\">{}</th>", inline(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in &t.rows {
        out.push_str("<tr>");
        for (i, c) in row.iter().enumerate() {
            if i == 0 {
                let _ = write!(out, "<th scope=\"row\">{}</th>", inline(&c.text));
                continue;
            }
            let class = if is_number(&c.text) {
                " class=\"n\""
            } else {
                ""
            };
            match c.heat {
                Some(h) => {
                    let h = h.clamp(0.0, 1.0);
                    let fg = if h > 0.55 { "#fff" } else { "#222" };
                    let _ = write!(
                        out,
                        "<td{class} style=\"background:rgba(78,121,167,{a:.2});color:{fg}\">{t}</td>",
                        a = 0.06 + 0.9 * h,
                        t = inline(&c.text)
                    );
                }
                None => {
                    let _ = write!(out, "<td{class}>{}</td>", inline(&c.text));
                }
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>\n");
}

/// Renders the document as a complete HTML5 page.
pub(crate) fn render(doc: &[Block], snapshot: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>mxcensus report: {}</title>\n<style>\n{CSS}\n</style>\n</head>\n<body>\n",
        svg::escape(snapshot)
    );
    let mut charts = 0;
    for b in doc {
        match b {
            Block::Heading(level, text) => {
                let _ = writeln!(out, "<h{level}>{}</h{level}>", inline(text));
            }
            Block::Para(text) => {
                let _ = writeln!(out, "<p>{}</p>", inline(text));
            }
            Block::Warning(text) => {
                let _ = writeln!(
                    out,
                    "<p class=\"warn\" role=\"alert\"><strong>Warning:</strong> {}</p>",
                    inline(text)
                );
            }
            Block::Table(t) => table(t, &mut out),
            Block::Chart(c) => {
                charts += 1;
                let _ = writeln!(
                    out,
                    "<figure>{}</figure>",
                    svg::render(c, &format!("chart{charts}"))
                );
            }
            Block::Definitions(defs) => {
                out.push_str("<dl>");
                for (term, def) in defs {
                    let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", inline(term), inline(def));
                }
                out.push_str("</dl>\n");
            }
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::super::doc::{Bar, Cell, Chart};
    use super::*;

    #[test]
    fn page_is_self_contained_and_escaped() {
        let doc = vec![
            Block::Heading(1, "Report <x>".to_owned()),
            Block::Warning("status `interrupted`".to_owned()),
            Block::Para("see <script>alert(1)</script>".to_owned()),
            Block::Table(Table {
                head: vec!["k".to_owned(), "v".to_owned()],
                rows: vec![vec![
                    Cell {
                        text: "a&b".to_owned(),
                        heat: None,
                    },
                    Cell {
                        text: "3 (50.0%)".to_owned(),
                        heat: Some(1.0),
                    },
                ]],
            }),
            Block::Chart(Chart::HBars {
                title: "t".to_owned(),
                axis: "a".to_owned(),
                bars: vec![Bar {
                    label: "l".to_owned(),
                    value: 1.0,
                    text: "1".to_owned(),
                }],
            }),
        ];
        let html = render(&doc, "snap\"1");
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<meta charset=\"utf-8\">"));
        assert!(html.contains("<title>mxcensus report: snap&quot;1</title>"));
        assert!(!html.contains("<script"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("<code>interrupted</code>"));
        assert!(html.contains("<th scope=\"row\">a&amp;b</th>"));
        assert!(html.contains("rgba(78,121,167,0.96)"));
        assert!(html.contains("<svg class=\"chart\""));
        assert!(!html.contains("http"));
    }
}
