//! Evaluating a resolved rule: a member set, and the count at every node.
//!
//! Leaf results are cached by the leaf's content key and the evaluation
//! time (the engine itself belongs to one data version), so editing one
//! condition recomputes that condition and the cheap set operations above it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::bitset::Bitset;
use super::data::{Column, EngineData, EventColumns, NO_TIME};
use super::parse::NodePath;
use super::resolve::{EventProperty, NumTest, RFilter, RKind, RNode, RWindow, ValueTest};
use super::rule::{Aggregate, Combine, TraitKind};
use super::traits::Traits;
use crate::model::time::DAY;
use crate::progress::Progress;
use crate::store::{CellRef, Store, StoreError};

/// The exact count of one node of the rule (after its NOT).
#[derive(Clone, Debug, PartialEq)]
pub struct NodeCount {
    pub path: NodePath,
    pub count: usize,
    /// How much of its parent group this node is: the overlap of the two
    /// (intersection over union, the group taken before its own NOT). For a
    /// condition in an ALL group, the share of its customers the group
    /// keeps; in an ANY group, the share of the group it brings. For the
    /// root, its share of all customers.
    pub share_of_parent: f64,
}

/// The result of evaluating a rule.
#[derive(Clone, Debug)]
pub struct Evaluation {
    pub members: Arc<Bitset>,
    /// One entry per node of the rule, in pre-order.
    pub nodes: Vec<NodeCount>,
    /// Customers in the workspace.
    pub total: usize,
    /// Members who can be emailed (consent, an address, not unsubscribed,
    /// not hard-bounced): see [`super::reach`].
    pub reachable: usize,
    pub as_of: i64,
    pub elapsed: Duration,
    /// Leaves computed for this evaluation (the rest came from the cache).
    pub leaves_computed: usize,
}

impl Evaluation {
    pub fn count(&self) -> usize {
        self.nodes.first().map(|n| n.count).unwrap_or(0)
    }

    pub fn count_at(&self, path: &str) -> Option<usize> {
        self.nodes.iter().find(|n| n.path == path).map(|n| n.count)
    }
}

/// A cache's lock, even after a panic elsewhere poisoned it: the caches
/// hold finished values only, so they stay valid.
pub(super) fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A group's members as its children's sets arrive: their intersection
/// (all) or union (any); an empty group is everyone (all) or no one (any).
struct GroupAcc {
    combine: Combine,
    n: usize,
    acc: Option<Bitset>,
}

impl GroupAcc {
    fn new(combine: Combine, n: usize) -> GroupAcc {
        GroupAcc {
            combine,
            n,
            acc: None,
        }
    }

    fn add(&mut self, s: &Bitset) {
        match &mut self.acc {
            None => self.acc = Some(s.clone()),
            Some(a) => match self.combine {
                Combine::All => a.and_with(s),
                Combine::Any => a.or_with(s),
            },
        }
    }

