//! The per-customer render context: one JSON object per customer, built
//! from the engine's columns as of one explicit time. Its shape is
//! documented in `docs/CONTEXT.md` and described by [`super::shape`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Map, Value as Json, json};

use crate::engine::data::{Column, EventColumns, NO_TIME};
use crate::engine::resolve::RFM_SEGMENTS;
use crate::engine::traits::Traits;
use crate::engine::{Bitset, Engine, Schema};
use crate::model::time::ts_to_date;
use crate::model::{Campaign, FieldType, Product, event_names};
use crate::progress::NoProgress;
use crate::store::Store;

use super::EmailError;

/// Top-level keys every context has, in document order. Custom fields with
/// one of these names appear only under `custom`.
pub const RESERVED_KEYS: [&str; 27] = [
    "id",
    "external_id",
    "email",
    "first_name",
    "last_name",
    "full_name",
    "gender",
    "city",
    "country",
    "birth_date",
    "signup_at",
    "email_consent",
    "custom",
    "traits",
    "segments",
    "segment",
    "orders",
    "last_order",
    "cart",
    "cart_total",
    "recommended_products",
    "campaign",
    "shop",
    "unsubscribe_url",
    "preferences_url",
    "cart_url",
    "as_of",
];

/// How many products `recommended_products` and `cart` hold at most.
pub const RECOMMENDATIONS: usize = 4;
pub const CART_MAX: usize = 5;

/// The parts of the context a template reads: only those are built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Needs {
    pub traits: bool,
    pub segments: bool,
    pub orders: bool,
    pub cart: bool,
    pub recommended: bool,
    pub custom: bool,
}

impl Needs {
    pub const ALL: Needs = Needs {
        traits: true,
        segments: true,
        orders: true,
        cart: true,
        recommended: true,
        custom: true,
    };

    /// What a template that refers to these top-level keys (and uses
    /// `in_segment` or not) needs.
    pub fn from_keys<'k>(keys: impl IntoIterator<Item = &'k str>, dynamic: bool) -> Needs {
        if dynamic {
            return Needs::ALL;
        }
        let mut n = Needs {
            traits: false,
            segments: false,
            orders: false,
            cart: false,
            recommended: false,
            custom: false,
        };
        for k in keys {
            match k {
                "traits" => n.traits = true,
                "segments" | "segment" => n.segments = true,
                "orders" | "last_order" => n.orders = true,
                "cart" | "cart_total" => n.cart = true,
                "recommended_products" => n.recommended = true,
                k if !RESERVED_KEYS.contains(&k) => n.custom = true,
                "custom" => n.custom = true,
                _ => {}
            }
        }
        n
    }
}

struct ProfileField {
    name: String,
    column: usize,
    ty: FieldType,
    custom: bool,
}

/// A score rule's bands: points and the members that earn them.
type ScoreBands = Vec<(i64, Arc<Bitset>)>;

/// Builds contexts for any customer of one engine, as of one time. Creating
/// it costs one pass over the orders (top sellers) and one evaluation per
/// saved segment and score rule; each context afterwards costs
/// microseconds.
pub struct ContextBuilder {
    engine: Arc<Engine>,
    pub as_of: i64,
    fields: Vec<ProfileField>,
    traits: Arc<Traits>,
    scores: Vec<(String, ScoreBands)>,
    /// Saved segments in priority order.
    pub segments: Vec<(i64, String, Arc<Bitset>)>,
    products: Vec<Json>,
    prices: Vec<f64>,
    /// String code (of the engine's dictionary) → product index.
    product_by_code: HashMap<u32, usize>,
    /// Product indexes by units sold before `as_of`, best first.
    top_sellers: Vec<usize>,
    top_by_category: HashMap<String, Vec<usize>>,
    orders: Option<Arc<EventColumns>>,
    views: Option<Arc<EventColumns>>,
    carts: Option<Arc<EventColumns>>,
    shop: Json,
    shop_url: String,
    campaign: Json,
    needs: Needs,
}

