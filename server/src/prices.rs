//! What a model's tokens cost, in US dollars: a built-in table of the providers'
//! list prices, a TOML file that adds to it or overrides it (`--prices FILE`),
//! and a run's cost from its tokens by model.
//!
//! Prices are USD per million tokens of each kind the providers bill: input not
//! read from the cache, output, cache writes and cache reads. A model is found
//! by its exact name, else as a dated release of a name in the table
//! (`claude-sonnet-4-5-20250929`, `gpt-5-mini-2025-08-07`, `…@20250929`,
//! `…-latest`): never by a mere prefix, which would price `gpt-4.1-mini` as
//! `gpt-4.1` or `o3-pro` as `o3`. A run that used a model with no price has no
//! cost, with the reason naming the model: a cost that left some calls out, or
//! priced them as another model, would read as the whole.
//!
//! The file:
//!
//! ```toml
//! [models."claude-sonnet-4-5"]
//! input = 3.0
//! output = 15.0
//! cache_write = 3.75
//! cache_read = 0.30
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::collect::transcripts::Usage;

/// One model's prices, USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Input tokens not read from or written to the cache.
    pub input: f64,
    /// Output tokens (reasoning included).
    pub output: f64,
    /// Input tokens written to the cache (Anthropic's 5-minute cache: 1.25 ×
    /// input; OpenAI bills none).
    pub cache_write: f64,
    /// Input tokens read from the cache.
    pub cache_read: f64,
}

/// The providers' list prices when this table was written (2025-11: Anthropic's
/// and OpenAI's pricing pages). Prices change: `--prices FILE` overrides them.
const BUILTIN: &[(&str, Price)] = &[
    ("claude-opus-4-5", price(5.0, 25.0, 6.25, 0.50)),
    ("claude-opus-4-1", price(15.0, 75.0, 18.75, 1.50)),
    ("claude-opus-4", price(15.0, 75.0, 18.75, 1.50)),
    ("claude-sonnet-4-5", price(3.0, 15.0, 3.75, 0.30)),
    ("claude-sonnet-4", price(3.0, 15.0, 3.75, 0.30)),
    ("claude-3-7-sonnet", price(3.0, 15.0, 3.75, 0.30)),
    ("claude-haiku-4-5", price(1.0, 5.0, 1.25, 0.10)),
    ("claude-3-5-haiku", price(0.80, 4.0, 1.0, 0.08)),
    ("gpt-5", price(1.25, 10.0, 0.0, 0.125)),
    ("gpt-5-codex", price(1.25, 10.0, 0.0, 0.125)),
    ("gpt-5-mini", price(0.25, 2.0, 0.0, 0.025)),
    ("gpt-5-nano", price(0.05, 0.40, 0.0, 0.005)),
    ("gpt-5.1", price(1.25, 10.0, 0.0, 0.125)),
    ("gpt-5.1-codex", price(1.25, 10.0, 0.0, 0.125)),
    ("gpt-4.1", price(2.0, 8.0, 0.0, 0.50)),
    ("gpt-4.1-mini", price(0.40, 1.60, 0.0, 0.10)),
    ("gpt-4.1-nano", price(0.10, 0.40, 0.0, 0.025)),
    ("o3", price(2.0, 8.0, 0.0, 0.50)),
    ("o4-mini", price(1.10, 4.40, 0.0, 0.275)),
];

/// What a dated release adds to a model's name: `-20250929`, `-2025-08-07`,
/// `@20250929`, `-latest`. A date only: `-7-20260301` is another model
/// (Opus 4.7's release, not Opus 4's).
fn is_release_suffix(rest: &str) -> bool {
    // `YYYYMMDD`, or `YYYY-MM-DD` with its dashes where they belong.
    let date = |d: &str, dashes: &[usize]| {
        d.bytes().enumerate().all(|(i, b)| if dashes.contains(&i) { b == b'-' } else { b.is_ascii_digit() })
    };
    match rest.strip_prefix('-').or_else(|| rest.strip_prefix('@')) {
        Some("latest") => true,
        Some(d) if d.len() == 8 => date(d, &[]),
        Some(d) if d.len() == 10 => date(d, &[4, 7]),
        _ => false,
    }
}

const fn price(input: f64, output: f64, cache_write: f64, cache_read: f64) -> Price {
    Price { input, output, cache_write, cache_read }
}

