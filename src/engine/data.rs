//! The engine's in-memory, columnar copy of a workspace: customer fields as
//! columns, and per event name the events grouped by customer and sorted by
//! time, so a time window is two binary searches.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;

use crate::model::time::date_to_ts;
use crate::model::{FieldDef, FieldType};
use crate::progress::Progress;
use crate::store::{CellRef, Store, StoreError};

/// Interned strings; code 0 means "no value", code `i + 1` is string `i`.
///
/// The strings lie one after another in one buffer, and the index holds
/// codes only (hashing the buffer's strings): about the strings' bytes plus
/// 13 bytes each, where a `Vec<String>` and a `HashMap<String, u32>` hold
/// two copies and some 100 bytes each — a million emails' difference is a
/// hundred megabytes.
#[derive(Clone, Default)]
pub struct Dict {
    bytes: String,
    /// String `i` is `bytes[ends[i - 1]..ends[i]]` (from 0 for the first).
    ends: Vec<u64>,
    index: hashbrown::HashTable<u32>,
}

impl std::fmt::Debug for Dict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Dict({} strings)", self.len())
    }
}

/// String `i` of a dictionary's buffer.
fn str_in<'a>(bytes: &'a str, ends: &[u64], i: usize) -> &'a str {
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    &bytes[start..ends[i] as usize]
}

fn hash_str(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    s.hash(&mut h);
    h.finish()
}

impl Dict {
    /// A dictionary from its parts as [`Dict::parts`] gives them; `None`
    /// when they do not fit together.
    pub fn from_parts(bytes: String, ends: Vec<u64>) -> Option<Dict> {
        let mut start = 0u64;
        for &e in &ends {
            if e < start || e > bytes.len() as u64 || !bytes.is_char_boundary(e as usize) {
                return None;
            }
            start = e;
        }
        if start != bytes.len() as u64 || ends.len() >= u32::MAX as usize {
            return None;
        }
        let mut index = hashbrown::HashTable::with_capacity(ends.len());
        {
            let str_of = |c: u32| str_in(&bytes, &ends, c as usize - 1);
            for i in 0..ends.len() {
                let code = i as u32 + 1;
                index.insert_unique(hash_str(str_of(code)), code, |&c| hash_str(str_of(c)));
            }
        }
        Some(Dict { bytes, ends, index })
    }

    /// The buffer and the ends of its strings (for the engine snapshot).
    pub fn parts(&self) -> (&str, &[u64]) {
        (&self.bytes, &self.ends)
    }

    fn str_at(&self, i: usize) -> &str {
        str_in(&self.bytes, &self.ends, i)
    }

    fn push(&mut self, s: &str) -> u32 {
        self.bytes.push_str(s);
        self.ends.push(self.bytes.len() as u64);
        let code = self.ends.len() as u32;
        let (bytes, ends) = (&self.bytes, &self.ends);
        self.index.insert_unique(hash_str(s), code, |&c| {
            hash_str(str_in(bytes, ends, c as usize - 1))
        });
        code
    }

    pub fn code(&mut self, s: Option<&str>) -> u32 {
        let Some(s) = s else { return 0 };
        if let Some(c) = self.lookup(s) {
            return c;
        }
        self.push(s)
    }

    pub fn get(&self, code: u32) -> Option<&str> {
        if code == 0 || code as usize > self.ends.len() {
            None
        } else {
            Some(self.str_at(code as usize - 1))
        }
    }

    pub fn lookup(&self, s: &str) -> Option<u32> {
        self.index
            .find(hash_str(s), |&c| self.str_at(c as usize - 1) == s)
            .copied()
    }

    /// Every string, in code order (code `i + 1` is the `i`-th).
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.ends.len()).map(|i| self.str_at(i))
    }

    /// For each code (index 0 = no value), whether `test` accepts it.
    pub fn table(&self, test: impl Fn(Option<&str>) -> bool) -> Vec<bool> {
        let mut t = Vec::with_capacity(self.len() + 1);
        t.push(test(None));
        t.extend(self.iter().map(|s| test(Some(s))));
        t
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn heap_size(&self) -> usize {
        self.bytes.capacity() + self.ends.capacity() * 8 + self.index.capacity() * 5
    }
}

