//! The sample data as raw exports from a CRM, a shop, an email platform and
//! web analytics: one CSV each, each with its own habits and dirt.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use chrono::DateTime;

use super::SampleError;
use super::sim::{Catalog, SimCustomer};
use crate::model::rng::Rng;
use crate::model::text::csv_field;
use crate::model::{FieldValue, event_names as ev, group_thousands};

pub struct CsvExport {
    customers: Out,
    orders: Out,
    email: Out,
    web: Out,
    products: Out,
    campaigns: Out,
    rng: Rng,
    /// Rows held back to appear later in the file as duplicates.
    pending_dupes: Vec<String>,
}

struct Out {
    path: String,
    w: BufWriter<File>,
}

impl Out {
    fn create(dir: &Path, name: &str, header: &str) -> Result<Out, SampleError> {
        let path = dir.join(name);
        let file = File::create(&path).map_err(|e| SampleError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        let mut out = Out {
            path: path.display().to_string(),
            w: BufWriter::with_capacity(1 << 20, file),
        };
        out.line(header)?;
        Ok(out)
    }

    fn line(&mut self, line: &str) -> Result<(), SampleError> {
        self.w
            .write_all(line.as_bytes())
            .and_then(|_| self.w.write_all(b"\n"))
            .map_err(|e| SampleError::Io {
                path: self.path.clone(),
                source: e,
            })
    }

    fn finish(mut self) -> Result<(), SampleError> {
        self.w.flush().map_err(|e| SampleError::Io {
            path: self.path.clone(),
            source: e,
        })
    }
}

fn row(fields: &[String]) -> String {
    fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",")
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

fn fmt_ts(ts: i64, fmt: &str) -> String {
    DateTime::from_timestamp(ts, 0)
        .map(|d| d.format(fmt).to_string())
        .unwrap_or_default()
}

fn money(v: f64, symbol: bool) -> String {
    if !symbol {
        return format!("{v:.2}");
    }
    let cents = (v * 100.0).round() as i64;
    format!("${}.{:02}", group_thousands(cents / 100), cents % 100)
}

impl CsvExport {
    pub fn create(dir: &Path, seed: u64) -> Result<CsvExport, SampleError> {
        Ok(CsvExport {
            customers: Out::create(
                dir,
                "customers.csv",
                "customer_id,email,first_name,last_name,birth_date,gender,city,country,signup_date,email_opt_in,loyalty_tier,loyalty_points,favorite_category",
            )?,
            orders: Out::create(
                dir,
                "orders.csv",
                "order_id,customer_id,order_date,amount,product_sku,category,items",
            )?,
            email: Out::create(
                dir,
                "email_events.csv",
                "customer_id,event,campaign_id,timestamp",
            )?,
            web: Out::create(
                dir,
                "web_events.csv",
                "customer_id,event,event_time,url,product_sku,category,cart_value",
            )?,
            products: Out::create(dir, "products.csv", "sku,name,category,price")?,
            campaigns: Out::create(dir, "campaigns.csv", "campaign_id,name,subject,sent_at")?,
            rng: Rng::derive(seed, 0xD127, 0),
            pending_dupes: Vec::new(),
        })
    }

    pub fn catalog(&mut self, cat: &Catalog) -> Result<(), SampleError> {
        for p in &cat.products {
            let line = row(&[
                p.sku.clone(),
                p.name.clone(),
                opt(&p.category),
                p.price.map(|v| money(v, true)).unwrap_or_default(),
            ]);
            self.products.line(&line)?;
        }
        for c in &cat.campaigns {
            let line = row(&[
                c.id.clone(),
                c.name.clone(),
                opt(&c.subject),
                c.sent_at
                    .map(|t| fmt_ts(t, "%d.%m.%Y %H:%M"))
                    .unwrap_or_default(),
            ]);
            self.campaigns.line(&line)?;
        }
        Ok(())
    }