    fn finish(self) -> Bitset {
        self.acc.unwrap_or_else(|| match self.combine {
            Combine::All => Bitset::full(self.n),
            Combine::Any => Bitset::empty(self.n),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cancelled")]
    Cancelled,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the workspace changed while it was read; evaluate again")]
    DataChanged,
    /// An evaluation reached a property [`Engine::prepare`] did not load: a
    /// bug, reported rather than papered over.
    #[error("event property {0} was not loaded before the evaluation")]
    Unprepared(String),
}

/// Every `(event, key)` extra property `node`, and what it refers to, tests.
fn extra_properties(node: &RNode, out: &mut Vec<(String, String)>) {
    match &node.kind {
        RKind::Group { children, .. } => children.iter().for_each(|c| extra_properties(c, out)),
        RKind::Segment { rule, .. } => extra_properties(rule, out),
        RKind::Trait {
            score: Some((_, rules)),
            ..
        } => rules.iter().for_each(|(_, r)| extra_properties(r, out)),
        RKind::Event { event, filters, .. } => {
            for f in filters {
                if let EventProperty::Extra(key) = &f.property
                    && !out.iter().any(|(e, k)| e == event && k == key)
                {
                    out.push((event.clone(), key.clone()));
                }
            }
        }
        _ => {}
    }
}

impl From<crate::progress::Cancelled> for EvalError {
    fn from(_: crate::progress::Cancelled) -> Self {
        EvalError::Cancelled
    }
}

/// An extra event property, loaded on first use.
#[derive(Debug)]
pub struct PropColumn {
    pub text: Vec<u32>,
    pub dict: super::data::Dict,
    /// NaN = not a number.
    pub num: Vec<f64>,
}

/// Leaf results by (content key, as_of), least recently used out first.
struct LeafCache {
    map: HashMap<(u64, i64), Arc<Bitset>>,
    order: VecDeque<(u64, i64)>,
    capacity: usize,
}

impl LeafCache {
    fn get(&mut self, k: (u64, i64)) -> Option<Arc<Bitset>> {
        let v = self.map.get(&k).cloned();
        if v.is_some() {
            self.order.retain(|x| *x != k);
            self.order.push_back(k);
        }
        v
    }

    fn put(&mut self, k: (u64, i64), v: Arc<Bitset>) {
        if self.map.insert(k, v).is_none() {
            self.order.push_back(k);
        }
        while self.map.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            } else {
                break;
            }
        }
    }
}

/// The segment engine over one data version of a workspace.
pub struct Engine {
    pub data: Arc<EngineData>,
    workspace: std::path::PathBuf,
    cache: Mutex<LeafCache>,
    traits: Mutex<HashMap<i64, Arc<Traits>>>,
    props: Mutex<HashMap<(String, String), Arc<PropColumn>>>,
    /// Who can be emailed, as of the last time asked.
    pub(super) reach: Mutex<Option<(i64, Arc<Bitset>)>>,
    /// Demo mode: personal fields are shown as stand-ins (counting never
    /// looks at this).
    mask: Mutex<Option<Arc<crate::model::mask::Masker>>>,
    /// Demo mode's stand-in emails, to the first customer row showing each
    /// (built once, in the background when demo mode turns on).
    standins: std::sync::OnceLock<HashMap<String, usize>>,
    origin: Origin,
}

/// Where an engine's columns came from when it was loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Read from the snapshot beside the workspace.
    Snapshot,
    /// Built from the workspace's tables; `why` the snapshot was not used
    /// (missing, stale, damaged), and whether a new one was written.
    Built { why: String, saved: bool },
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("customers", &self.data.len())
            .field("data_version", &self.data.data_version)
            .finish()
    }
}

/// What a leaf needs to evaluate one customer.
pub(super) enum LeafEval<'a> {
    Text {
        codes: &'a [u32],
        table: Vec<bool>,
    },
    Num {
        values: &'a [f64],
        test: &'a ValueTest,
    },
    Time {
        values: &'a [i64],
        test: &'a ValueTest,
        as_of: i64,
    },
    Bool {
        values: &'a [u8],
        test: &'a ValueTest,
    },
    Event(EventEval),
    Set(Arc<Bitset>),
    TraitNum {
        values: Arc<Vec<f64>>,
        test: &'a ValueTest,
    },
    TraitText {
        codes: Arc<Vec<u8>>,
        table: Vec<bool>,
    },
}

/// A compiled event condition.
pub(crate) struct EventEval {
    cols: Option<Arc<EventColumns>>,
    filters: Vec<FilterEval>,
    aggregate: Aggregate,
    lo: i64,
    hi: i64,
    as_of: i64,
    test: NumTest,
    /// For whole-population passes: `selected[j]` counts the events before
    /// `j` that are in the window and pass the filters, so a customer with
    /// nothing selected is answered with two reads.
    selected: Option<Vec<u32>>,
    /// Every event of the name is in the window and nothing filters them
    /// (a whole-history aggregate): a customer's events are all of them.
    whole: bool,
}

enum FilterEval {
    Code {
        which: EventProperty,
        table: Vec<bool>,
    },
    Value(ValueTest),
    ExtraText {
        prop: Arc<PropColumn>,
        table: Vec<bool>,
    },
    ExtraNum {
        prop: Arc<PropColumn>,
        test: ValueTest,
    },
    /// "is set" / "is empty": a string or a number is there (or not).
    ExtraPresence {
        prop: Arc<PropColumn>,
        set: bool,
    },
}

/// SQLite's sum(): Kahan–Babuška–Neumaier, so sums match it to the bit.
#[derive(Clone, Copy, Default)]
pub struct KbnSum {
    sum: f64,
    err: f64,
}

impl KbnSum {
    pub fn add(&mut self, r: f64) {
        let s = self.sum;
        let t = s + r;
        if s.abs() > r.abs() {
            self.err += (s - t) + r;
        } else {
            self.err += (r - t) + s;
        }
        self.sum = t;
    }

