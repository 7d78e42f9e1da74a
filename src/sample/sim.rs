//! The simulation behind the sample data: a product catalog, a campaign
//! calendar, and one customer at a time with a lifecycle that drives their
//! orders, email engagement and web visits.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};

use super::lists::*;
use crate::model::event_names as ev;
use crate::model::rng::Rng;
use crate::model::time::{DAY, date_to_ts, start_of_day, ts_to_date};
use crate::model::{Campaign, Customer, Event, FieldValue, Product, Template};

/// How a customer relates to the shop over time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lifecycle {
    /// Signed up in the last 60 days.
    New,
    /// Orders regularly, up to today.
    Loyal,
    /// Orders a few times a year.
    Occasional,
    /// Used to order, has not for at least 61 days.
    Lapsed,
    /// Visits and reads email, never buys.
    Browser,
}

impl Lifecycle {
    pub const ALL: [Lifecycle; 5] = [
        Lifecycle::New,
        Lifecycle::Loyal,
        Lifecycle::Occasional,
        Lifecycle::Lapsed,
        Lifecycle::Browser,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Lifecycle::New => "new",
            Lifecycle::Loyal => "loyal",
            Lifecycle::Occasional => "occasional",
            Lifecycle::Lapsed => "lapsed",
            Lifecycle::Browser => "browser",
        }
    }
}

const LIFECYCLE_SHARES: &[(Lifecycle, f64)] = &[
    (Lifecycle::New, 0.10),
    (Lifecycle::Loyal, 0.12),
    (Lifecycle::Occasional, 0.30),
    (Lifecycle::Lapsed, 0.23),
    (Lifecycle::Browser, 0.25),
];

/// Share of customers who gave email consent when they signed up.
pub const CONSENT_SHARE: f64 = 0.85;

/// How many days of behaviour the sample holds.
pub const HISTORY_DAYS: i64 = 730;

/// Everything that is not a customer: products, campaigns, templates.
#[derive(Clone, Debug)]
pub struct Catalog {
    pub products: Vec<Product>,
    /// Indexes into `products` by category.
    pub by_category: Vec<(String, Vec<usize>)>,
    pub campaigns: Vec<Campaign>,
    pub templates: Vec<Template>,
}

/// One simulated customer: profile, lifecycle and events (oldest first,
/// `customer_id` not yet assigned).
#[derive(Clone, Debug)]
pub struct SimCustomer {
    pub index: u64,
    pub lifecycle: Lifecycle,
    pub customer: Customer,
    pub events: Vec<Event>,
}

pub fn catalog(seed: u64, now: i64) -> Catalog {
    let mut rng = Rng::derive(seed, 0xCA7A, 0);
    let mut products = Vec::new();
    let mut by_category = Vec::new();
    for (ci, (category, nouns, lo, hi)) in CATEGORIES.iter().enumerate() {
        let mut idx = Vec::new();
        for noun in nouns.iter() {
            let variants = 2 + rng.index(3);
            let start = rng.index(PRODUCT_ADJECTIVES.len());
            for v in 0..variants {
                let adj = PRODUCT_ADJECTIVES[(start + v * 5) % PRODUCT_ADJECTIVES.len()];
                // Log-uniform price: many cheap items, few expensive ones.
                let price = (lo.ln() + rng.f64() * (hi.ln() - lo.ln())).exp();
                let price = (price.round() - 0.01).max(0.99);
                idx.push(products.len());
                products.push(Product {
                    sku: format!(
                        "SKU-{}-{:03}",
                        &category[..3].to_uppercase(),
                        ci * 100 + idx.len()
                    ),
                    name: format!("{adj} {noun}"),
                    category: Some(category.to_string()),
                    price: Some(price),
                });
            }
        }
        by_category.push((category.to_string(), idx));
    }

    let templates = sample_templates(now);

    // Two campaigns a week (Tuesday and Friday, 09:00 UTC) over the history.
    let mut campaigns = Vec::new();
    let first_day = ts_to_date(now - HISTORY_DAYS * DAY);
    let last_day = ts_to_date(now);
    let mut day = first_day;
    while day < last_day {
        let wd = day.weekday().num_days_from_monday();
        if wd == 1 || wd == 4 {
            let sent_at = date_to_ts(day) + 9 * 3600;
            if sent_at < now {
                let (theme, subject) = *rng.pick(CAMPAIGN_THEMES);
                let (category, _, _, _) = *rng.pick(CATEGORIES);
                let subject = subject.replace("{category}", &category.to_lowercase());
                // Newsletter on Tuesdays, the VIP offer for members-only
                // sends, the win-back offer on other Fridays.
                let template_id = if theme == "Members only" {
                    2
                } else if wd == 1 {
                    1
                } else {
                    3
                };
                campaigns.push(Campaign {
                    id: format!("CMP-{}", day.format("%Y%m%d")),
                    name: format!("{theme} {}", day.format("%Y-%m-%d")),
                    subject: Some(subject),
                    sent_at: Some(sent_at),
                    template_id: Some(template_id),
                });
            }
        }
        day += Duration::days(1);
    }
    Catalog {
        products,
        by_category,
        campaigns,
        templates,
    }
}

