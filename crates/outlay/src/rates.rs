//! `outlay rates set|load|list`: the operator's FX mid rates, the rate source quotes are priced
//! from. A rate for `USDSGD` is the price of one USD in SGD.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use outlay_core::fx::{CurrencyPair, Rate, RateTable};
use outlay_engine::events::rfc3339;
use outlay_engine::{Command, CommandError, Engine, Outcome};
use serde_json::json;

/// The header a rates file must start with.
pub const CSV_HEADER: &str = "currency_pair,rate";

/// Parse a rates file: the header `currency_pair,rate`, then one `PAIR,RATE` per line. Blank
/// lines and lines starting with `#` are ignored. Every problem is reported with its line
/// number; any problem means nothing is loaded.
pub fn parse_csv(text: &str) -> Result<Vec<(CurrencyPair, Rate)>, Vec<String>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut errors = Vec::new();
    let mut rates: Vec<(CurrencyPair, Rate, usize)> = Vec::new();
    let mut header_seen = false;
    for (index, raw) in text.lines().enumerate() {
        let n = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if !header_seen {
            header_seen = true;
            let header: Vec<String> = cells.iter().map(|c| c.to_ascii_lowercase()).collect();
            if header != ["currency_pair", "rate"] {
                errors.push(format!("line {n}: the first line must be the header {CSV_HEADER} (got {line:?})"));
                return Err(errors);
            }
            continue;
        }
        let [pair_text, rate_text] = cells.as_slice() else {
            errors.push(format!("line {n}: expected 2 columns ({CSV_HEADER}), got {}: {line:?}", cells.len()));
            continue;
        };
        let pair = CurrencyPair::parse(pair_text)
            .map_err(|e| errors.push(format!("line {n}: currency_pair {pair_text:?} {e}")))
            .ok();
        let rate = Rate::parse(rate_text).map_err(|e| errors.push(format!("line {n}: rate {rate_text:?} {e}"))).ok();
        if let (Some(pair), Some(rate)) = (pair, rate) {
            if let Some((_, _, first)) = rates.iter().find(|(p, _, _)| *p == pair) {
                errors.push(format!("line {n}: {pair} is already set on line {first}"));
            } else {
                rates.push((pair, rate, n));
            }
        }
    }
    if !header_seen {
        errors.push(format!("the file is empty: it needs the header {CSV_HEADER} and at least one rate"));
    } else if rates.is_empty() && errors.is_empty() {
        errors.push("the file has a header but no rates".to_owned());
    }
    if errors.is_empty() { Ok(rates.into_iter().map(|(p, r, _)| (p, r)).collect()) } else { Err(errors) }
}

/// Parse the command-line form of one rate.
pub fn parse_one(pair: &str, rate: &str) -> anyhow::Result<(CurrencyPair, Rate)> {
    let pair = CurrencyPair::parse(pair).map_err(|e| anyhow::anyhow!("--pair {pair:?} {e}"))?;
    let rate = Rate::parse(rate).map_err(|e| anyhow::anyhow!("--rate {rate:?} {e}"))?;
    Ok((pair, rate))
}

async fn store_rates(engine: &Engine, rates: Vec<(CurrencyPair, Rate)>, source: String) -> anyhow::Result<usize> {
    match engine.execute(Command::SetRates { rates, source }).await {
        Ok(Outcome::RatesSet { count }) => Ok(count),
        Ok(other) => anyhow::bail!("unexpected outcome {other:?}"),
        Err(e @ CommandError::Rejected { .. }) => anyhow::bail!("refused: {e}"),
        Err(e) => Err(e.into()),
    }
}

pub async fn set(engine: Arc<Engine>, pair: &str, rate: &str) -> anyhow::Result<i32> {
    let (pair, rate) = parse_one(pair, rate)?;
    store_rates(&engine, vec![(pair, rate)], "cli".to_owned()).await?;
    println!("{pair} set to {rate} (1 {} = {rate} {})", pair.base, pair.quote);
    Ok(0)
}