    pub fn total(&self) -> f64 {
        if self.err.is_finite() {
            self.sum + self.err
        } else {
            self.sum
        }
    }
}

impl EventEval {
    fn passes_filters(&self, cols: &EventColumns, j: usize) -> bool {
        self.filters.iter().all(|f| match f {
            FilterEval::Code { which, table } => {
                let code = match which {
                    EventProperty::Category => cols.category.get(j),
                    EventProperty::Product => cols.product.get(j),
                    _ => cols.campaign.get(j),
                };
                table[code as usize]
            }
            FilterEval::Value(t) => {
                let v = cols.value(j);
                t.check_num((!v.is_nan()).then_some(v))
            }
            FilterEval::ExtraText { prop, table } => table[prop.text[j] as usize],
            FilterEval::ExtraNum { prop, test } => {
                let v = prop.num[j];
                test.check_num((!v.is_nan()).then_some(v))
            }
            FilterEval::ExtraPresence { prop, set } => {
                (prop.text[j] != 0 || !prop.num[j].is_nan()) == *set
            }
        })
    }

    /// Marks every event in the window that passes the filters, once, for
    /// evaluating the whole population (split over the machine's cores).
    fn select_all(&mut self) {
        let Some(cols) = self.cols.clone() else {
            return;
        };
        // Nothing to mark when the window holds every event unfiltered.
        self.whole = self.filters.is_empty()
            && cols
                .span
                .is_some_and(|(first, last)| self.lo <= first && last < self.hi);
        if self.whole {
            return;
        }
        let n = cols.len();
        let mut pre = vec![0u32; n + 1];
        let threads = std::thread::available_parallelism()
            .map(|t| t.get())
            .unwrap_or(1)
            .clamp(1, 8);
        let chunk = n.div_ceil(threads).max(1 << 16);
        let this = &*self;
        // Each chunk counts its own selected events; then chunk totals are
        // carried forward.
        std::thread::scope(|sc| {
            for (k, part) in pre[1..].chunks_mut(chunk).enumerate() {
                let cols = &cols;
                sc.spawn(move || {
                    let base = k * chunk;
                    let mut acc = 0u32;
                    for (o, slot) in part.iter_mut().enumerate() {
                        let j = base + o;
                        let t = cols.time(j);
                        let hit = t >= this.lo
                            && t < this.hi
                            && (this.filters.is_empty() || this.passes_filters(cols, j));
                        acc += u32::from(hit);
                        *slot = acc;
                    }
                });
            }
        });
        let mut carry = 0u32;
        for part in pre[1..].chunks_mut(chunk) {
            if carry > 0 {
                for x in part.iter_mut() {
                    *x += carry;
                }
            }
            carry = part.last().copied().unwrap_or(carry);
        }
        self.selected = Some(pre);
    }