/// The most models a prices file may name (it is input: bounded).
const MAX_MODELS: usize = 1000;

/// The price table.
#[derive(Debug, Clone, PartialEq)]
pub struct Prices {
    models: BTreeMap<String, Price>,
}

/// A prices file PerfMon cannot use, and why (with the line, where TOML says).
#[derive(Debug, thiserror::Error)]
pub enum PricesError {
    /// The file could not be read.
    #[error("cannot read the prices file {path}: {err}")]
    Read { path: String, err: std::io::Error },
    /// It is not a prices table.
    #[error("the prices file {path} is not a prices table: {err}")]
    Parse { path: String, err: String },
    /// A price that is not a finite amount of at least 0.
    #[error(
        "the prices file {path}: {model}.{kind} is {value}: a price is a finite number of dollars, 0 or more"
    )]
    Value { path: String, model: String, kind: &'static str, value: f64 },
    /// Too many models.
    #[error("the prices file {path} names {count} models: at most {MAX_MODELS}")]
    TooMany { path: String, count: usize },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    models: BTreeMap<String, Price>,
}

impl Default for Prices {
    fn default() -> Self {
        Prices::builtin()
    }
}

impl Prices {
    /// The built-in table.
    pub fn builtin() -> Prices {
        Prices { models: BUILTIN.iter().map(|(name, price)| ((*name).to_owned(), *price)).collect() }
    }

    /// The built-in table with `text` (a prices file's TOML, named `path` in
    /// errors) added over it.
    pub fn with_toml(text: &str, path: &str) -> Result<Prices, PricesError> {
        let file: File = toml::from_str(text)
            .map_err(|err| PricesError::Parse { path: path.to_owned(), err: err.to_string() })?;
        if file.models.len() > MAX_MODELS {
            return Err(PricesError::TooMany { path: path.to_owned(), count: file.models.len() });
        }
        let mut prices = Prices::builtin();
        for (model, price) in file.models {
            let kinds = [
                ("input", price.input),
                ("output", price.output),
                ("cache_write", price.cache_write),
                ("cache_read", price.cache_read),
            ];
            if let Some((kind, value)) = kinds.into_iter().find(|(_, v)| !v.is_finite() || *v < 0.0) {
                return Err(PricesError::Value { path: path.to_owned(), model, kind, value });
            }
            prices.models.insert(model, price);
        }
        Ok(prices)
    }