pub async fn load(engine: Arc<Engine>, file: &Path) -> anyhow::Result<i32> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let rates = match parse_csv(&text) {
        Ok(rates) => rates,
        Err(errors) => {
            for e in &errors {
                eprintln!("{}: {e}", file.display());
            }
            eprintln!("{}: {} error(s); no rate was loaded", file.display(), errors.len());
            return Ok(1);
        }
    };
    let name = file.file_name().map_or_else(|| file.display().to_string(), |n| n.to_string_lossy().into_owned());
    let count = store_rates(&engine, rates, format!("file:{name}")).await?;
    println!("{count} rate(s) loaded from {}", file.display());
    Ok(0)
}

pub async fn list(engine: Arc<Engine>, as_json: bool) -> anyhow::Result<i32> {
    let stored = engine.store().fx_rates().await?;
    let markup = engine.fx_markup();
    let mut table = RateTable::new();
    for row in &stored {
        if let (Ok(pair), Ok(rate)) = (CurrencyPair::parse(&row.currency_pair), Rate::parse(&row.rate)) {
            table.insert(pair, rate);
        }
    }
    let prices = |pair: &str| CurrencyPair::parse(pair).ok().and_then(|p| table.prices(p, markup));
    if as_json {
        let rates: Vec<_> = stored
            .iter()
            .map(|r| {
                let p = prices(&r.currency_pair);
                json!({
                    "currency_pair": r.currency_pair,
                    "rate": r.rate,
                    "buy_price": p.map(|p| p.buy.to_string()),
                    "sell_price": p.map(|p| p.sell.to_string()),
                    "source": r.source,
                    "updated_at": rfc3339(r.updated_at),
                })
            })
            .collect();
        println!("{}", json!({"markup_bps": markup.bps(), "rates": rates}));
        return Ok(0);
    }
    if stored.is_empty() {
        println!("no rates set: use `outlay rates set --pair USDSGD --rate 1.3456` or `outlay rates load FILE`");
        return Ok(0);
    }
    println!("markup {} bps; buy/sell are the client's prices for one unit of the first currency", markup.bps());
    println!("{:<8}  {:>18}  {:>18}  {:>18}  {:<24}  updated", "pair", "mid", "buy", "sell", "source");
    for r in &stored {
        let p = prices(&r.currency_pair);
        let show = |v: Option<Rate>| v.map_or_else(|| "-".to_owned(), |r| r.to_string());
        println!(
            "{:<8}  {:>18}  {:>18}  {:>18}  {:<24}  {}",
            r.currency_pair,
            r.rate,
            show(p.map(|p| p.buy)),
            show(p.map(|p| p.sell)),
            r.source,
            rfc3339(r.updated_at)
        );
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_rates_file() {
        let text = "\u{feff}currency_pair,rate\r\n# comment\nUSDSGD,1.3456\r\n\n EURUSD , 1.08 \n";
        let rates = parse_csv(text).expect("valid");
        let shown: Vec<String> = rates.iter().map(|(p, r)| format!("{p}={r}")).collect();
        assert_eq!(shown, ["USDSGD=1.3456", "EURUSD=1.08"]);
    }

    #[test]
    fn reports_every_bad_line_with_its_number() {
        let text =
            "currency_pair,rate\nUSDSGD,1.3456\nUSDXYZ,1\nEURUSD,-1\nGBPUSD\nUSDSGD,1.35\nJPYUSD,0.00000000001\n";
        let errors = parse_csv(text).expect_err("invalid");
        assert_eq!(errors.len(), 5, "{errors:#?}");
        assert!(errors[0].starts_with("line 3: currency_pair \"USDXYZ\""), "{}", errors[0]);
        assert!(errors[1].starts_with("line 4: rate \"-1\""), "{}", errors[1]);
        assert!(errors[2].starts_with("line 5: expected 2 columns"), "{}", errors[2]);
        assert_eq!(errors[3], "line 6: USDSGD is already set on line 2");
        assert!(errors[4].starts_with("line 7: rate \"0.00000000001\" has more than 10"), "{}", errors[4]);
    }

    #[test]
    fn needs_the_header_and_a_rate() {
        assert!(parse_csv("").is_err());
        let errors = parse_csv("pair,rate\nUSDSGD,1.3\n").expect_err("bad header");
        assert!(errors[0].starts_with("line 1: the first line must be the header currency_pair,rate"));
        let errors = parse_csv("currency_pair,rate\n").expect_err("no rates");
        assert_eq!(errors, ["the file has a header but no rates"]);
    }
}