    /// The aggregate for customer `i`; `None` when it has no value.
    #[inline]
    pub(crate) fn value(&self, i: usize) -> Option<f64> {
        let Some(cols) = &self.cols else {
            return empty_aggregate(self.aggregate);
        };
        let mut known = None;
        if self.whole {
            let r = cols.range(i);
            if r.is_empty() {
                return empty_aggregate(self.aggregate);
            }
            known = Some(r);
        } else if let Some(pre) = &self.selected {
            let r = cols.range(i);
            let count = pre[r.end] - pre[r.start];
            if count == 0 {
                return empty_aggregate(self.aggregate);
            }
            if self.aggregate == Aggregate::Count {
                return Some(f64::from(count));
            }
            // Unfiltered, the selected events are one run; when the newest
            // event is before the window's end, the run ends with it.
            if self.filters.is_empty() && cols.time(r.end - 1) < self.hi {
                known = Some(r.end - count as usize..r.end);
            }
        }
        let w = known.unwrap_or_else(|| cols.window(i, self.lo, self.hi));
        if self.filters.is_empty() {
            // Tight loops for the common unfiltered aggregates.
            match self.aggregate {
                Aggregate::Count => return Some(w.len() as f64),
                Aggregate::Sum => {
                    let mut sum = KbnSum::default();
                    let mut any = false;
                    for &v in cols.values.get(w).unwrap_or_default() {
                        if !v.is_nan() {
                            sum.add(v);
                            any = true;
                        }
                    }
                    return Some(if any { sum.total() } else { 0.0 });
                }
                Aggregate::DaysSinceLast => {
                    return (!w.is_empty())
                        .then(|| (self.as_of - cols.time(w.end - 1)) as f64 / DAY as f64);
                }
                _ => {}
            }
        }
        let mut n = 0usize;
        let mut n_values = 0usize;
        let mut sum = KbnSum::default();
        let mut min = f64::INFINITY;
        let mut max = f64::NEG_INFINITY;
        let mut days = 0usize;
        let mut last_day = None;
        let mut last_time = None;
        for j in w {
            if !self.filters.is_empty() && !self.passes_filters(cols, j) {
                continue;
            }
            n += 1;
            let t = cols.time(j);
            last_time = Some(t);
            // Integer division truncates toward zero, as SQLite's does.
            let day = t / DAY;
            if last_day != Some(day) {
                days += 1;
                last_day = Some(day);
            }
            let v = cols.value(j);
            if !v.is_nan() {
                n_values += 1;
                sum.add(v);
                min = min.min(v);
                max = max.max(v);
            }
        }
        match self.aggregate {
            Aggregate::Count => Some(n as f64),
            Aggregate::Sum => Some(if n_values == 0 { 0.0 } else { sum.total() }),
            Aggregate::Average => (n_values > 0).then(|| sum.total() / n_values as f64),
            Aggregate::Min => (n_values > 0).then_some(min),
            Aggregate::Max => (n_values > 0).then_some(max),
            Aggregate::DistinctDays => Some(days as f64),
            Aggregate::DaysSinceLast => last_time.map(|t| (self.as_of - t) as f64 / DAY as f64),
        }
    }

    #[inline]
    fn check(&self, i: usize) -> bool {
        self.test.check(self.value(i))
    }
}

fn empty_aggregate(a: Aggregate) -> Option<f64> {
    match a {
        Aggregate::Count | Aggregate::Sum | Aggregate::DistinctDays => Some(0.0),
        _ => None,
    }
}

impl LeafEval<'_> {
    /// The set of customers that pass, with one tight loop per kind of leaf.
    fn bits(&self, n: usize) -> Bitset {
        match self {
            LeafEval::Text { codes, table } => Bitset::from_fn_par(n, |i| table[codes[i] as usize]),
            LeafEval::Num { values, test } => Bitset::from_fn_par(n, |i| {
                let v = values[i];
                test.check_num((!v.is_nan()).then_some(v))
            }),
            LeafEval::Time {
                values,
                test,
                as_of,
            } => Bitset::from_fn_par(n, |i| {
                let t = values[i];
                test.check_time((t != NO_TIME).then_some(t), *as_of)
            }),
            LeafEval::Bool { values, test } => Bitset::from_fn_par(n, |i| {
                let v = values[i];
                test.check_num((v != 2).then_some(v as f64))
            }),
            LeafEval::Event(e) => Bitset::from_fn_par(n, |i| e.check(i)),
            LeafEval::Set(s) => (**s).clone(),
            LeafEval::TraitNum { values, test } => Bitset::from_fn_par(n, |i| {
                let v = values[i];
                test.check_num((!v.is_nan()).then_some(v))
            }),
            LeafEval::TraitText { codes, table } => {
                Bitset::from_fn_par(n, |i| table[codes[i] as usize])
            }
        }
    }

    pub(super) fn check(&self, i: usize) -> bool {
        match self {
            LeafEval::Text { codes, table } => table[codes[i] as usize],
            LeafEval::Num { values, test } => {
                let v = values[i];
                test.check_num((!v.is_nan()).then_some(v))
            }
            LeafEval::Time {
                values,
                test,
                as_of,
            } => {
                let t = values[i];
                test.check_time((t != NO_TIME).then_some(t), *as_of)
            }
            LeafEval::Bool { values, test } => {
                let v = values[i];
                test.check_num((v != 2).then_some(v as f64))
            }
            LeafEval::Event(e) => e.check(i),
            LeafEval::Set(s) => s.get(i),
            LeafEval::TraitNum { values, test } => {
                let v = values[i];
                test.check_num((!v.is_nan()).then_some(v))
            }
            LeafEval::TraitText { codes, table } => table[codes[i] as usize],
        }
    }
}