    /// The built-in table with the file at `path` added over it. Blocking.
    pub fn load(path: &Path) -> Result<Prices, PricesError> {
        let name = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|err| PricesError::Read { path: name.clone(), err })?;
        Prices::with_toml(&text, &name)
    }

    /// `model`'s price: by its exact name, else as a dated release of a name
    /// in the table (the longest such name).
    pub fn of(&self, model: &str) -> Option<&Price> {
        self.models.get(model).or_else(|| {
            self.models
                .iter()
                .filter(|(name, _)| model.strip_prefix(name.as_str()).is_some_and(is_release_suffix))
                .max_by_key(|(name, _)| name.len())
                .map(|(_, price)| price)
        })
    }

    /// What `by_model` cost, in dollars; why it cannot be told when a model
    /// (or a turn naming none, under `""`) has no price.
    pub fn cost(&self, by_model: &BTreeMap<String, Usage>) -> Result<f64, String> {
        let mut dollars = 0.0;
        let mut unpriced = Vec::new();
        for (model, usage) in by_model.iter().filter(|(_, u)| u.tokens() > 0) {
            match self.of(model) {
                Some(p) => {
                    let per_million = |n: u64, usd: f64| n as f64 * usd / 1_000_000.0;
                    dollars += per_million(usage.input, p.input)
                        + per_million(usage.output, p.output)
                        + per_million(usage.cache_write, p.cache_write)
                        + per_million(usage.cache_read, p.cache_read);
                }
                None if model.is_empty() => unpriced.push("turns that named no model".to_owned()),
                None => unpriced.push(model.clone()),
            }
        }
        if unpriced.is_empty() {
            Ok(dollars)
        } else {
            Err(format!("no price for {} (give one with --prices FILE)", unpriced.join(", ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(input: u64, output: u64, cache_write: u64, cache_read: u64) -> Usage {
        Usage { input, output, cache_write, cache_read }
    }

    #[test]
    fn a_dated_release_is_priced_as_its_model_and_another_model_never_is() {
        let prices = Prices::builtin();
        assert_eq!(prices.of("claude-sonnet-4-5-20250929").map(|p| p.input), Some(3.0));
        assert_eq!(prices.of("claude-opus-4-1-20250805").map(|p| p.input), Some(15.0));
        assert_eq!(prices.of("claude-opus-4-5-20251101").map(|p| p.input), Some(5.0));
        assert_eq!(prices.of("claude-sonnet-4-5@20250929").map(|p| p.input), Some(3.0));
        assert_eq!(prices.of("gpt-5-mini-2025-08-07").map(|p| p.output), Some(2.0));
        assert_eq!(prices.of("gpt-5.1-codex").map(|p| p.output), Some(10.0));
        assert_eq!(prices.of("gpt-4.1-mini").map(|p| p.input), Some(0.40), "its own price, not gpt-4.1's");
        // Not a release of a priced model: no price rather than a wrong one.
        for other in [
            "o3-pro",
            "gpt-5-pro",
            "gpt-5-codex-mini",
            "claude-opus-4-7",
            "claude-opus-4-7-20260301",
            "claude-sonnet-4-5-v2@20250929",
            "gpt-5-2025-0807",
            "claude-opus-4-1-2025080",
            "mystery-model-9",
        ] {
            assert_eq!(prices.of(other), None, "{other}");
        }
    }

    #[test]
    fn a_runs_cost_sums_each_models_kinds_or_names_what_has_no_price() {
        let prices = Prices::builtin();
        let mut by_model = BTreeMap::new();
        by_model.insert("claude-sonnet-4-5".to_owned(), usage(1_000_000, 100_000, 200_000, 2_000_000));
        by_model.insert("gpt-5-codex".to_owned(), usage(500_000, 10_000, 0, 1_000_000));
        // 3 + 1.5 + 0.75 + 0.6, then 0.625 + 0.1 + 0.125.
        let cost = prices.cost(&by_model).expect("priced");
        assert!((cost - 6.7).abs() < 1e-9, "{cost}");
        by_model.insert("mystery-model-9".to_owned(), usage(1, 1, 0, 0));
        by_model.insert(String::new(), usage(1, 0, 0, 0));
        let why = prices.cost(&by_model).expect_err("not all priced");
        assert!(why.contains("mystery-model-9") && why.contains("named no model"), "{why}");
    }

    #[test]
    fn a_prices_file_adds_and_overrides_and_bad_ones_say_what_is_wrong() {
        let text = r#"
            [models."mystery-model-9"]
            input = 1.0
            output = 2.0
            cache_write = 0.0
            cache_read = 0.5

            [models."claude-sonnet-4-5"]
            input = 2.0
            output = 10.0
            cache_write = 2.5
            cache_read = 0.2
        "#;
        let prices = Prices::with_toml(text, "prices.toml").expect("a table");
        assert_eq!(prices.of("mystery-model-9").map(|p| p.cache_read), Some(0.5));
        assert_eq!(prices.of("claude-sonnet-4-5-20250929").map(|p| p.input), Some(2.0));
        assert_eq!(prices.of("claude-opus-4-1").map(|p| p.input), Some(15.0), "the rest stays built in");

        let missing =
            Prices::with_toml("[models.x]\ninput = 1.0\noutput = 2.0\n", "p.toml").expect_err("incomplete");
        assert!(
            missing.to_string().contains("p.toml") && missing.to_string().contains("cache_write"),
            "{missing}"
        );
        let unknown = Prices::with_toml(
            "[models.x]\ninput = 1\noutput = 2\ncache_write = 0\ncache_read = 0\nfoo = 1\n",
            "p.toml",
        )
        .expect_err("an unknown field");
        assert!(unknown.to_string().contains("foo"), "{unknown}");
        let negative = Prices::with_toml(
            "[models.x]\ninput = -1.0\noutput = 2.0\ncache_write = 0.0\ncache_read = 0.0\n",
            "p.toml",
        )
        .expect_err("negative");
        assert!(negative.to_string().contains("x.input is -1"), "{negative}");
        let broken = Prices::with_toml("[models.x\ninput = 1", "p.toml").expect_err("not TOML");
        assert!(broken.to_string().contains("line 1"), "{broken}");
    }
}
