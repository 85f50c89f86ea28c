//! `report.md`: the document as GitHub-flavoured Markdown tables (charts are left out:
//! their numbers are in the tables beside them).

use super::doc::{Block, Table};

/// Escapes table-breaking and HTML characters in cell text (code spans are kept).
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\n', " ")
}

fn table(t: &Table, out: &mut String) {
    out.push('|');
    for h in &t.head {
        out.push(' ');
        out.push_str(&cell(h));
        out.push_str(" |");
    }
    out.push_str("\n|");
    for _ in &t.head {
        out.push_str(" --- |");
    }
    out.push('\n');
    for row in &t.rows {
        out.push('|');
        for c in row {
            out.push(' ');
            out.push_str(&cell(&c.text));
            out.push_str(" |");
        }
        out.push('\n');
    }
    out.push('\n');
}

/// Renders the document.
pub(crate) fn render(doc: &[Block]) -> String {
    let mut out = String::new();
    for b in doc {
        match b {
            Block::Heading(level, text) => {
                out.push_str(&"#".repeat(usize::from(*level)));
                out.push(' ');
                out.push_str(&cell(text));
                out.push_str("\n\n");
            }
            Block::Para(text) => {
                out.push_str(&cell(text));
                out.push_str("\n\n");
            }
            Block::Warning(text) => {
                out.push_str("> **Warning:** ");
                out.push_str(&cell(text));
                out.push_str("\n\n");
            }
            Block::Table(t) => table(t, &mut out),
            Block::Chart(_) => {}
            Block::Definitions(defs) => {
                for (term, def) in defs {
                    out.push_str(&format!("- **{}**: {}\n", cell(term), cell(def)));
                }
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::doc::Cell;
    use super::*;

    #[test]
    fn pipes_and_tags_do_not_break_tables() {
        let t = Table {
            head: vec!["a|b".to_owned()],
            rows: vec![vec![Cell {
                text: "<script>x</script>".to_owned(),
                heat: None,
            }]],
        };
        let md = render(&[Block::Table(t)]);
        assert_eq!(
            md,
            "| a\\|b |\n| --- |\n| &lt;script&gt;x&lt;/script&gt; |\n\n"
        );
    }
}
