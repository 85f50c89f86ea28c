//! Hand-rolled inline SVG charts: no fonts, scripts or external references. Each chart
//! has a `<title>` (named by `aria-labelledby`), axis labels and per-bar tooltips; its
//! numbers are also in the table beside it.

use std::fmt::Write as _;

use super::doc::{Bar, Chart};

const PALETTE: [&str; 6] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1",
];

/// Escapes text for HTML and SVG content and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// At most `n` characters, with an ellipsis when cut.
fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn open(out: &mut String, id: &str, w: u32, h: u32, title: &str) {
    let _ = write!(
        out,
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-labelledby=\"{id}-t\"><title id=\"{id}-t\">{t}</title><text x=\"10\" y=\"20\" class=\"ct\">{t}</text>",
        t = escape(title)
    );
}

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

fn hbars(out: &mut String, id: &str, title: &str, axis: &str, bars: &[Bar]) {
    const W: u32 = 760;
    const LABEL_X: u32 = 238;
    const BAR_X: u32 = 246;
    const BAR_W: f64 = 360.0;
    const ROW: u32 = 22;
    const TOP: u32 = 36;
    let n = bars.len() as u32;
    let bottom = TOP + n * ROW;
    let h = bottom + 40;
    open(out, id, W, h, title);
    let max = bars.iter().map(|b| b.value).fold(0.0, f64::max);
    for (i, b) in bars.iter().enumerate() {
        let y = TOP + i as u32 * ROW;
        let w = if max > 0.0 {
            (b.value / max * BAR_W).max(if b.value > 0.0 { 1.0 } else { 0.0 })
        } else {
            0.0
        };
        let _ = write!(
            out,
            "<text x=\"{LABEL_X}\" y=\"{ty}\" text-anchor=\"end\">{label}</text><rect x=\"{BAR_X}\" y=\"{ry}\" width=\"{w:.1}\" height=\"{bh}\" fill=\"{c}\"><title>{full}: {text}</title></rect><text x=\"{tx:.1}\" y=\"{ty}\">{text}</text>",
            ty = y + 15,
            ry = y + 3,
            bh = ROW - 6,
            c = PALETTE[0],
            label = escape(&truncate(&b.label, 34)),
            full = escape(&b.label),
            text = escape(&b.text),
            tx = f64::from(BAR_X) + w + 6.0,
        );
    }
    // Axis: baseline, ticks at 0, half and max.
    let _ = write!(
        out,
        "<line x1=\"{BAR_X}\" y1=\"{TOP}\" x2=\"{BAR_X}\" y2=\"{bottom}\" class=\"ax\"/><line x1=\"{BAR_X}\" y1=\"{bottom}\" x2=\"{x2}\" y2=\"{bottom}\" class=\"ax\"/>",
        x2 = f64::from(BAR_X) + BAR_W
    );
    for (f, anchor) in [(0.0, "start"), (0.5, "middle"), (1.0, "end")] {
        let _ = write!(
            out,
            "<text x=\"{x:.1}\" y=\"{y}\" text-anchor=\"{anchor}\" class=\"tk\">{v}</text>",
            x = f64::from(BAR_X) + f * BAR_W,
            y = bottom + 14,
            v = (max * f).round() as u64
        );
    }
    let _ = write!(
        out,
        "<text x=\"{x:.1}\" y=\"{y}\" text-anchor=\"middle\" class=\"al\">{a}</text></svg>",
        x = f64::from(BAR_X) + BAR_W / 2.0,
        y = bottom + 32,
        a = escape(axis)
    );
}

fn grouped(
    out: &mut String,
    id: &str,
    title: &str,
    axis: &str,
    groups: &[String],
    series: &[String],
    values: &[Vec<f64>],
) {
    const W: u32 = 760;
    const LEFT: f64 = 60.0;
    const TOP: f64 = 58.0;
    const PLOT_H: f64 = 200.0;
    let plot_w = f64::from(W) - LEFT - 20.0;
    let h = (TOP + PLOT_H + 110.0) as u32;
    open(out, id, W, h, title);
    // Legend.
    let mut lx = 10.0;
    for (i, s) in series.iter().enumerate() {
        let _ = write!(
            out,
            "<rect x=\"{lx:.1}\" y=\"30\" width=\"10\" height=\"10\" fill=\"{c}\"/><text x=\"{tx:.1}\" y=\"39\" class=\"tk\">{s}</text>",
            c = PALETTE[i % PALETTE.len()],
            tx = lx + 14.0,
            s = escape(s)
        );
        lx += 22.0 + 6.5 * s.chars().count() as f64;
    }
    let max = values.iter().flatten().copied().fold(0.0, f64::max);
    // Four gridlines at round steps: 1%, 2.5%, 5%, 10%, 20% or 25%.
    let ymax = [0.01, 0.025, 0.05, 0.1, 0.2, 0.25]
        .iter()
        .map(|step| step * 4.0)
        .find(|top| *top >= max)
        .unwrap_or(1.0);
    let base = TOP + PLOT_H;
    for k in 0..=4 {
        let v = ymax * f64::from(k) / 4.0;
        let y = base - PLOT_H * f64::from(k) / 4.0;
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{x2:.1}\" y2=\"{y:.1}\" class=\"{cls}\"/><text x=\"{tx:.1}\" y=\"{ty:.1}\" text-anchor=\"end\" class=\"tk\">{v}</text>",
            x2 = LEFT + plot_w,
            cls = if k == 0 { "ax" } else { "gr" },
            tx = LEFT - 4.0,
            ty = y + 4.0,
            v = pct(v)
        );
    }
    let n = groups.len().max(1) as f64;
    let gw = plot_w / n;
    let bw = gw * 0.8 / series.len().max(1) as f64;
    for (g, (name, vals)) in groups.iter().zip(values).enumerate() {
        let gx = LEFT + gw * g as f64 + gw * 0.1;
        for (s, &v) in vals.iter().enumerate() {
            let bh = (v / ymax).min(1.0) * PLOT_H;
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bh:.1}\" fill=\"{c}\"><title>{name}, {sn}: {p}</title></rect>",
                x = gx + bw * s as f64,
                y = base - bh,
                c = PALETTE[s % PALETTE.len()],
                name = escape(name),
                sn = escape(series.get(s).map_or("", String::as_str)),
                p = pct(v)
            );
        }
        let lx = LEFT + gw * g as f64 + gw / 2.0;
        let _ = write!(
            out,
            "<text x=\"{lx:.1}\" y=\"{ly:.1}\" text-anchor=\"end\" transform=\"rotate(-35 {lx:.1} {ly:.1})\" class=\"tk\">{t}</text>",
            ly = base + 14.0,
            t = escape(&truncate(name, 22))
        );
    }
    let _ = write!(
        out,
        "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{base}\" class=\"ax\"/><text x=\"14\" y=\"{my:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {my:.1})\" class=\"al\">{a}</text></svg>",
        my = TOP + PLOT_H / 2.0,
        a = escape(axis)
    );
}