/// One customer field as a column.
#[derive(Clone, Debug)]
pub enum Column {
    Text {
        codes: Vec<u32>,
        dict: Dict,
    },
    /// NaN = no value.
    Num(Vec<f64>),
    /// Unix seconds (dates at midnight UTC); `i64::MIN` = no value.
    Time(Vec<i64>),
    /// 0, 1, or 2 = no value.
    Bool(Vec<u8>),
}

pub const NO_TIME: i64 = i64::MIN;

impl Column {
    fn heap_size(&self) -> usize {
        match self {
            Column::Text { codes, dict } => codes.len() * 4 + dict.heap_size(),
            Column::Num(v) => v.len() * 8,
            Column::Time(v) => v.len() * 8,
            Column::Bool(v) => v.len(),
        }
    }

    /// The value of row `i`, for display.
    pub fn display(&self, i: usize, ty: FieldType) -> Option<String> {
        match self {
            Column::Text { codes, dict } => dict.get(codes[i]).map(str::to_string),
            Column::Num(v) => {
                let x = v[i];
                (!x.is_nan()).then(|| super::resolve::fmt_num(x))
            }
            Column::Time(v) => {
                let t = v[i];
                (t != NO_TIME).then(|| {
                    if ty == FieldType::Date {
                        crate::model::time::ts_to_date(t).to_string()
                    } else {
                        crate::model::time::format_ts(t)
                    }
                })
            }
            Column::Bool(v) => match v[i] {
                0 => Some("no".into()),
                1 => Some("yes".into()),
                _ => None,
            },
        }
    }
}

/// Event times, as compact as they fit: seconds after the earliest in
/// four bytes (136 years of range), or whole Unix seconds when the range
/// is wider.
#[derive(Clone, Debug)]
pub enum Times {
    Narrow { base: i64, rel: Vec<u32> },
    Wide(Vec<i64>),
}

impl Default for Times {
    fn default() -> Self {
        Times::Wide(Vec::new())
    }
}