/// Workspace settings the context reads from `workspace_meta`.
pub const SHOP_META: [(&str, &str); 4] = [
    ("shop_name", "Our shop"),
    ("shop_url", "https://example.com"),
    ("currency", "USD"),
    ("shop_address", ""),
];

impl ContextBuilder {
    pub fn new(
        store: &Store,
        engine: Arc<Engine>,
        schema: &Schema,
        as_of: i64,
    ) -> Result<ContextBuilder, EmailError> {
        let progress = NoProgress;
        let data = engine.data.clone();
        let fields = data
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| ProfileField {
                name: f.name.clone(),
                column: i,
                ty: f.field_type,
                custom: f.custom,
            })
            .collect();
        let traits = engine.traits(as_of);
        let mut scores = Vec::new();
        let mut names: Vec<&String> = schema.scores.keys().collect();
        names.sort();
        for name in names {
            let model = &schema.scores[name];
            let rules = crate::engine::resolve::resolve_score(name, model, schema)?;
            let mut sets = Vec::new();
            for (points, node) in rules {
                sets.push((points, engine.set_of(&node, as_of, &progress)?));
            }
            scores.push((name.clone(), sets));
        }
        let mut segments = Vec::new();
        let mut records = store.segments()?;
        records.sort_by_key(|s| (s.priority, s.id));
        for s in records {
            let rule = crate::engine::parse_rule(&s.rule)?;
            let node = crate::engine::resolve(&rule, schema)?;
            segments.push((s.id, s.name, engine.set_of(&node, as_of, &progress)?));
        }

        let mut meta = HashMap::new();
        for (key, default) in SHOP_META {
            let v = store.meta(key)?.unwrap_or_else(|| default.to_string());
            meta.insert(key, v);
        }
        let shop_url = meta["shop_url"].trim_end_matches('/').to_string();
        let shop = json!({
            "name": meta["shop_name"],
            "url": shop_url,
            "currency": meta["currency"],
            "address": meta["shop_address"],
        });

        let catalog = store.products()?;
        let products: Vec<Json> = catalog.iter().map(|p| product_json(p, &shop_url)).collect();
        let prices = catalog
            .iter()
            .map(|p| p.price.unwrap_or(f64::NAN))
            .collect();
        let mut product_by_code = HashMap::new();
        for (i, p) in catalog.iter().enumerate() {
            if let Some(code) = data.strings.lookup(&p.sku) {
                product_by_code.insert(code, i);
            }
        }
        let purchase = data.purchase_event.clone();
        let orders = data.events.get(&purchase).cloned();
        let views = data.events.get(event_names::PRODUCT_VIEW).cloned();
        let carts = data.events.get(event_names::ADD_TO_CART).cloned();