fn columns(out: &mut String, id: &str, title: &str, axis: &str, bars: &[(String, u64)]) {
    const W: u32 = 760;
    const LEFT: f64 = 60.0;
    const TOP: f64 = 40.0;
    const PLOT_H: f64 = 180.0;
    let plot_w = f64::from(W) - LEFT - 20.0;
    let h = (TOP + PLOT_H + 50.0) as u32;
    open(out, id, W, h, title);
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0);
    let base = TOP + PLOT_H;
    let n = bars.len().max(1) as f64;
    let gw = plot_w / n;
    for (i, (label, count)) in bars.iter().enumerate() {
        let bh = if max > 0 {
            *count as f64 / max as f64 * PLOT_H
        } else {
            0.0
        };
        let x = LEFT + gw * i as f64 + gw * 0.15;
        let cx = LEFT + gw * i as f64 + gw / 2.0;
        let _ = write!(
            out,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{bh:.1}\" fill=\"{c}\"><title>{l}: {count}</title></rect><text x=\"{cx:.1}\" y=\"{ty:.1}\" text-anchor=\"middle\">{count}</text><text x=\"{cx:.1}\" y=\"{ly:.1}\" text-anchor=\"middle\" class=\"tk\">{l}</text>",
            y = base - bh,
            w = gw * 0.7,
            c = PALETTE[0],
            l = escape(label),
            ty = base - bh - 4.0,
            ly = base + 16.0
        );
    }
    let _ = write!(
        out,
        "<line x1=\"{LEFT}\" y1=\"{base}\" x2=\"{x2:.1}\" y2=\"{base}\" class=\"ax\"/><line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{base}\" class=\"ax\"/><text x=\"{tx:.1}\" y=\"{base}\" text-anchor=\"end\" class=\"tk\">0</text><text x=\"{tx:.1}\" y=\"{my:.1}\" text-anchor=\"end\" class=\"tk\">{max}</text><text x=\"14\" y=\"{cy:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {cy:.1})\" class=\"al\">{a}</text></svg>",
        x2 = LEFT + plot_w,
        tx = LEFT - 4.0,
        my = TOP + 4.0,
        cy = TOP + PLOT_H / 2.0,
        a = escape(axis)
    );
}

/// Renders `chart` as an inline `<svg>` element; `id` makes its element ids unique.
pub(crate) fn render(chart: &Chart, id: &str) -> String {
    let mut out = String::new();
    match chart {
        Chart::HBars { title, axis, bars } => hbars(&mut out, id, title, axis, bars),
        Chart::Grouped {
            title,
            axis,
            groups,
            series,
            values,
        } => grouped(&mut out, id, title, axis, groups, series, values),
        Chart::Columns { title, axis, bars } => columns(&mut out, id, title, axis, bars),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("a\u{0}b"), "a b");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }

    #[test]
    fn bars_scale_to_the_largest_value_and_escape_labels() {
        let chart = Chart::HBars {
            title: "T <1>".to_owned(),
            axis: "domains".to_owned(),
            bars: vec![
                Bar {
                    label: "<b>".to_owned(),
                    value: 10.0,
                    text: "10".to_owned(),
                },
                Bar {
                    label: "half".to_owned(),
                    value: 5.0,
                    text: "5".to_owned(),
                },
            ],
        };
        let svg = render(&chart, "c1");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("width=\"360.0\"") && svg.contains("width=\"180.0\""));
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"));
        assert!(svg.contains("<title id=\"c1-t\">T &lt;1&gt;</title>"));
        assert!(!svg.contains("http"));
    }

    #[test]
    fn grouped_and_columns_render_every_value() {
        let chart = Chart::Grouped {
            title: "g".to_owned(),
            axis: "share".to_owned(),
            groups: vec!["a".to_owned(), "b".to_owned()],
            series: vec!["s1".to_owned(), "s2".to_owned()],
            values: vec![vec![0.5, 0.25], vec![0.0, 1.0]],
        };
        let svg = render(&chart, "g");
        assert_eq!(svg.matches("<rect").count(), 2 + 4);
        assert!(svg.contains("b, s2: 100.0%"));
        let chart = Chart::Columns {
            title: "h".to_owned(),
            axis: "policies".to_owned(),
            bars: vec![("<1d".to_owned(), 3), ("1d".to_owned(), 0)],
        };
        let svg = render(&chart, "h");
        assert!(svg.contains("&lt;1d: 3"));
        assert_eq!(svg.matches("<rect").count(), 2);
    }
}
