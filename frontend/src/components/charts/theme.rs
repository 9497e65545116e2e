//! The charts' colours, read from the page's CSS variables (`styles.css`
//! defines them for dark and light schemes), so one palette serves the page and
//! its canvases, and a chart redrawn after the scheme changes picks the new one.

/// The colours a chart draws with.
#[derive(Debug, Clone, PartialEq)]
pub struct Palette {
    /// Axis labels.
    pub text: String,
    /// Grid lines and ticks.
    pub grid: String,
    /// Run bands.
    pub band: String,
    /// Run band labels.
    pub band_text: String,
    /// What failed: a failed run's strip and label.
    pub critical: String,
    /// The series' colours, in order.
    pub series: Vec<String>,
    /// The per-core heat strip: cold and hot ends.
    pub heat: (String, String),
}

/// How many series colours the palette has (`--series-1` …).
pub const SERIES_COLOURS: usize = 6;

impl Palette {
    /// The palette the page's stylesheet gives now.
    pub fn current() -> Palette {
        let style = web_sys::window()
            .zip(web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()))
            .and_then(|(w, root)| w.get_computed_style(&root).ok().flatten());
        let var = |name: &str, fallback: &str| {
            style
                .as_ref()
                .and_then(|s| s.get_property_value(name).ok())
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| fallback.to_owned())
        };
        const FALLBACK: [&str; SERIES_COLOURS] =
            ["#6ea8fe", "#c482ff", "#3ecf8e", "#f5b94a", "#f0616d", "#4dd0e1"];
        Palette {
            text: var("--muted", "#8b91a1"),
            grid: var("--border", "#2a2f3d"),
            band: var("--band", "rgba(110, 168, 254, 0.12)"),
            band_text: var("--text", "#e6e8ee"),
            critical: var("--critical", "#f0616d"),
            series: (0..SERIES_COLOURS).map(|i| var(&format!("--series-{}", i + 1), FALLBACK[i])).collect(),
            heat: (var("--heat-cold", "#1f2330"), var("--heat-hot", "#f0616d")),
        }
    }

    /// The colour of series `i`.
    pub fn colour(&self, i: usize) -> &str {
        &self.series[i % self.series.len().max(1)]
    }
}

#[cfg(test)]
mod tests {
    //! The page's colours, read from `styles.css` as the browser would, held to
    //! WCAG 2.1 AA in both schemes: text 4.5:1 on every surface it sits on,
    //! chart lines, the accent and the verdict bar's shares 3:1 (non-text
    //! contrast).

    use std::collections::HashMap;

    const CSS: &str = include_str!("../../../styles.css");

    /// `text` without its `/* … */` comments.
    fn uncommented(text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("/*") {
            out.push_str(&rest[..start]);
            rest = rest[start..].find("*/").map_or("", |end| &rest[start + end + 2..]);
        }
        out + rest
    }

    /// The `--name: #rrggbb;` variables of the block `block` starts with.
    fn variables(block: &str) -> HashMap<String, String> {
        let open = block.find('{').map_or(0, |i| i + 1);
        let body = uncommented(&block[open..block.find('}').unwrap_or(block.len())]);
        body.split(';')
            .filter_map(|decl| {
                let (name, value) = decl.split_once(':')?;
                let name = name.trim().rsplit(|c: char| c.is_whitespace() || c == '{').next()?.to_owned();
                let value = value.trim();
                (name.starts_with("--") && value.starts_with('#')).then(|| (name, value.to_owned()))
            })
            .collect()
    }

    fn schemes() -> [(&'static str, HashMap<String, String>); 2] {
        let dark = variables(&CSS[CSS.find(":root {").expect("a :root block")..]);
        let light_at = CSS.find("@media (prefers-color-scheme: light)").expect("a light scheme");
        let light_root = light_at + CSS[light_at..].find(":root {").expect("its :root block");
        let mut light = dark.clone();
        light.extend(variables(&CSS[light_root..]));
        [("dark", dark), ("light", light)]
    }

    fn luminance(hex: &str) -> f64 {
        let channel = |i: usize| {
            let c = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0)) / 255.0;
            if c <= 0.03928 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        };
        0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)
    }

    fn contrast(a: &str, b: &str) -> f64 {
        let (x, y) = (luminance(a), luminance(b));
        (x.max(y) + 0.05) / (x.min(y) + 0.05)
    }

    #[test]
    fn both_schemes_pass_wcag_aa() {
        for (scheme, vars) in schemes() {
            let get = |name: &str| vars.get(name).unwrap_or_else(|| panic!("{scheme}: no {name}")).as_str();
            for text in ["--text", "--muted", "--accent", "--normal", "--warning", "--critical", "--mock"] {
                for surface in ["--bg", "--surface", "--surface-2"] {
                    let ratio = contrast(get(text), get(surface));
                    assert!(ratio >= 4.5, "{scheme}: {text} on {surface} is {ratio:.2}:1, AA needs 4.5:1");
                }
            }
            let ratio = contrast(get("--warn-fg"), get("--warn-bg"));
            assert!(ratio >= 4.5, "{scheme}: the banner's text is {ratio:.2}:1");
            for i in 1..=super::SERIES_COLOURS {
                let series = format!("--series-{i}");
                let ratio = contrast(get(&series), get("--surface"));
                assert!(ratio >= 3.0, "{scheme}: {series} on a chart is {ratio:.2}:1, AA needs 3:1");
            }
            // The verdict's bar: each share's colour against the report's surface.
            for kind in
                ["cpu", "cpu-wait", "io", "memory", "idle", "gpu-busy", "gpu-starved", "gpu-throttled"]
            {
                let name = format!("--why-{kind}");
                let ratio = contrast(get(&name), get("--surface"));
                assert!(ratio >= 3.0, "{scheme}: {name} in the time bar is {ratio:.2}:1, AA needs 3:1");
            }
        }
    }

    #[test]
    fn the_check_can_fail() {
        assert!(contrast("#777777", "#888888") < 3.0);
        assert!((contrast("#000000", "#ffffff") - 21.0).abs() < 1e-9);
    }
}