        // Top sellers: order events (one per order line or per order) that
        // name a product, before `as_of`.
        let mut sold = vec![0u64; catalog.len()];
        if let Some(o) = &orders {
            for k in 0..o.len() {
                if o.time(k) < as_of
                    && let Some(&p) = product_by_code.get(&o.product.get(k))
                {
                    sold[p] += 1;
                }
            }
        }
        let mut top_sellers: Vec<usize> = (0..catalog.len()).filter(|&i| sold[i] > 0).collect();
        top_sellers.sort_by(|&a, &b| {
            sold[b]
                .cmp(&sold[a])
                .then(catalog[a].sku.cmp(&catalog[b].sku))
        });
        let mut top_by_category: HashMap<String, Vec<usize>> = HashMap::new();
        for &i in &top_sellers {
            if let Some(c) = &catalog[i].category {
                top_by_category.entry(c.clone()).or_default().push(i);
            }
        }
        Ok(ContextBuilder {
            engine,
            as_of,
            fields,
            traits,
            scores,
            segments,
            products,
            prices,
            product_by_code,
            top_sellers,
            top_by_category,
            orders,
            views,
            carts,
            shop,
            shop_url,
            campaign: Json::Null,
            needs: Needs::ALL,
        })
    }

    /// Build only what `needs` names (the rest is left out of the object).
    pub fn with_needs(mut self, needs: Needs) -> ContextBuilder {
        self.needs = needs;
        self
    }

    pub fn set_needs(&mut self, needs: Needs) {
        self.needs = needs;
    }

    /// The campaign the email is part of (`campaign` in the context).
    pub fn set_campaign(&mut self, campaign: Option<&Campaign>) {
        self.campaign = match campaign {
            None => Json::Null,
            Some(c) => json!({
                "id": c.id,
                "name": c.name,
                "subject": c.subject,
                "sent_at": c.sent_at.map(rfc3339),
            }),
        };
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub fn shop_url(&self) -> &str {
        &self.shop_url
    }

    /// The engine row of a customer given by workspace id, external id or
    /// email.
    pub fn find(&self, who: &str) -> Option<usize> {
        let id = self.engine.find_customer(who)?;
        self.engine.data.index_of(id)
    }

    /// The names of the saved segments customer `i` is in, by priority.
    pub fn segments_of(&self, i: usize) -> Vec<&str> {
        self.segments
            .iter()
            .filter(|(_, _, s)| s.get(i))
            .map(|(_, n, _)| n.as_str())
            .collect()
    }

    /// The context of the customer at engine row `i`.
    pub fn build(&self, i: usize) -> Json {
        self.build_for(i, self.needs)
    }

    /// The context of the customer at engine row `i`, with only the parts
    /// `needs` names (a renderer's [`Needs`]: what its template reads).
    /// Rendering clones the context into every partial, so what a template
    /// does not read costs time in every email.
    pub fn build_for(&self, i: usize, needs: Needs) -> Json {
        let data = &self.engine.data;
        let mut m = Map::with_capacity(40);
        m.insert("id".into(), json!(data.ids[i]));
        let mut custom = Map::new();
        let mut external_id = String::new();
        for f in &self.fields {
            let v = column_json(&data.columns[f.column], i, f.ty);
            if f.custom {
                if !needs.custom {
                    continue;
                }
                if !RESERVED_KEYS.contains(&f.name.as_str()) {
                    m.insert(f.name.clone(), v.clone());
                }
                custom.insert(f.name.clone(), v);
            } else {
                if f.name == "external_id" {
                    external_id = v.as_str().unwrap_or_default().to_string();
                }
                m.insert(f.name.clone(), v);
            }
        }
        if let Some(mask) = self.engine.mask() {
            // Demo mode: personal fields as the customer's stand-in, in
            // the same shape (a string stays a string, null stays null).
            for f in &self.fields {
                if !mask.is_pii(&f.name) {
                    continue;
                }
                for map in [&mut m, &mut custom] {
                    if let Some(Json::String(v)) = map.get_mut(&f.name) {
                        *v = mask.show(&f.name, &external_id, v);
                    }
                }
            }
        }
        let full = [m.get("first_name"), m.get("last_name")]
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .filter(|s| !s.trim().is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        m.insert(
            "full_name".into(),
            if full.is_empty() {
                Json::Null
            } else {
                Json::String(full)
            },
        );
        if needs.custom {
            m.insert("custom".into(), Json::Object(custom));
        }
        if needs.traits {
            m.insert("traits".into(), self.traits_json(i));
        }
        if needs.segments {
            let names = self.segments_of(i);
            m.insert(
                "segment".into(),
                names
                    .first()
                    .map_or(Json::Null, |n| Json::String(n.to_string())),
            );
            m.insert(
                "segments".into(),
                Json::Array(names.into_iter().map(|n| Json::String(n.into())).collect()),
            );
        }
        let bought = if needs.orders || needs.cart || needs.recommended {
            self.orders_json(i, &mut m, needs)
        } else {
            OrdersSeen::default()
        };
        if needs.cart {
            let (cart, total) = self.cart_json(i, bought.last_at);
            m.insert("cart".into(), Json::Array(cart));
            m.insert("cart_total".into(), json!(round2(total)));
        }
        if needs.recommended {
            m.insert(
                "recommended_products".into(),
                Json::Array(
                    self.recommend(i, &bought.products)
                        .into_iter()
                        .map(|p| self.products[p].clone())
                        .collect(),
                ),
            );
        }
        m.insert("campaign".into(), self.campaign.clone());
        m.insert("shop".into(), self.shop.clone());
        let who = url_component(&external_id);
        m.insert(
            "unsubscribe_url".into(),
            Json::String(format!("{}/unsubscribe?c={who}", self.shop_url)),
        );
        m.insert(
            "cart_url".into(),
            Json::String(format!("{}/cart?c={who}", self.shop_url)),
        );
        m.insert(
            "preferences_url".into(),
            Json::String(format!("{}/preferences?c={who}", self.shop_url)),
        );
        m.insert("as_of".into(), Json::String(rfc3339(self.as_of)));
        Json::Object(m)
    }

    fn traits_json(&self, i: usize) -> Json {
        let t = &self.traits;
        let num = |v: f64| if v.is_nan() { Json::Null } else { json!(v) };
        let mut scores = Map::new();
        for (name, sets) in &self.scores {
            let total: i64 = sets.iter().filter(|(_, s)| s.get(i)).map(|(p, _)| *p).sum();
            scores.insert(name.clone(), json!(total));
        }
        json!({
            "recency_days": num(t.recency[i]),
            "frequency": num(t.frequency[i]),
            "monetary": num(round2(t.monetary[i])),
            "r": num(t.r[i]),
            "f": num(t.f[i]),
            "m": num(t.m[i]),
            "rfm_segment": RFM_SEGMENTS.get(t.segment[i] as usize).copied(),
            "engagement": num(t.engagement[i]),
            "scores": scores,
        })
    }

    fn orders_json(&self, i: usize, m: &mut Map<String, Json>, needs: Needs) -> OrdersSeen {
        let mut seen = OrdersSeen::default();
        let (mut count, mut total) = (0u64, 0.0f64);
        let (mut first, mut last) = (None, None);
        let mut last_k = None;
        if let Some(o) = &self.orders {
            for k in o.window(i, i64::MIN, self.as_of) {
                count += 1;
                if !o.value(k).is_nan() {
                    total += o.value(k);
                }
                first.get_or_insert(o.time(k));
                last = Some(o.time(k));
                last_k = Some(k);
                if let Some(&p) = self.product_by_code.get(&o.product.get(k)) {
                    seen.products.insert(p);
                }
            }
        }
        seen.last_at = last;
        if !needs.orders {
            return seen;
        }
        m.insert(
            "orders".into(),
            json!({
                "count": count,
                "total": round2(total),
                "average": if count > 0 { json!(round2(total / count as f64)) } else { Json::Null },
                "first_at": first.map(rfc3339),
                "last_at": last.map(rfc3339),
            }),
        );
        let last_order = match (last_k, &self.orders) {
            (Some(k), Some(o)) => json!({
                "at": rfc3339(o.time(k)),
                "value": if o.value(k).is_nan() { Json::Null } else { json!(round2(o.value(k))) },
                "product": self.product_by_code.get(&o.product.get(k)).map(|&p| self.products[p].clone()),
            }),
            _ => Json::Null,
        };
        m.insert("last_order".into(), last_order);
        seen
    }

    /// Products added to the cart after the last order (and before
    /// `as_of`), newest first, each once.
    fn cart_json(&self, i: usize, last_order: Option<i64>) -> (Vec<Json>, f64) {
        let Some(c) = &self.carts else {
            return (Vec::new(), 0.0);
        };
        let lo = last_order.map_or(i64::MIN, |t| t + 1);
        let mut out = Vec::new();
        let mut taken = Vec::new();
        let mut total = 0.0;
        for k in c.window(i, lo, self.as_of).rev() {
            let Some(&p) = self.product_by_code.get(&c.product.get(k)) else {
                continue;
            };
            if taken.contains(&p) {
                continue;
            }
            taken.push(p);
            let mut item = self.products[p].clone();
            if let Json::Object(o) = &mut item {
                o.insert("added_at".into(), Json::String(rfc3339(c.time(k))));
            }
            if !self.prices[p].is_nan() {
                total += self.prices[p];
            }
            out.push(item);
            if out.len() == CART_MAX {
                break;
            }
        }
        (out, total)
    }

    /// Up to [`RECOMMENDATIONS`] products: top sellers of the customer's
    /// most viewed (1 point a view) and bought (3 points an order)
    /// categories, at most two per category, none already bought; then
    /// the overall top sellers. Deterministic: ties go by name.
    pub fn recommend(&self, i: usize, bought: &HashSet<usize>) -> Vec<usize> {
        let data = &self.engine.data;
        let mut score: Vec<(u32, u32)> = Vec::new();
        let mut add = |cols: &Option<Arc<EventColumns>>, points: u32| {
            if let Some(c) = cols {
                for k in c.window(i, i64::MIN, self.as_of) {
                    let code = c.category.get(k);
                    if code == 0 {
                        continue;
                    }
                    match score.iter_mut().find(|(c, _)| *c == code) {
                        Some(s) => s.1 += points,
                        None => score.push((code, points)),
                    }
                }
            }
        };
        add(&self.views, 1);
        add(&self.orders, 3);
        score.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then_with(|| data.strings.get(a.0).cmp(&data.strings.get(b.0)))
        });
        let mut out: Vec<usize> = Vec::with_capacity(RECOMMENDATIONS);
        for (code, _) in score {
            let Some(top) = data
                .strings
                .get(code)
                .and_then(|c| self.top_by_category.get(c))
            else {
                continue;
            };
            let mut from_here = 0;
            for &p in top {
                if from_here == 2 || out.len() == RECOMMENDATIONS {
                    break;
                }
                if !bought.contains(&p) && !out.contains(&p) {
                    out.push(p);
                    from_here += 1;
                }
            }
            if out.len() == RECOMMENDATIONS {
                return out;
            }
        }
        for &p in &self.top_sellers {
            if out.len() == RECOMMENDATIONS {
                break;
            }
            if !bought.contains(&p) && !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }
}