impl Times {
    pub fn new(t: Vec<i64>) -> Times {
        let (Some(&lo), Some(&hi)) = (t.iter().min(), t.iter().max()) else {
            return Times::Wide(t);
        };
        if hi.checked_sub(lo).is_some_and(|d| d <= i64::from(u32::MAX)) {
            Times::Narrow {
                base: lo,
                rel: t.iter().map(|&x| (x - lo) as u32).collect(),
            }
        } else {
            Times::Wide(t)
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Times::Narrow { rel, .. } => rel.len(),
            Times::Wide(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The oldest and the newest time; `None` when there are none.
    pub fn bounds(&self) -> Option<(i64, i64)> {
        match self {
            Times::Narrow { base, rel } => {
                let hi = rel.iter().copied().max()?;
                Some((*base, base + i64::from(hi)))
            }
            Times::Wide(t) => Some((*t.iter().min()?, *t.iter().max()?)),
        }
    }

    #[inline]
    pub fn get(&self, j: usize) -> i64 {
        match self {
            Times::Narrow { base, rel } => base + i64::from(rel[j]),
            Times::Wide(t) => t[j],
        }
    }

    /// How many of `range`'s times are before `lo`, and before `hi`
    /// (`range` sorted).
    #[inline]
    fn count_before(&self, range: std::ops::Range<usize>, lo: i64, hi: i64) -> (usize, usize) {
        /// How many of `v` have `key` below `lo`, and below `hi`.
        #[inline]
        fn count<T: Copy, K: Copy + PartialOrd>(
            v: &[T],
            key: impl Fn(T) -> K,
            lo: K,
            hi: K,
        ) -> (usize, usize) {
            if v.len() <= 32 {
                // Most customers have a handful of events: counting both
                // bounds in one branch-free pass vectorizes, where a binary
                // search mispredicts.
                v.iter().fold((0, 0), |(a, b), &t| {
                    let t = key(t);
                    (a + usize::from(t < lo), b + usize::from(t < hi))
                })
            } else {
                (
                    v.partition_point(|&t| key(t) < lo),
                    v.partition_point(|&t| key(t) < hi),
                )
            }
        }
        match self {
            Times::Narrow { base, rel } => {
                // Bounds as offsets from the base, in 0..=2^32 (u64).
                let at = |t: i64| t.saturating_sub(*base).clamp(0, 1 << 32) as u64;
                count(&rel[range], u64::from, at(lo), at(hi))
            }
            Times::Wide(t) => count(&t[range], |t| t, lo, hi),
        }
    }

    fn heap_size(&self) -> usize {
        match self {
            Times::Narrow { rel, .. } => rel.len() * 4,
            Times::Wide(t) => t.len() * 8,
        }
    }
}

/// Codes into [`EngineData::strings`] for one property of every event: two
/// bytes each while the strings fit, none when no event has the property.
#[derive(Clone, Debug, Default)]
pub enum Codes {
    #[default]
    Absent,
    Small(Vec<u16>),
    Large(Vec<u32>),
}

impl Codes {
    /// `codes` of a dictionary of `dict_len` strings.
    pub fn new(codes: Vec<u32>, dict_len: usize) -> Codes {
        if codes.iter().all(|&c| c == 0) {
            Codes::Absent
        } else if dict_len < usize::from(u16::MAX) {
            Codes::Small(codes.iter().map(|&c| c as u16).collect())
        } else {
            Codes::Large(codes)
        }
    }

    #[inline]
    pub fn get(&self, j: usize) -> u32 {
        match self {
            Codes::Absent => 0,
            Codes::Small(v) => u32::from(v[j]),
            Codes::Large(v) => v[j],
        }
    }

    /// How many codes are stored (0 when absent).
    pub fn stored(&self) -> usize {
        match self {
            Codes::Absent => 0,
            Codes::Small(v) => v.len(),
            Codes::Large(v) => v.len(),
        }
    }

    /// The largest code stored.
    pub fn max(&self) -> u32 {
        match self {
            Codes::Absent => 0,
            Codes::Small(v) => v.iter().copied().max().map_or(0, u32::from),
            Codes::Large(v) => v.iter().copied().max().unwrap_or(0),
        }
    }

    fn heap_size(&self) -> usize {
        match self {
            Codes::Absent => 0,
            Codes::Small(v) => v.len() * 2,
            Codes::Large(v) => v.len() * 4,
        }
    }
}

/// All events with one name, grouped by customer, oldest first.
#[derive(Clone, Debug, Default)]
pub struct EventColumns {
    pub name: String,
    /// Customer `i`'s events are `offsets[i]..offsets[i + 1]`.
    pub offsets: Vec<u32>,
    pub times: Times,
    /// The oldest and newest time (`times.bounds()`, kept): a window that
    /// holds both holds every event.
    pub span: Option<(i64, i64)>,
    /// NaN = no value; empty when no event has one.
    pub values: Vec<f64>,
    pub product: Codes,
    pub category: Codes,
    pub campaign: Codes,
}

impl EventColumns {
    /// Columns from full-length arrays (`strings` codes), stored compactly.
    pub fn new(
        name: String,
        offsets: Vec<u32>,
        time: Vec<i64>,
        value: Vec<f64>,
        [product, category, campaign]: [Vec<u32>; 3],
        strings: usize,
    ) -> EventColumns {
        let times = Times::new(time);
        EventColumns {
            name,
            offsets,
            span: times.bounds(),
            times,
            values: if value.iter().all(|v| v.is_nan()) {
                Vec::new()
            } else {
                value
            },
            product: Codes::new(product, strings),
            category: Codes::new(category, strings),
            campaign: Codes::new(campaign, strings),
        }
    }

    pub fn range(&self, customer: usize) -> std::ops::Range<usize> {
        self.offsets[customer] as usize..self.offsets[customer + 1] as usize
    }

    /// The time of event `j`.
    #[inline]
    pub fn time(&self, j: usize) -> i64 {
        self.times.get(j)
    }

    /// The value of event `j` (NaN = none).
    #[inline]
    pub fn value(&self, j: usize) -> f64 {
        self.values.get(j).copied().unwrap_or(f64::NAN)
    }

    /// The events of `customer` with `lo <= time < hi`.
    #[inline]
    pub fn window(&self, customer: usize, lo: i64, hi: i64) -> std::ops::Range<usize> {
        let r = self.range(customer);
        let (a, b) = self.times.count_before(r.clone(), lo, hi);
        r.start + a..r.start + b.max(a)
    }

    pub fn len(&self) -> usize {
        self.times.len()
    }

    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    fn heap_size(&self) -> usize {
        self.offsets.len() * 4
            + self.times.heap_size()
            + self.values.len() * 8
            + self.product.heap_size()
            + self.category.heap_size()
            + self.campaign.heap_size()
    }
}

/// The workspace, in memory.
#[derive(Debug)]
pub struct EngineData {
    /// Workspace customer ids, ascending; customer index `i` is `ids[i]`.
    pub ids: Vec<i64>,
    pub fields: Vec<FieldDef>,
    pub columns: Vec<Column>,
    /// Event columns by event name.
    pub events: HashMap<String, Arc<EventColumns>>,
    /// Product, category and campaign strings of all events.
    pub strings: Dict,
    /// The store's data version this copy was built from.
    pub data_version: i64,
    /// The workspace's purchase event (what RFM reads).
    pub purchase_event: String,
}

impl EngineData {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn index_of(&self, id: i64) -> Option<usize> {
        self.ids.binary_search(&id).ok()
    }

    pub fn field(&self, name: &str) -> Option<(usize, &FieldDef)> {
        self.fields.iter().enumerate().find(|(_, f)| f.name == name)
    }

    pub fn column(&self, name: &str) -> Option<(&FieldDef, &Column)> {
        self.field(name).map(|(i, f)| (f, &self.columns[i]))
    }

    /// Bytes held by the columns (an estimate of the engine's memory).
    pub fn heap_size(&self) -> usize {
        self.ids.len() * 8
            + self.columns.iter().map(Column::heap_size).sum::<usize>()
            + self.events.values().map(|e| e.heap_size()).sum::<usize>()
            + self.strings.heap_size()
    }

    /// Loads the workspace behind `store`.
    pub fn load(store: &Store, progress: &dyn Progress) -> Result<EngineData, LoadError> {
        let data_version = store.data_version()?;
        let fields = store.customer_fields()?;
        let n_customers = store.customer_count()? as usize;
        let n_events = store.event_count()?.max(1) as f32;
        progress.report(0.0, "reading customers");

        let mut ids = Vec::with_capacity(n_customers);
        let mut builders: Vec<ColumnBuilder> = fields
            .iter()
            .map(|f| ColumnBuilder::new(f.field_type, n_customers))
            .collect();
        store.scan_customers(&fields, |id, cells| {
            ids.push(id);
            for (b, c) in builders.iter_mut().zip(cells) {
                b.push(c);
            }
        })?;
        progress.check()?;
        let columns: Vec<Column> = builders.into_iter().map(ColumnBuilder::finish).collect();

        // Events: one pass in storage order into per-name staging columns.
        struct Staging {
            customer: Vec<u32>,
            time: Vec<i64>,
            value: Vec<f64>,
            product: Vec<u32>,
            category: Vec<u32>,
            campaign: Vec<u32>,
            sorted: bool,
        }
        // Exact sizes up front: no doubling of 20-million-element vectors.
        let mut staging: HashMap<String, Staging> = HashMap::new();
        for (name, count) in store.event_counts()? {
            let n = count.max(0) as usize;
            staging.insert(
                name,
                Staging {
                    customer: Vec::with_capacity(n),
                    time: Vec::with_capacity(n),
                    value: Vec::with_capacity(n),
                    product: Vec::with_capacity(n),
                    category: Vec::with_capacity(n),
                    campaign: Vec::with_capacity(n),
                    sorted: true,
                },
            );
        }
        let mut strings = Dict::default();
        let mut seen = 0u64;
        let mut orphans = 0u64;
        let mut cancelled = false;
        store.scan_events(|e| {
            if cancelled {
                return;
            }
            seen += 1;
            if seen.is_multiple_of(1 << 20) {
                progress.report(
                    0.05 + 0.85 * seen as f32 / n_events,
                    &format!("reading events: {seen}"),
                );
                if progress.is_cancelled() {
                    cancelled = true;
                }
            }
            let Ok(ci) = ids.binary_search(&e.customer_id) else {
                orphans += 1;
                return;
            };
            let s = match staging.get_mut(e.name) {
                Some(s) => s,
                None => staging.entry(e.name.to_string()).or_insert(Staging {
                    customer: Vec::new(),
                    time: Vec::new(),
                    value: Vec::new(),
                    product: Vec::new(),
                    category: Vec::new(),
                    campaign: Vec::new(),
                    sorted: true,
                }),
            };
            let ci = ci as u32;
            if let (Some(&pc), Some(&pt)) = (s.customer.last(), s.time.last())
                && (pc, pt) > (ci, e.time)
            {
                s.sorted = false;
            }
            s.customer.push(ci);
            s.time.push(e.time);
            s.value.push(e.value.unwrap_or(f64::NAN));
            s.product.push(strings.code(e.product));
            s.category.push(strings.code(e.category));
            s.campaign.push(strings.code(e.campaign));
        })?;
        progress.check()?;
        debug_assert_eq!(orphans, 0, "events reference unknown customers");

        progress.report(0.9, "indexing events");
        let mut events = HashMap::new();
        for (name, mut s) in staging {
            if !s.sorted {
                // Stable: among equal (customer, time) the id order of the
                // scan is kept, which is what SQL's ORDER BY … id gives.
                let mut order: Vec<u32> = (0..s.time.len() as u32).collect();
                order.sort_by_key(|&i| (s.customer[i as usize], s.time[i as usize]));
                let perm = |v: &Vec<u32>| order.iter().map(|&i| v[i as usize]).collect::<Vec<_>>();
                s.customer = perm(&s.customer);
                s.product = perm(&s.product);
                s.category = perm(&s.category);
                s.campaign = perm(&s.campaign);
                s.time = order.iter().map(|&i| s.time[i as usize]).collect();
                s.value = order.iter().map(|&i| s.value[i as usize]).collect();
            }
            let mut offsets = vec![0u32; n_customers + 1];
            for &c in &s.customer {
                offsets[c as usize + 1] += 1;
            }
            for i in 0..n_customers {
                offsets[i + 1] += offsets[i];
            }
            drop(s.customer);
            let cols = EventColumns::new(
                name.clone(),
                offsets,
                s.time,
                s.value,
                [s.product, s.category, s.campaign],
                strings.len(),
            );
            events.insert(name, Arc::new(cols));
        }
        progress.report(1.0, "ready");
        Ok(EngineData {
            ids,
            fields,
            columns,
            events,
            strings,
            data_version,
            purchase_event: store.purchase_event()?,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cancelled")]
    Cancelled,
}

impl From<crate::progress::Cancelled> for LoadError {
    fn from(_: crate::progress::Cancelled) -> Self {
        LoadError::Cancelled
    }
}

enum ColumnBuilder {
    Text(Vec<u32>, Dict),
    Num(Vec<f64>),
    Time(Vec<i64>, FieldType),
    Bool(Vec<u8>),
}

impl ColumnBuilder {
    fn new(ty: FieldType, cap: usize) -> ColumnBuilder {
        match ty {
            FieldType::Text => ColumnBuilder::Text(Vec::with_capacity(cap), Dict::default()),
            FieldType::Number => ColumnBuilder::Num(Vec::with_capacity(cap)),
            FieldType::Date | FieldType::Timestamp => {
                ColumnBuilder::Time(Vec::with_capacity(cap), ty)
            }
            FieldType::Bool => ColumnBuilder::Bool(Vec::with_capacity(cap)),
        }
    }

    fn push(&mut self, c: &CellRef<'_>) {
        match self {
            ColumnBuilder::Text(codes, dict) => codes.push(match c {
                CellRef::Text(s) => dict.code(Some(s)),
                CellRef::Int(n) => dict.code(Some(&n.to_string())),
                CellRef::Real(x) => dict.code(Some(&x.to_string())),
                CellRef::Null => 0,
            }),
            ColumnBuilder::Num(v) => v.push(match c {
                CellRef::Int(n) => *n as f64,
                CellRef::Real(x) => *x,
                _ => f64::NAN,
            }),
            ColumnBuilder::Time(v, ty) => v.push(match (c, *ty) {
                (CellRef::Int(n), FieldType::Timestamp) => *n,
                (CellRef::Text(s), FieldType::Date) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map(date_to_ts)
                    .unwrap_or(NO_TIME),
                _ => NO_TIME,
            }),
            ColumnBuilder::Bool(v) => v.push(match c {
                CellRef::Int(0) => 0,
                CellRef::Int(_) => 1,
                _ => 2,
            }),
        }
    }

    fn finish(self) -> Column {
        match self {
            ColumnBuilder::Text(codes, dict) => Column::Text { codes, dict },
            ColumnBuilder::Num(v) => Column::Num(v),
            ColumnBuilder::Time(v, _) => Column::Time(v),
            ColumnBuilder::Bool(v) => Column::Bool(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::rng::Rng;

    /// Events of `n` customers with times spread over `span` seconds.
    fn events(n: usize, span: i64, rng: &mut Rng) -> (Vec<u32>, Vec<i64>) {
        let mut offsets = vec![0u32];
        let mut time = Vec::new();
        for _ in 0..n {
            let k = rng.range(0, 40) as usize;
            let mut t: Vec<i64> = (0..k).map(|_| rng.range(-span / 2, span / 2)).collect();
            t.sort_unstable();
            time.extend(t);
            offsets.push(time.len() as u32);
        }
        (offsets, time)
    }

    #[test]
    fn narrow_and_wide_times_find_the_same_windows() {
        let mut rng = Rng::new(3);
        // Within 136 years the times are stored narrow; beyond, wide.
        for (span, narrow) in [(1_000_000_000, true), (i64::from(u32::MAX) * 4, false)] {
            let (offsets, time) = events(300, span, &mut rng);
            let cols = EventColumns::new(
                "e".into(),
                offsets.clone(),
                time.clone(),
                Vec::new(),
                [Vec::new(), Vec::new(), Vec::new()],
                0,
            );
            assert_eq!(matches!(cols.times, Times::Narrow { .. }), narrow);
            for _ in 0..2_000 {
                let a = rng.range(-span, span);
                let b = a + rng.range(0, span);
                let (lo, hi) = match rng.range(0, 4) {
                    0 => (i64::MIN, b),
                    1 => (a, i64::MAX),
                    _ => (a, b),
                };
                let i = rng.index(300);
                let want: Vec<i64> = time[offsets[i] as usize..offsets[i + 1] as usize]
                    .iter()
                    .copied()
                    .filter(|&t| t >= lo && t < hi)
                    .collect();
                let got: Vec<i64> = cols.window(i, lo, hi).map(|j| cols.time(j)).collect();
                assert_eq!(got, want, "customer {i}, [{lo}, {hi})");
            }
        }
    }

    #[test]
    fn codes_take_two_bytes_while_they_fit_and_none_when_absent() {
        assert!(matches!(Codes::new(vec![0, 0, 0], 5), Codes::Absent));
        let small = Codes::new(vec![0, 3, 65_000], 65_000);
        assert!(matches!(small, Codes::Small(_)));
        assert_eq!(
            (small.get(1), small.get(2), small.max()),
            (3, 65_000, 65_000)
        );
        let large = Codes::new(vec![0, 70_000, 1], 70_000);
        assert!(matches!(large, Codes::Large(_)));
        assert_eq!(
            (large.get(1), large.get(2), large.max()),
            (70_000, 1, 70_000)
        );
        let values = EventColumns::new(
            "e".into(),
            vec![0, 2],
            vec![1, 2],
            vec![f64::NAN, f64::NAN],
            [vec![0, 0], vec![0, 0], vec![0, 0]],
            0,
        );
        assert!(values.values.is_empty() && values.value(1).is_nan());
        assert_eq!(values.product.get(0), 0);
    }

    #[test]
    fn a_dictionary_keeps_each_string_once_and_finds_it() {
        let mut d = Dict::default();
        let words = ["", "ä", "apple", "apple", "Äpfel", "𝄞 clef"];
        let codes: Vec<u32> = words.iter().map(|w| d.code(Some(w))).collect();
        assert_eq!(codes, [1, 2, 3, 3, 4, 5]);
        assert_eq!(d.len(), 5);
        assert_eq!(d.code(None), 0);
        assert_eq!(d.get(4), Some("Äpfel"));
        assert_eq!(d.get(0), None);
        assert_eq!(d.get(99), None);
        assert_eq!(d.lookup("𝄞 clef"), Some(5));
        assert_eq!(d.lookup("pear"), None);
        // Many strings: the index grows and still finds every one.
        for k in 0..50_000 {
            d.code(Some(&format!("customer{k}@example.com")));
        }
        assert_eq!(d.lookup("customer49999@example.com"), Some(50_005));
        let (bytes, ends) = d.parts();
        let again = Dict::from_parts(bytes.to_string(), ends.to_vec()).unwrap();
        assert_eq!(
            again.lookup("customer123@example.com"),
            d.lookup("customer123@example.com")
        );
        assert_eq!(
            again.iter().collect::<Vec<_>>(),
            d.iter().collect::<Vec<_>>()
        );
        // Parts that do not fit together are refused.
        assert!(Dict::from_parts("abc".into(), vec![2, 1]).is_none());
        assert!(Dict::from_parts("abc".into(), vec![4]).is_none());
        assert!(Dict::from_parts("ä".into(), vec![1, 2]).is_none());
        assert!(Dict::from_parts("abc".into(), vec![1]).is_none());
    }
}