impl Engine {
    pub fn new(data: EngineData, workspace: impl Into<std::path::PathBuf>) -> Engine {
        Engine {
            data: Arc::new(data),
            workspace: workspace.into(),
            cache: Mutex::new(LeafCache {
                map: HashMap::new(),
                order: VecDeque::new(),
                capacity: 512,
            }),
            traits: Mutex::new(HashMap::new()),
            props: Mutex::new(HashMap::new()),
            reach: Mutex::new(None),
            mask: Mutex::new(None),
            standins: std::sync::OnceLock::new(),
            origin: Origin::Built {
                why: "built directly".into(),
                saved: false,
            },
        }
    }

    /// Loads the workspace at `store` into a new engine: from its snapshot
    /// when that was built from the workspace as it is now, otherwise
    /// built from the tables (in one read transaction) and the snapshot
    /// written anew for the next open.
    pub fn load(store: &Store, progress: &dyn Progress) -> Result<Engine, super::data::LoadError> {
        use super::snapshot::{self, SnapshotError};
        let cache = snapshot::path_for(store.path());
        let (data, origin) = store.in_read_transaction(|| {
            let fp = snapshot::fingerprint(store)?;
            match snapshot::read(&cache, &fp, progress) {
                Ok(data) => Ok((data, Origin::Snapshot)),
                Err(SnapshotError::Cancelled) => Err(super::data::LoadError::Cancelled),
                Err(why) => {
                    let data = EngineData::load(store, progress)?;
                    let saved = snapshot::write(&data, &fp, &cache).is_ok();
                    let why = why.to_string();
                    Ok((data, Origin::Built { why, saved }))
                }
            }
        })??;
        let mut engine = Engine::new(data, store.path());
        engine.origin = origin;
        Ok(engine)
    }