/// How much more (or less) email is opened at time `t` than on average:
/// a peak in mid-December, a trough in mid-June.
fn season(t: i64) -> f64 {
    use chrono::Datelike;
    let day = f64::from(ts_to_date(t).ordinal());
    1.0 + 0.3 * (std::f64::consts::TAU * (day - 350.0) / 365.25).cos()
}

/// The starter templates (ids 1..=5 in a fresh workspace: newsletter,
/// VIP offer, win-back, abandoned cart, welcome).
fn sample_templates(now: i64) -> Vec<Template> {
    crate::email::starter::starter_templates(start_of_day(now))
}

fn random_birth_date(rng: &mut Rng, now: i64) -> NaiveDate {
    // Triangular-ish age distribution between 18 and 80, peaking in the 30s.
    let age = 18.0 + 62.0 * (rng.f64() * 0.6 + rng.f64() * 0.4).powf(1.3);
    let days = (age * 365.25) as i64 + rng.range(0, 365);
    ts_to_date(now - days * DAY)
}

fn email_local(rng: &mut Rng, first: &str, last: &str, index: u64) -> String {
    let f = first.to_lowercase();
    let l: String = last
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    // The customer number keeps every generated address unique.
    match rng.index(4) {
        0 => format!("{f}.{l}{index}"),
        1 => format!("{}{l}{index}", &f[..1]),
        2 => format!("{f}_{l}.{index}"),
        _ => format!("{f}{index}"),
    }
}

/// Times of a Poisson process with `rate` events per day over `[from, to)`.
fn poisson_times(rng: &mut Rng, rate_per_day: f64, from: i64, to: i64) -> Vec<i64> {
    let mut out = Vec::new();
    if rate_per_day <= 0.0 || to <= from {
        return out;
    }
    let mean = DAY as f64 / rate_per_day;
    let mut t = from as f64 + rng.exp(mean);
    while (t as i64) < to {
        out.push(t as i64);
        t += rng.exp(mean);
    }
    out
}

fn event(name: &str, time: i64) -> Event {
    Event {
        name: name.to_string(),
        time,
        ..Event::default()
    }
}

fn props(
    pairs: &[(&str, serde_json::Value)],
) -> Option<serde_json::Map<String, serde_json::Value>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