#[derive(Default)]
struct OrdersSeen {
    products: HashSet<usize>,
    last_at: Option<i64>,
}

fn product_json(p: &Product, shop_url: &str) -> Json {
    let sku = url_component(&p.sku);
    json!({
        "sku": p.sku,
        "name": p.name,
        "category": p.category,
        "price": p.price,
        "url": format!("{shop_url}/products/{sku}"),
        "image_url": format!("{shop_url}/images/{sku}.jpg"),
    })
}

fn column_json(c: &Column, i: usize, ty: FieldType) -> Json {
    match c {
        Column::Text { codes, dict } => dict
            .get(codes[i])
            .map_or(Json::Null, |s| Json::String(s.to_string())),
        Column::Num(v) => {
            if v[i].is_nan() {
                Json::Null
            } else {
                json!(v[i])
            }
        }
        Column::Time(v) => {
            if v[i] == NO_TIME {
                Json::Null
            } else if ty == FieldType::Date {
                Json::String(ts_to_date(v[i]).format("%Y-%m-%d").to_string())
            } else {
                Json::String(rfc3339(v[i]))
            }
        }
        Column::Bool(v) => match v[i] {
            0 => Json::Bool(false),
            1 => Json::Bool(true),
            _ => Json::Null,
        },
    }
}

/// `2026-11-30T09:00:00Z`.
pub fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Percent-encodes everything but unreserved URL characters.
pub fn url_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