    /// Where this engine's columns came from.
    /// The workspace this engine was loaded from.
    pub fn workspace(&self) -> &std::path::Path {
        &self.workspace
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Forgets every cached leaf, trait and property column (benchmarks
    /// measure cold evaluations with this).
    pub fn clear_cache(&self) {
        {
            let mut c = locked(&self.cache);
            c.map.clear();
            c.order.clear();
        }
        {
            let mut t = locked(&self.traits);
            t.clear();
        }
        {
            let mut p = locked(&self.props);
            p.clear();
        }
        *locked(&self.reach) = None;
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Evaluates `root` as of `as_of` (Unix seconds).
    pub fn evaluate(
        &self,
        root: &RNode,
        as_of: i64,
        progress: &dyn Progress,
    ) -> Result<Evaluation, EvalError> {
        let started = Instant::now();
        self.prepare(root)?;
        let mut nodes = Vec::new();
        let mut computed = 0;
        let members = self.eval_counted(root, as_of, progress, &mut nodes, &mut computed)?;
        let total = self.data.len();
        nodes[0].share_of_parent = if total == 0 {
            0.0
        } else {
            members.count() as f64 / total as f64
        };
        // Reachable: consent, an address, no unsubscribe, no hard bounce.
        let reachable = members.count_and(&self.reachable(as_of));
        Ok(Evaluation {
            members,
            nodes,
            total,
            reachable,
            as_of,
            elapsed: started.elapsed(),
            leaves_computed: computed,
        })
    }

    /// Evaluates `node`, pushing its count (and its subtree's) onto `out`.
    fn eval_counted(
        &self,
        node: &RNode,
        as_of: i64,
        progress: &dyn Progress,
        out: &mut Vec<NodeCount>,
        computed: &mut usize,
    ) -> Result<Arc<Bitset>, EvalError> {
        let me = out.len();
        out.push(NodeCount {
            path: node.path.clone(),
            count: 0,
            share_of_parent: 0.0,
        });
        let set = match &node.kind {
            RKind::Group { combine, children } => {
                let mut kids: Vec<(usize, Arc<Bitset>)> = Vec::with_capacity(children.len());
                let mut acc = GroupAcc::new(*combine, self.data.len());
                for c in children {
                    let at = out.len();
                    let s = self.eval_counted(c, as_of, progress, out, computed)?;
                    acc.add(&s);
                    kids.push((at, s));
                }
                let mut set = acc.finish();
                // Each child's overlap with the group (before the group's NOT),
                // as intersection over union.
                let group_count = set.count();
                for (at, s) in kids {
                    let both = s.count_and(&set);
                    let either = s.count() + group_count - both;
                    out[at].share_of_parent = if either == 0 {
                        0.0
                    } else {
                        both as f64 / either as f64
                    };
                }
                if node.not {
                    set.negate();
                }
                Arc::new(set)
            }
            _ => self.leaf_set(node, as_of, progress, computed)?,
        };
        out[me].count = set.count();
        Ok(set)
    }

    /// The final set of any node (NOT applied), without per-node counts.
    pub fn set_of(
        &self,
        node: &RNode,
        as_of: i64,
        progress: &dyn Progress,
    ) -> Result<Arc<Bitset>, EvalError> {
        self.prepare(node)?;
        self.set_of_prepared(node, as_of, progress)
    }

    fn set_of_prepared(
        &self,
        node: &RNode,
        as_of: i64,
        progress: &dyn Progress,
    ) -> Result<Arc<Bitset>, EvalError> {
        let mut computed = 0;
        match &node.kind {
            RKind::Group { combine, children } => {
                let mut acc = GroupAcc::new(*combine, self.data.len());
                for c in children {
                    let s = self.set_of_prepared(c, as_of, progress)?;
                    acc.add(&s);
                }
                let mut set = acc.finish();
                if node.not {
                    set.negate();
                }
                Ok(Arc::new(set))
            }
            _ => self.leaf_set(node, as_of, progress, &mut computed),
        }
    }

    fn leaf_set(
        &self,
        node: &RNode,
        as_of: i64,
        progress: &dyn Progress,
        computed: &mut usize,
    ) -> Result<Arc<Bitset>, EvalError> {
        progress.check()?;
        let cached = locked(&self.cache).get((node.key, as_of));
        let raw = match cached {
            Some(s) => s,
            None => {
                *computed += 1;
                let eval = self.leaf_eval(node, as_of, progress)?;
                let s = Arc::new(eval.bits(self.data.len()));
                {
                    let mut c = locked(&self.cache);
                    c.put((node.key, as_of), s.clone());
                }
                s
            }
        };
        Ok(if node.not {
            Arc::new(raw.negated())
        } else {
            raw
        })
    }

    /// A leaf's set (before its NOT) when it is already computed as of
    /// `as_of`.
    pub(super) fn cached_leaf(&self, key: u64, as_of: i64) -> Option<Arc<Bitset>> {
        locked(&self.cache).get((key, as_of))
    }

    /// Prepares a leaf for per-customer checks (before its NOT).
    pub(super) fn leaf_eval<'a>(
        &'a self,
        node: &'a RNode,
        as_of: i64,
        progress: &dyn Progress,
    ) -> Result<LeafEval<'a>, EvalError> {
        Ok(match &node.kind {
            RKind::Group { .. } => LeafEval::Set(self.set_of(node, as_of, progress)?),
            RKind::Profile { field, test } => {
                let Some((_, col)) = self.data.column(&field.name) else {
                    return Err(EvalError::DataChanged);
                };
                match col {
                    Column::Text { codes, dict } => LeafEval::Text {
                        codes,
                        table: dict.table(|s| test.check_text(s)),
                    },
                    Column::Num(values) => LeafEval::Num { values, test },
                    Column::Time(values) => LeafEval::Time {
                        values,
                        test,
                        as_of,
                    },
                    Column::Bool(values) => LeafEval::Bool { values, test },
                }
            }
            RKind::Event {
                event,
                filters,
                aggregate,
                window,
                test,
            } => {
                let mut e = self.event_eval(event, filters, *aggregate, window, *test, as_of)?;
                e.select_all();
                LeafEval::Event(e)
            }
            RKind::Segment { rule, .. } => LeafEval::Set(self.set_of(rule, as_of, progress)?),
            RKind::Trait {
                kind, score, test, ..
            } => {
                if let Some((_, rules)) = score {
                    let mut total = vec![0.0f64; self.data.len()];
                    for (points, cond) in rules {
                        let s = self.set_of(cond, as_of, progress)?;
                        for i in s.iter() {
                            total[i] += *points as f64;
                        }
                    }
                    LeafEval::TraitNum {
                        values: Arc::new(total),
                        test,
                    }
                } else {
                    let traits = self.traits(as_of);
                    match kind {
                        TraitKind::RfmSegment => LeafEval::TraitText {
                            codes: traits.segment.clone(),
                            table: Traits::segment_table(|s| test.check_text(Some(s))),
                        },
                        k => LeafEval::TraitNum {
                            values: traits.numeric(*k),
                            test,
                        },
                    }
                }
            }
        })
    }

    pub(crate) fn event_eval(
        &self,
        event: &str,
        filters: &[RFilter],
        aggregate: Aggregate,
        window: &RWindow,
        test: NumTest,
        as_of: i64,
    ) -> Result<EventEval, EvalError> {
        let cols = self.data.events.get(event).cloned();
        let (lo, hi) = window.range(as_of);
        let mut fe = Vec::new();
        for f in filters {
            fe.push(match &f.property {
                p
                @ (EventProperty::Category | EventProperty::Product | EventProperty::Campaign) => {
                    FilterEval::Code {
                        which: p.clone(),
                        table: self.data.strings.table(|s| f.test.check_text(s)),
                    }
                }
                EventProperty::Value => FilterEval::Value(f.test.clone()),
                EventProperty::Extra(key) => {
                    let prop = self.prop_column(event, key)?;
                    match &f.test {
                        ValueTest::IsSet => FilterEval::ExtraPresence { prop, set: true },
                        ValueTest::IsEmpty => FilterEval::ExtraPresence { prop, set: false },
                        t @ (ValueTest::Num(_) | ValueTest::NumIn(_)) => FilterEval::ExtraNum {
                            prop,
                            test: t.clone(),
                        },
                        t => FilterEval::ExtraText {
                            table: prop.dict.table(|s| t.check_text(s)),
                            prop,
                        },
                    }
                }
            });
        }
        Ok(EventEval {
            cols,
            filters: fe,
            aggregate,
            lo,
            hi,
            as_of,
            test,
            selected: None,
            whole: false,
        })
    }

    /// Loads, before an evaluation starts, the extra event properties its
    /// rule tests that are not in memory yet (the engine's other columns are
    /// loaded with the workspace). The evaluation itself then works on
    /// memory alone.
    pub fn prepare(&self, root: &RNode) -> Result<(), EvalError> {
        let mut need = Vec::new();
        extra_properties(root, &mut need);
        for (event, key) in need {
            let cols = self.data.events.get(&event).cloned();
            self.load_prop_column(&event, &key, cols.as_deref())?;
        }
        Ok(())
    }

    /// For each of `events`, whether a flag property (`machine` of
    /// `email_open`, say) is true for each of its events, aligned with the
    /// event's columns; `None` when the workspace has no such event. Read
    /// from the store in one pass: a workspace changed since the engine was
    /// built is an error.
    pub fn flag_properties(
        &self,
        events: &[&str],
        key: &str,
    ) -> Result<Vec<Option<Vec<bool>>>, EvalError> {
        let present: Vec<&str> = events
            .iter()
            .copied()
            .filter(|e| self.data.events.contains_key(*e))
            .collect();
        if present.is_empty() {
            return Ok(vec![None; events.len()]);
        }
        let store = Store::open_read_only(&self.workspace)?;
        if store.data_version()? != self.data.data_version {
            return Err(EvalError::DataChanged);
        }
        let mut read = store.event_flags(&present, key)?.into_iter();
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            let Some(cols) = self.data.events.get(*e) else {
                out.push(None);
                continue;
            };
            let flags = read.next().unwrap_or_default();
            if flags.len() != cols.len() {
                return Err(EvalError::DataChanged);
            }
            out.push(Some(flags));
        }
        Ok(out)
    }