pub fn simulate_customer(seed: u64, now: i64, cat: &Catalog, index: u64) -> SimCustomer {
    let mut rng = Rng::derive(seed, 0xC057, index);
    let lifecycle = *rng.weighted(LIFECYCLE_SHARES);
    let gender_roll = rng.f64();
    let any_names = if rng.chance(0.5) {
        FEMALE_NAMES
    } else {
        MALE_NAMES
    };
    let (gender, first) = if gender_roll < 0.51 {
        (Some("female"), *rng.pick(FEMALE_NAMES))
    } else if gender_roll < 0.97 {
        (Some("male"), *rng.pick(MALE_NAMES))
    } else if gender_roll < 0.985 {
        (Some("other"), *rng.pick(any_names))
    } else {
        (None, *rng.pick(any_names))
    };
    let last = *rng.pick(LAST_NAMES);
    let (city, country) = {
        let pairs: Vec<((&str, &str), f64)> =
            CITIES.iter().map(|(c, k, w)| ((*c, *k), *w)).collect();
        *rng.weighted(&pairs)
    };
    let domain = *rng.weighted(EMAIL_DOMAINS);
    let email = format!("{}@{domain}", email_local(&mut rng, first, last, index + 1));
    let initial_consent = rng.chance(CONSENT_SHARE);
    let birth_date = if rng.chance(0.92) {
        Some(random_birth_date(&mut rng, now))
    } else {
        None
    };

    let horizon = now - HISTORY_DAYS * DAY;
    let lapse_at = now - rng.range(61, 500) * DAY;
    let signup_at = match lifecycle {
        Lifecycle::New => now - rng.range(0, 60 * DAY),
        Lifecycle::Lapsed => rng.range(now - 1095 * DAY, lapse_at - 30 * DAY),
        _ => now - rng.range(60 * DAY, 1095 * DAY),
    };
    let active_from = signup_at.max(horizon);
    // Favourite categories: most orders and views fall in them.
    let fav1 = rng.index(cat.by_category.len());
    let fav2 = rng.index(cat.by_category.len());
    // Email affinity tier: fans get most campaigns, the rest a trickle.
    let tier_roll = rng.f64();
    let fan_share = match lifecycle {
        Lifecycle::Loyal => 0.16,
        Lifecycle::Browser => 0.12,
        Lifecycle::New => 0.10,
        _ => 0.06,
    };
    let (send_p, open_p) = if tier_roll < fan_share {
        (0.35, 0.55)
    } else if tier_roll < fan_share + 0.45 {
        (0.025, 0.25)
    } else {
        (0.012, 0.08)
    };
    let big_ticket = lifecycle == Lifecycle::Occasional && rng.chance(0.04);
    // A few loyal customers order every few days: the VIPs.
    let superfan = lifecycle == Lifecycle::Loyal && rng.chance(0.04);

    let life = Life {
        cat,
        seed,
        index,
        now,
        lifecycle,
        signup_at,
        lapse_at,
        active_from,
        fav1,
        fav2,
        send_p,
        open_p,
        big_ticket,
        superfan,
    };
    let mut events: Vec<Event> = Vec::new();
    let total_spend = life.orders(&mut rng, &mut events);
    life.sessions(&mut rng, &mut events);
    let consent = life.emails(&mut rng, &mut events, initial_consent);

    events.retain(|e| e.time >= horizon.max(signup_at) && e.time < now);
    events.sort_by_key(|e| e.time);

    let tier = match total_spend {
        s if s >= 2000.0 => "platinum",
        s if s >= 800.0 => "gold",
        s if s >= 200.0 => "silver",
        _ => "bronze",
    };
    let mut custom = BTreeMap::new();
    custom.insert(
        "loyalty_tier".to_string(),
        FieldValue::Text(tier.to_string()),
    );
    custom.insert(
        "loyalty_points".to_string(),
        FieldValue::Number(total_spend.floor()),
    );
    custom.insert(
        "favorite_category".to_string(),
        FieldValue::Text(cat.by_category[fav1].0.clone()),
    );

    let customer = Customer {
        id: 0,
        external_id: format!("C{:07}", index + 1),
        email: Some(email),
        first_name: Some(first.to_string()),
        last_name: Some(last.to_string()),
        birth_date,
        gender: gender.map(str::to_string),
        city: Some(city.to_string()),
        country: Some(country.to_string()),
        signup_at: Some(signup_at),
        email_consent: consent,
        custom,
    };
    SimCustomer {
        index,
        lifecycle,
        customer,
        events,
    }
}

/// What one simulated customer's life is made of, drawn at its start; the
/// phases below draw the rest from the customer's own random stream, in
/// this order: orders, web sessions, email.
struct Life<'a> {
    cat: &'a Catalog,
    seed: u64,
    index: u64,
    now: i64,
    lifecycle: Lifecycle,
    signup_at: i64,
    lapse_at: i64,
    active_from: i64,
    /// Favourite categories: most orders and views fall in them.
    fav1: usize,
    fav2: usize,
    /// Chance of being sent a campaign, and of opening it.
    send_p: f64,
    open_p: f64,
    big_ticket: bool,
    superfan: bool,
}