    pub fn customer(&mut self, c: &SimCustomer) -> Result<(), SampleError> {
        let rng = &mut self.rng;
        let p = &c.customer;
        let mut email = opt(&p.email);
        let dirt = rng.f64();
        if dirt < 0.01 {
            // An address that does not pass validation.
            email = match rng.index(4) {
                0 => email.replace('@', ""),
                1 => email.replace('.', " "),
                2 => email[..email.find('@').unwrap_or(0)].to_string() + "@",
                _ => email.replace('@', "@@"),
            };
        } else if dirt < 0.03 {
            email = format!(" {} ", mixed_case(&email, rng));
        }
        let mut first = opt(&p.first_name);
        let mut last = opt(&p.last_name);
        if rng.chance(0.03) {
            if rng.chance(0.5) {
                first.clear();
            } else {
                last.clear();
            }
        }
        let signup = p
            .signup_at
            .map(|t| {
                if rng.chance(0.1) {
                    fmt_ts(t, "%Y-%m-%d")
                } else {
                    fmt_ts(t, "%Y-%m-%d %H:%M:%S")
                }
            })
            .unwrap_or_default();
        let custom = |k: &str| match p.custom.get(k) {
            Some(FieldValue::Text(s)) => s.clone(),
            Some(FieldValue::Number(n)) => format!("{n}"),
            Some(FieldValue::Bool(b)) => b.to_string(),
            _ => String::new(),
        };
        let mut fields = vec![
            p.external_id.clone(),
            email,
            first,
            last,
            p.birth_date
                .map(|d| d.format("%m/%d/%Y").to_string())
                .unwrap_or_default(),
            opt(&p.gender),
            opt(&p.city),
            opt(&p.country),
            signup,
            if p.email_consent { "yes" } else { "no" }.to_string(),
            custom("loyalty_tier"),
            custom("loyalty_points"),
            custom("favorite_category"),
        ];
        self.customers.line(&row(&fields))?;
        // Duplicates: the same person exported again by another system.
        let d = self.rng.f64();
        if d < 0.01 {
            // Same email in another case, under a web-shop id.
            fields[0] = p.external_id.replacen('C', "W", 1);
            fields[1] = mixed_case(&opt(&p.email), &mut self.rng);
            fields[6] = String::new();
            self.pending_dupes.push(row(&fields));
        } else if d < 0.015 {
            // Same key again with an updated city.
            fields[6] = "Berlin".into();
            self.pending_dupes.push(row(&fields));
        }
        if self.pending_dupes.len() >= 16 {
            for line in std::mem::take(&mut self.pending_dupes) {
                self.customers.line(&line)?;
            }
        }

        for e in &c.events {
            let cid = &p.external_id;
            match e.name.as_str() {
                ev::ORDER => {
                    let order_id = e
                        .properties
                        .as_ref()
                        .and_then(|m| m.get("order_id"))
                        .and_then(|v| v.as_str())
                        .unwrap_or("")
                        .to_string();
                    let items = e
                        .properties
                        .as_ref()
                        .and_then(|m| m.get("items"))
                        .map(|v| v.to_string())
                        .unwrap_or_default();
                    let mut time = e.time;
                    if self.rng.chance(0.0005) {
                        // A typo'd year: an order dated ten years ahead.
                        time += 3652 * 86_400;
                    }
                    let line = row(&[
                        order_id,
                        cid.clone(),
                        fmt_ts(time, "%Y-%m-%dT%H:%M:%SZ"),
                        e.value
                            .map(|v| money(v, self.rng.chance(0.4)))
                            .unwrap_or_default(),
                        opt(&e.product),
                        opt(&e.category),
                        items,
                    ]);
                    self.orders.line(&line)?;
                }
                ev::EMAIL_SENT | ev::EMAIL_OPEN | ev::EMAIL_CLICK | ev::UNSUBSCRIBE => {
                    let line = row(&[
                        cid.clone(),
                        e.name.clone(),
                        opt(&e.campaign),
                        e.time.to_string(),
                    ]);
                    self.email.line(&line)?;
                }
                _ => {
                    let url = e
                        .properties
                        .as_ref()
                        .and_then(|m| m.get("url"))
                        .and_then(|v| v.as_str())
                        .unwrap_or("")
                        .to_string();
                    // A few visitors whose customer record never made it to the CRM.
                    let who = if self.rng.chance(0.001) {
                        format!("C9{:06}", self.rng.range(0, 999_999))
                    } else {
                        cid.clone()
                    };
                    let line = row(&[
                        who,
                        e.name.clone(),
                        fmt_ts(e.time, "%Y-%m-%d %H:%M:%S"),
                        url,
                        opt(&e.product),
                        opt(&e.category),
                        e.value.map(|v| format!("{v:.2}")).unwrap_or_default(),
                    ]);
                    self.web.line(&line)?;
                }
            }
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<(), SampleError> {
        for line in std::mem::take(&mut self.pending_dupes) {
            self.customers.line(&line)?;
        }
        self.customers.finish()?;
        self.orders.finish()?;
        self.email.finish()?;
        self.web.finish()?;
        self.products.finish()?;
        self.campaigns.finish()
    }
}

fn mixed_case(s: &str, rng: &mut Rng) -> String {
    let mut out = String::with_capacity(s.len());
    let mut cap_next = true;
    for ch in s.chars() {
        if cap_next || rng.chance(0.05) {
            out.extend(ch.to_uppercase());
        } else {
            out.push(ch);
        }
        cap_next = matches!(ch, '.' | '@' | '_');
    }
    if out == s {
        out = s.to_uppercase();
    }
    out
}