    /// An extra property column [`Engine::prepare`] loaded.
    fn prop_column(&self, event: &str, key: &str) -> Result<Arc<PropColumn>, EvalError> {
        locked(&self.props)
            .get(&(event.to_string(), key.to_string()))
            .cloned()
            .ok_or_else(|| EvalError::Unprepared(format!("{event}.{key}")))
    }

    fn load_prop_column(
        &self,
        event: &str,
        key: &str,
        cols: Option<&EventColumns>,
    ) -> Result<Arc<PropColumn>, EvalError> {
        let k = (event.to_string(), key.to_string());
        if let Some(p) = locked(&self.props).get(&k).cloned() {
            return Ok(p);
        }
        let store = Store::open_read_only(&self.workspace)?;
        if store.data_version()? != self.data.data_version {
            return Err(EvalError::DataChanged);
        }
        let mut text = Vec::new();
        let mut num = Vec::new();
        let mut dict = super::data::Dict::default();
        store.scan_event_property(event, key, |c| match c {
            CellRef::Text(s) => {
                text.push(dict.code(Some(s)));
                num.push(f64::NAN);
            }
            CellRef::Int(n) => {
                text.push(0);
                num.push(n as f64);
            }
            CellRef::Real(x) => {
                text.push(0);
                num.push(x);
            }
            CellRef::Null => {
                text.push(0);
                num.push(f64::NAN);
            }
        })?;
        if text.len() != cols.map(|c| c.len()).unwrap_or(0) {
            return Err(EvalError::DataChanged);
        }
        let p = Arc::new(PropColumn { text, dict, num });
        {
            let mut m = locked(&self.props);
            m.insert(k, p.clone());
        }
        Ok(p)
    }