impl<'a> Life<'a> {
    fn pick_product(&self, rng: &mut Rng) -> &'a Product {
        let cat = self.cat;
        let c = match rng.index(10) {
            0..=5 => self.fav1,
            6..=7 => self.fav2,
            _ => rng.index(cat.by_category.len()),
        };
        let list = &cat.by_category[c].1;
        &cat.products[list[rng.index(list.len())]]
    }

    /// Orders, each with its funnel (a product view, an add to cart);
    /// returns the total spent.
    fn orders(&self, rng: &mut Rng, events: &mut Vec<Event>) -> f64 {
        // Orders.
        let mut order_times = match self.lifecycle {
            Lifecycle::New => {
                let mut t = poisson_times(rng, 1.0 / 25.0, self.signup_at, self.now);
                if rng.chance(0.6) {
                    t.push((self.signup_at + rng.range(600, 3 * DAY)).min(self.now - 60));
                }
                t
            }
            Lifecycle::Loyal => {
                let rate = if self.superfan {
                    1.0 / 4.0
                } else {
                    ((1.0 / 70.0) * rng.normal().exp()).min(1.0 / 4.0)
                };
                let mut t = poisson_times(rng, rate, self.active_from, self.now);
                if t.is_empty() {
                    t.push(self.now - rng.range(DAY, 20 * DAY));
                }
                t
            }
            Lifecycle::Occasional if self.big_ticket => {
                let n = 1 + rng.index(2);
                (0..n)
                    .map(|_| rng.range(self.active_from, self.now))
                    .collect()
            }
            Lifecycle::Occasional => {
                let rate = (1.0 / 180.0) * (0.5 * rng.normal()).exp();
                poisson_times(rng, rate, self.active_from, self.now)
            }
            Lifecycle::Lapsed => {
                let mut t = poisson_times(rng, 1.0 / 50.0, self.active_from, self.lapse_at);
                if t.is_empty() {
                    t.push(rng.range(self.active_from, self.lapse_at));
                }
                t
            }
            Lifecycle::Browser => Vec::new(),
        };
        order_times.sort_unstable();
        let mut total_spend = 0.0;
        for (n, &t) in order_times.iter().enumerate() {
            let product = self.pick_product(rng);
            let value = if self.big_ticket {
                rng.pareto(700.0, 2.2).min(6000.0)
            } else {
                let scale = match self.lifecycle {
                    _ if self.superfan => 35.0,
                    Lifecycle::Loyal => 22.0,
                    _ => 18.0,
                };
                rng.pareto(scale, 1.5).min(4000.0)
            };
            let value = (value * 100.0).round() / 100.0;
            total_spend += value;
            let items = 1 + (rng.exp(0.8) as i64).min(8);
            // The funnel before an order: a product view and an add to cart.
            if rng.chance(0.25) {
                let mut e = event(ev::PRODUCT_VIEW, t - rng.range(600, 3600));
                e.product = Some(product.sku.clone());
                e.category = product.category.clone();
                events.push(e);
            }
            if rng.chance(0.5) {
                let mut e = event(ev::ADD_TO_CART, t - rng.range(60, 600));
                e.product = Some(product.sku.clone());
                e.category = product.category.clone();
                e.value = product.price;
                events.push(e);
            }
            let mut e = event(ev::ORDER, t);
            e.value = Some(value);
            e.product = Some(product.sku.clone());
            e.category = product.category.clone();
            e.properties = props(&[
                (
                    "order_id",
                    serde_json::Value::String(format!("O{}-{}", self.index + 1, n + 1)),
                ),
                ("items", serde_json::Value::from(items)),
            ]);
            events.push(e);
        }
        total_spend
    }

    /// Web sessions outside the order funnel, and abandoned carts.
    fn sessions(&self, rng: &mut Rng, events: &mut Vec<Event>) {
        let session_rate = match self.lifecycle {
            Lifecycle::New => 1.0 / 15.0,
            Lifecycle::Loyal => 1.0 / 80.0,
            Lifecycle::Occasional => 1.0 / 180.0,
            Lifecycle::Lapsed => 1.0 / 160.0,
            Lifecycle::Browser => (1.0 / 90.0) * (0.6 * rng.normal()).exp(),
        };
        let session_end = if self.lifecycle == Lifecycle::Lapsed {
            self.lapse_at + 30 * DAY
        } else {
            self.now
        };
        for t in poisson_times(rng, session_rate, self.active_from, session_end) {
            let mut e = event(ev::PAGE_VIEW, t);
            e.properties = props(&[(
                "url",
                serde_json::Value::String(rng.pick(PAGES).to_string()),
            )]);
            events.push(e);
            let mut tt = t;
            let views = if self.lifecycle == Lifecycle::Browser {
                1 + rng.index(2)
            } else {
                rng.index(2)
            };
            let mut last_product = None;
            for _ in 0..views {
                tt += rng.range(20, 300);
                let p = self.pick_product(rng);
                let mut e = event(ev::PRODUCT_VIEW, tt);
                e.product = Some(p.sku.clone());
                e.category = p.category.clone();
                events.push(e);
                last_product = Some(p);
            }
            // Abandoned carts.
            if let Some(p) = last_product
                && rng.chance(0.15)
            {
                let mut e = event(ev::ADD_TO_CART, tt + rng.range(10, 120));
                e.product = Some(p.sku.clone());
                e.category = p.category.clone();
                e.value = p.price;
                events.push(e);
            }
        }
    }

    /// Email: sends while consent lasts, opens, clicks, unsubscribes;
    /// returns whether consent lasted. Opens follow the season (more in
    /// November and December, fewer in summer); lapsed customers open
    /// little. From a stream of their own (so the rest of the data stays
    /// as it was): bounces, machine opens of Apple Mail Privacy Protection
    /// users and security scanners' clicks (marked `machine`), and orders
    /// placed after a click.
    fn emails(&self, rng: &mut Rng, events: &mut Vec<Event>, initial_consent: bool) -> bool {
        let mut consent = initial_consent;
        let mut more = Rng::derive(self.seed, 0xE3A1, self.index);
        let mpp = more.chance(0.3);
        let scanned = more.chance(0.05);
        let p_convert = match self.lifecycle {
            Lifecycle::Loyal => 0.12,
            Lifecycle::Lapsed => 0.02,
            Lifecycle::New => 0.08,
            _ => 0.05,
        };
        let machine = || props(&[("machine", serde_json::Value::Bool(true))]);
        if initial_consent {
            for c in &self.cat.campaigns {
                let Some(sent) = c.sent_at else { continue };
                if sent < self.active_from {
                    continue;
                }
                if !rng.chance(self.send_p) {
                    continue;
                }
                let t = sent + rng.range(0, 600);
                let mut e = event(ev::EMAIL_SENT, t);
                e.campaign = Some(c.id.clone());
                events.push(e);
                if more.chance(0.004) {
                    let mut e = event(ev::EMAIL_BOUNCE, t + 30);
                    e.campaign = Some(c.id.clone());
                    events.push(e);
                    continue;
                }
                if mpp {
                    let mut e = event(ev::EMAIL_OPEN, t + more.range(20, 900));
                    e.campaign = Some(c.id.clone());
                    e.properties = machine();
                    events.push(e);
                }
                if scanned && more.chance(0.5) {
                    let mut e = event(ev::EMAIL_CLICK, t + more.range(5, 120));
                    e.campaign = Some(c.id.clone());
                    e.properties = machine();
                    events.push(e);
                }
                let mut p_open: f64 = self.open_p * season(t);
                if self.lifecycle == Lifecycle::Lapsed && t > self.lapse_at {
                    p_open *= 0.35;
                }
                if self.lifecycle == Lifecycle::New {
                    p_open = (p_open + 0.1).min(0.9);
                }
                if rng.chance(p_open) {
                    let to = t + rng.exp(6.0 * 3600.0) as i64 + 30;
                    if to < self.now {
                        let mut e = event(ev::EMAIL_OPEN, to);
                        e.campaign = Some(c.id.clone());
                        events.push(e);
                        let p_click = if self.lifecycle == Lifecycle::Loyal {
                            0.3
                        } else {
                            0.2
                        };
                        if rng.chance(p_click) {
                            let tc = to + rng.range(5, 900);
                            if tc < self.now {
                                let mut e = event(ev::EMAIL_CLICK, tc);
                                e.campaign = Some(c.id.clone());
                                events.push(e);
                                if more.chance(p_convert) {
                                    let product = self.pick_product(&mut more);
                                    let to = tc + more.range(600, 3 * DAY);
                                    let mut e = event(ev::ORDER, to);
                                    e.value = product.price;
                                    e.product = Some(product.sku.clone());
                                    e.category = product.category.clone();
                                    e.properties = props(&[(
                                        "order_id",
                                        serde_json::Value::String(format!(
                                            "O{}-E{}",
                                            self.index + 1,
                                            tc
                                        )),
                                    )]);
                                    events.push(e);
                                }
                            }
                        }
                    }
                }
                let p_unsub = if self.send_p < 0.02 { 0.02 } else { 0.003 };
                if rng.chance(p_unsub) {
                    let tu = t + rng.range(300, 2 * DAY);
                    if tu < self.now {
                        let mut e = event(ev::UNSUBSCRIBE, tu);
                        e.campaign = Some(c.id.clone());
                        events.push(e);
                        consent = false;
                        break;
                    }
                }
            }
        }
        consent
    }
}