    /// Computed traits as of `as_of`, only if already computed.
    pub fn traits_cached(&self, as_of: i64) -> Option<Arc<Traits>> {
        locked(&self.traits).get(&as_of).cloned()
    }

    /// Finds a customer by workspace id, external id or email (any case).
    pub fn find_customer(&self, who: &str) -> Option<i64> {
        let who = who.trim();
        let by = |field: &str, needle: &str| {
            let (_, col) = self.data.column(field)?;
            if let Column::Text { codes, dict } = col {
                let code = dict.lookup(needle)?;
                codes
                    .iter()
                    .position(|&c| c == code)
                    .map(|i| self.data.ids[i])
            } else {
                None
            }
        };
        by("external_id", who)
            .or_else(|| by("email", &who.to_lowercase()))
            .or_else(|| {
                who.parse::<i64>()
                    .ok()
                    .filter(|id| self.data.index_of(*id).is_some())
            })
            .or_else(|| {
                // In demo mode, the email on screen is a stand-in's.
                let m = self.mask()?;
                if !m.is_pii("email") {
                    return None;
                }
                let row = *self.standin_index().get(&who.to_lowercase())?;
                Some(self.data.ids[row])
            })
    }

    /// Computed traits as of `as_of` (cached).
    pub fn traits(&self, as_of: i64) -> Arc<Traits> {
        if let Some(t) = locked(&self.traits).get(&as_of).cloned() {
            return t;
        }
        let t = Arc::new(Traits::compute(self, as_of));
        {
            let mut m = locked(&self.traits);
            if m.len() > 8 {
                m.clear();
            }
            m.insert(as_of, t.clone());
        }
        t
    }

    /// Whether customer `i` meets the leaf `node` (before its NOT), and the
    /// customer's actual value for it, for explanations.
    pub(crate) fn leaf_check(
        &self,
        node: &RNode,
        i: usize,
        as_of: i64,
        progress: &dyn Progress,
    ) -> Result<bool, EvalError> {
        Ok(self.leaf_eval(node, as_of, progress)?.check(i))
    }

    /// The display value of customer `i`'s field (a stand-in in demo
    /// mode when the field is personal).
    pub fn field_display(&self, name: &str, i: usize) -> Option<String> {
        let (f, c) = self.data.column(name)?;
        let v = c.display(i, f.field_type)?;
        match self.mask() {
            Some(m) if m.is_pii(name) => Some(m.show(name, &self.customer_key(i), &v)),
            _ => Some(v),
        }
    }

    /// The key a customer's stand-in is made from: their customer id.
    pub fn customer_key(&self, i: usize) -> String {
        match self.data.column("external_id") {
            Some((f, c)) => c.display(i, f.field_type).unwrap_or_default(),
            None => self.data.ids[i].to_string(),
        }
    }

    /// Demo mode's stand-in emails to customer rows (the first customer
    /// showing each). Built on first use; [`Engine::set_mask`]'s callers
    /// warm it on a worker thread so a search never waits for it.
    pub fn standin_index(&self) -> &HashMap<String, usize> {
        self.standins.get_or_init(|| {
            let mut m = HashMap::with_capacity(self.data.len());
            for i in 0..self.data.len() {
                m.entry(crate::model::mask::StandIn::of(&self.customer_key(i)).email)
                    .or_insert(i);
            }
            m
        })
    }

    /// Turns demo mode on (with what to mask) or off.
    pub fn set_mask(&self, mask: Option<Arc<crate::model::mask::Masker>>) {
        *locked(&self.mask) = mask;
    }

    /// What demo mode masks, when it is on.
    pub fn mask(&self) -> Option<Arc<crate::model::mask::Masker>> {
        locked(&self.mask).clone()
    }
}
