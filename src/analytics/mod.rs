//! How each segment responds to email, headless: the Performance screen,
//! the builder's live metrics and `prism perf` all call it.
//!
//! - [`sends`] reads every send of every campaign once (who, and what the
//!   send led to).
//! - [`stats`] holds the statistics: Wilson, Newcombe, log-ratio,
//!   bootstrap, Benjamini–Hochberg.
//! - This module turns sends and segments into a [`Report`]: per segment,
//!   every metric with its 95 % interval, and its difference and relative
//!   lift against *the rest of the audience* (the recipients not in the
//!   segment; "everyone" would contain the segment and count it twice),
//!   adjusted for testing many segments × metrics before anything is
//!   called higher or lower.
//!
//! Membership is evaluated as of each campaign's send time by default: a
//! segment is judged on who it held when the email went out.

pub mod sends;
pub mod stats;

use std::sync::Arc;

use serde::Serialize;

use crate::engine::{Bitset, Engine, EvalError, RNode};
use crate::model::time::ts_to_date;
use crate::progress::Progress;
pub use sends::{Attribution, DataNotes, Sends, Trigger};
use sends::{CampaignSends, flag};
use stats::{Estimate, Sparse};

/// Segments with fewer recipients are shown, greyed, but not ranked or
/// called higher or lower.
pub const MIN_RECIPIENTS: u64 = 50;
/// Adjusted p-values (q) below this flag a difference.
pub const FALSE_DISCOVERY_RATE: f64 = 0.05;
/// The bootstrap's seed: the same data gives the same intervals.
pub const SEED: u64 = 20_261_206;

/// Whose sends a segment's figures count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Membership {
    /// The members as of each campaign's send time.
    #[default]
    AsOfSend,
    /// Today's members (as of the evaluation time), for every campaign.
    Current,
}

/// Which campaigns count.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selection {
    /// Campaign ids; empty: every campaign.
    pub campaigns: Vec<String>,
    /// Send times from `from` (inclusive) to `to` (exclusive).
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl Selection {
    pub fn includes(&self, c: &CampaignSends) -> bool {
        (self.campaigns.is_empty() || self.campaigns.contains(&c.campaign.id))
            && self.from.is_none_or(|f| c.sent_at >= f)
            && self.to.is_none_or(|t| c.sent_at < t)
    }
}

/// Counts over a group of sends.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Counts {
    pub recipients: u64,
    pub delivered: u64,
    pub opened: u64,
    pub human_opened: u64,
    pub clicked: u64,
    pub unsubscribed: u64,
    pub bounced: u64,
    /// Sends whose attribution window has closed (conversion's base).
    pub closed: u64,
    pub converted: u64,
    /// Attributed revenue per closed send (the non-zero ones listed).
    #[serde(skip)]
    pub revenue: Sparse,
    pub revenue_total: f64,
}

impl Counts {
    fn add_send(&mut self, f: u8) {
        self.add_sends(f, 1);
    }

    /// `n` sends that all led to `f`.
    fn add_sends(&mut self, f: u8, n: u64) {
        let has = |bit: u8| if f & bit != 0 { n } else { 0 };
        self.recipients += n;
        if f & flag::BOUNCED != 0 {
            self.bounced += n;
            return;
        }
        self.delivered += n;
        self.opened += has(flag::OPENED);
        self.human_opened += has(flag::HUMAN_OPENED);
        self.clicked += has(flag::CLICKED);
        self.unsubscribed += has(flag::UNSUBSCRIBED);
        if f & flag::CLOSED != 0 {
            self.closed += n;
            self.converted += has(flag::CONVERTED);
        }
    }

    fn add_revenue(&mut self, v: f64) {
        self.revenue.nonzero.push(v);
        self.revenue_total += v;
    }

    fn finish(&mut self) {
        self.revenue.n = self.closed;
    }

    fn merge(&mut self, o: &Counts) {
        self.recipients += o.recipients;
        self.delivered += o.delivered;
        self.opened += o.opened;
        self.human_opened += o.human_opened;
        self.clicked += o.clicked;
        self.unsubscribed += o.unsubscribed;
        self.bounced += o.bounced;
        self.closed += o.closed;
        self.converted += o.converted;
        self.revenue.nonzero.extend_from_slice(&o.revenue.nonzero);
        self.revenue.n = self.closed;
        self.revenue_total += o.revenue_total;
    }
}

/// The metrics, in the order the screen shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    OpenRate,
    HumanOpenRate,
    ClickRate,
    ClickToOpen,
    HumanClickToOpen,
    ConversionRate,
    RevenuePerRecipient,
    UnsubscribeRate,
    BounceRate,
}

impl Metric {
    pub const ALL: [Metric; 9] = [
        Metric::OpenRate,
        Metric::HumanOpenRate,
        Metric::ClickRate,
        Metric::ClickToOpen,
        Metric::HumanClickToOpen,
        Metric::ConversionRate,
        Metric::RevenuePerRecipient,
        Metric::UnsubscribeRate,
        Metric::BounceRate,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Metric::OpenRate => "Open rate",
            Metric::HumanOpenRate => "Open rate (no machine opens)",
            Metric::ClickRate => "Click rate",
            Metric::ClickToOpen => "Click-to-open",
            Metric::HumanClickToOpen => "Click-to-open (no machine opens)",
            Metric::ConversionRate => "Conversion rate",
            Metric::RevenuePerRecipient => "Revenue per recipient",
            Metric::UnsubscribeRate => "Unsubscribe rate",
            Metric::BounceRate => "Bounce rate",
        }
    }

    /// The name in CSV and JSON.
    pub fn key(self) -> &'static str {
        match self {
            Metric::OpenRate => "open_rate",
            Metric::HumanOpenRate => "open_rate_human",
            Metric::ClickRate => "click_rate",
            Metric::ClickToOpen => "click_to_open",
            Metric::HumanClickToOpen => "click_to_open_human",
            Metric::ConversionRate => "conversion_rate",
            Metric::RevenuePerRecipient => "revenue_per_recipient",
            Metric::UnsubscribeRate => "unsubscribe_rate",
            Metric::BounceRate => "bounce_rate",
        }
    }

    pub fn is_rate(self) -> bool {
        self != Metric::RevenuePerRecipient
    }

    /// The rate's count and base.
    pub fn fraction(self, c: &Counts) -> Option<(u64, u64)> {
        Some(match self {
            Metric::OpenRate => (c.opened, c.delivered),
            Metric::HumanOpenRate => (c.human_opened, c.delivered),
            Metric::ClickRate => (c.clicked, c.delivered),
            Metric::ClickToOpen => (c.clicked, c.opened),
            Metric::HumanClickToOpen => (c.clicked, c.human_opened),
            Metric::ConversionRate => (c.converted, c.closed),
            Metric::UnsubscribeRate => (c.unsubscribed, c.delivered),
            Metric::BounceRate => (c.bounced, c.recipients),
            Metric::RevenuePerRecipient => return None,
        })
    }
}

/// What the statistics allow to say of a segment's metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Higher than the rest, after adjustment for many comparisons.
    Higher,
    Lower,
    /// No difference the data can tell apart from chance.
    Unclear,
    /// Fewer than [`MIN_RECIPIENTS`] recipients: not ranked.
    TooSmall,
    /// No base (no sends, no opens, bounces not recorded).
    NoData,
}

/// One metric of one segment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricValue {
    pub metric: Metric,
    pub value: Option<Estimate>,
    /// The rest of the audience's value.
    pub rest: Option<Estimate>,
    /// Segment minus rest (Newcombe's interval for rates; bootstrap for
    /// revenue per recipient).
    pub difference: Option<Estimate>,
    /// Segment over rest, minus 1 (log-ratio interval; rates only).
    pub lift: Option<Estimate>,
    pub p: Option<f64>,
    /// Benjamini–Hochberg adjusted p-value.
    pub q: Option<f64>,
    pub verdict: Verdict,
}

/// One segment's figures.
#[derive(Clone, Debug, Serialize)]
pub struct SegmentReport {
    pub id: i64,
    pub name: String,
    pub counts: Counts,
    pub rest: Counts,
    pub metrics: Vec<MetricValue>,
    pub too_small: bool,
}

impl SegmentReport {
    pub fn metric(&self, m: Metric) -> Option<&MetricValue> {
        self.metrics.iter().find(|v| v.metric == m)
    }
}

/// A segment to report on: id, name, and its resolved rule.
#[derive(Clone)]
pub struct SegmentRule {
    pub id: i64,
    pub name: String,
    pub node: Arc<RNode>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub segments: Vec<SegmentReport>,
    /// Every send of the selected campaigns.
    pub all: Counts,
    pub campaigns: usize,
    pub membership: Membership,
    pub attribution: Attribution,
    pub as_of: i64,
    pub notes: DataNotes,
    pub has_bounces: bool,
    pub has_machine_marks: bool,
}

/// A segment's members among one campaign's recipients.
#[derive(Clone, Debug)]
pub enum Members {
    /// Every member (engine rows): today's members, shared by every
    /// campaign.
    Everyone(Arc<Bitset>),
    /// Bit `k`: whether the campaign's `k`-th recipient was a member (as
    /// of its send; only the recipients were checked).
    Recipients(Bitset),
}

impl Members {
    /// Whether recipient `k` of `c` is a member.
    #[inline]
    pub fn has(&self, c: &CampaignSends, k: usize) -> bool {
        match self {
            Members::Everyone(set) => set.get(c.rows[k] as usize),
            Members::Recipients(bits) => bits.get(k),
        }
    }
}

/// Today's members `set` for each selected campaign (`None` for the
/// others, and for campaigns without sends).
pub fn current_by_campaign(
    sends: &Sends,
    set: &Arc<Bitset>,
    selection: &Selection,
) -> Vec<Option<Members>> {
    sends
        .campaigns
        .iter()
        .map(|c| {
            (selection.includes(c) && !c.rows.is_empty()).then(|| Members::Everyone(set.clone()))
        })
        .collect()
}

/// Adds one campaign's sends to the segment's counts, and to the rest's
/// (its recipients not in the segment) when `rest` is given. Sends are
/// tallied by what they led to (one byte of flags), so a segment costs one
/// increment per member and the rest is the campaign's tally minus it.
fn add_campaign(c: &CampaignSends, set: &Members, seg: &mut Counts, rest: Option<&mut Counts>) {
    let mut mine = [0u64; 256];
    match set {
        Members::Recipients(bits) => {
            for k in bits.iter() {
                mine[c.flags[k] as usize] += 1;
            }
        }
        Members::Everyone(members) => {
            for (&row, &f) in c.rows.iter().zip(&c.flags) {
                mine[f as usize] += u64::from(members.get(row as usize));
            }
        }
    }
    for (f, &n) in mine.iter().enumerate() {
        if n > 0 {
            seg.add_sends(f as u8, n);
        }
    }
    if let Some(rest) = rest {
        let all = c.flag_tally();
        for (f, (&n, &m)) in all.iter().zip(&mine).enumerate() {
            if n > m {
                rest.add_sends(f as u8, n - m);
            }
        }
        for &(pos, v) in &c.revenue {
            if set.has(c, pos as usize) {
                seg.add_revenue(v);
            } else {
                rest.add_revenue(v);
            }
        }
    } else {
        for &(pos, v) in &c.revenue {
            if set.has(c, pos as usize) {
                seg.add_revenue(v);
            }
        }
    }
}

/// A segment's counts and the rest's over the selected campaigns, given
/// each campaign's members.
pub fn split_counts(sends: &Sends, members: &[Option<Members>]) -> (Counts, Counts) {
    let (mut seg, mut rest) = (Counts::default(), Counts::default());
    for (c, set) in sends.campaigns.iter().zip(members) {
        let Some(set) = set else { continue };
        add_campaign(c, set, &mut seg, Some(&mut rest));
    }
    seg.finish();
    rest.finish();
    (seg, rest)
}

/// Every send of the selected campaigns.
pub fn all_counts(sends: &Sends, selection: &Selection) -> Counts {
    let mut all = Counts::default();
    for c in sends.campaigns.iter().filter(|c| selection.includes(c)) {
        for &f in &c.flags {
            all.add_send(f);
        }
        for &(_, v) in &c.revenue {
            all.add_revenue(v);
        }
    }
    all.finish();
    all
}

/// Every metric of a segment against the rest (p-values unadjusted).
pub fn metrics(seg: &Counts, rest: &Counts, has_bounces: bool, seed: u64) -> Vec<MetricValue> {
    Metric::ALL
        .iter()
        .map(|&m| {
            let no_base = m == Metric::BounceRate && !has_bounces;
            let mut v = MetricValue {
                metric: m,
                value: None,
                rest: None,
                difference: None,
                lift: None,
                p: None,
                q: None,
                verdict: Verdict::NoData,
            };
            if no_base {
                return v;
            }
            if let (Some((k1, n1)), Some((k2, n2))) = (m.fraction(seg), m.fraction(rest)) {
                v.value = stats::wilson(k1, n1);
                v.rest = stats::wilson(k2, n2);
                v.difference = stats::newcombe(k1, n1, k2, n2);
                v.lift = stats::relative_lift(k1, n1, k2, n2);
                v.p = stats::two_proportion_p(k1, n1, k2, n2);
            } else {
                v.value = stats::bootstrap_mean(&seg.revenue, seed);
                v.rest = stats::bootstrap_mean(&rest.revenue, seed ^ 1);
                if let Some((d, p)) = stats::bootstrap_mean_diff(&seg.revenue, &rest.revenue, seed)
                {
                    v.difference = Some(d);
                    v.p = Some(p);
                    v.lift = match (seg.revenue.mean(), rest.revenue.mean()) {
                        (Some(a), Some(b)) if b > 0.0 => Some(Estimate {
                            value: a / b - 1.0,
                            low: (a + d.low - d.value) / b - 1.0,
                            high: (a + d.high - d.value) / b - 1.0,
                        }),
                        _ => None,
                    };
                }
            }
            if v.value.is_some() {
                v.verdict = Verdict::Unclear;
            }
            v
        })
        .collect()
}

/// Adjusts every p-value of every segment and metric together (one family:
/// what the screen can flag) and sets the verdicts.
pub fn adjust(segments: &mut [SegmentReport]) {
    let mut ps = Vec::new();
    let mut at = Vec::new();
    for (s, seg) in segments.iter().enumerate() {
        if seg.too_small {
            continue;
        }
        for (k, m) in seg.metrics.iter().enumerate() {
            if let Some(p) = m.p {
                ps.push(p);
                at.push((s, k));
            }
        }
    }
    let q = stats::benjamini_hochberg(&ps);
    for (&(s, k), q) in at.iter().zip(q) {
        segments[s].metrics[k].q = Some(q);
    }
    for seg in segments.iter_mut() {
        let small = seg.too_small;
        for m in &mut seg.metrics {
            if m.verdict == Verdict::NoData {
                continue;
            }
            m.verdict = if small {
                Verdict::TooSmall
            } else {
                match (m.q, m.difference) {
                    (Some(q), Some(d)) if q < FALSE_DISCOVERY_RATE && d.value > 0.0 => {
                        Verdict::Higher
                    }
                    (Some(q), Some(d)) if q < FALSE_DISCOVERY_RATE && d.value < 0.0 => {
                        Verdict::Lower
                    }
                    _ => Verdict::Unclear,
                }
            };
        }
    }
}

/// Each segment's members for each selected campaign. As of each send,
/// every recipient of every campaign is checked against every segment in
/// one walk over the customers (see [`Engine::members_at_sends`]); today's
/// members ([`current_by_campaign`]), segments evaluated on two threads.
pub fn segment_members(
    engine: &Engine,
    sends: &Sends,
    segments: &[SegmentRule],
    selection: &Selection,
    membership: Membership,
    progress: &dyn Progress,
) -> Result<Vec<Vec<Option<Members>>>, EvalError> {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    let n = segments.len();
    let done = AtomicUsize::new(0);
    if membership == Membership::AsOfSend {
        let nodes: Vec<&RNode> = segments.iter().map(|s| &*s.node).collect();
        let chosen: Vec<usize> = (0..sends.campaigns.len())
            .filter(|&k| {
                let c = &sends.campaigns[k];
                selection.includes(c) && !c.rows.is_empty()
            })
            .collect();
        let at: Vec<(i64, &[u32])> = chosen
            .iter()
            .map(|&k| (sends.campaigns[k].sent_at, &sends.campaigns[k].rows[..]))
            .collect();
        let answer = engine.members_at_sends(&nodes, &at, progress)?;
        let mut out = vec![vec![None; sends.campaigns.len()]; n];
        for (&k, sets) in chosen.iter().zip(answer) {
            for (seg, set) in out.iter_mut().zip(sets) {
                seg[k] = Some(Members::Recipients(set));
            }
        }
        return Ok(out);
    }
    let one = |s: &SegmentRule| {
        let m = engine
            .set_of(&s.node, sends.as_of, progress)
            .map(|set| current_by_campaign(sends, &set, selection));
        let d = done.fetch_add(1, Relaxed) + 1;
        progress.report(d as f32 / n.max(1) as f32, &format!("{d} of {n} segments"));
        m
    };
    let half = n.div_ceil(2);
    let results: Vec<Result<_, EvalError>> = std::thread::scope(|scope| {
        let (a, b) = segments.split_at(half.min(n));
        let h = scope.spawn(|| b.iter().map(one).collect::<Vec<_>>());
        let mut out: Vec<_> = a.iter().map(one).collect();
        out.extend(h.join().unwrap_or_default());
        out
    });
    if results.len() != n {
        return Err(EvalError::Cancelled);
    }
    results.into_iter().collect()
}

/// The report from each segment's members by campaign.
pub fn report_from(
    sends: &Sends,
    segments: &[SegmentRule],
    members: &[Vec<Option<Members>>],
    selection: &Selection,
    membership: Membership,
) -> Report {
    let mut reports: Vec<SegmentReport> = segments
        .iter()
        .zip(members)
        .map(|(s, m)| {
            let (counts, rest) = split_counts(sends, m);
            SegmentReport {
                id: s.id,
                name: s.name.clone(),
                too_small: counts.recipients < MIN_RECIPIENTS,
                metrics: metrics(&counts, &rest, sends.has_bounces, SEED ^ s.id as u64),
                counts,
                rest,
            }
        })
        .collect();
    adjust(&mut reports);
    Report {
        segments: reports,
        all: all_counts(sends, selection),
        campaigns: sends
            .campaigns
            .iter()
            .filter(|c| selection.includes(c))
            .count(),
        membership,
        attribution: sends.attribution,
        as_of: sends.as_of,
        notes: sends.notes.clone(),
        has_bounces: sends.has_bounces,
        has_machine_marks: sends.has_machine_marks,
    }
}

/// The report: every segment's metrics against the rest of the audience,
/// over the selected campaigns.
pub fn report(
    engine: &Engine,
    sends: &Sends,
    segments: &[SegmentRule],
    selection: &Selection,
    membership: Membership,
    progress: &dyn Progress,
) -> Result<Report, EvalError> {
    let members = segment_members(engine, sends, segments, selection, membership, progress)?;
    Ok(report_from(
        sends, segments, &members, selection, membership,
    ))
}

/// Weeks or months.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub enum Period {
    Week,
    #[default]
    Month,
}

/// The start of the week (Monday) or month of `t`.
pub fn period_start(t: i64, period: Period) -> i64 {
    use chrono::Datelike;
    let d = ts_to_date(t);
    let start = match period {
        Period::Week => d - chrono::Duration::days(i64::from(d.weekday().num_days_from_monday())),
        Period::Month => d.with_day(1).unwrap_or(d),
    };
    crate::model::time::date_to_ts(start)
}

/// One period of a trend: its start, the segment's counts there.
#[derive(Clone, Debug, Serialize)]
pub struct TrendPoint {
    pub start: i64,
    pub counts: Counts,
}

/// A segment's counts per week or month of send time.
pub fn trend(sends: &Sends, members: &[Option<Members>], period: Period) -> Vec<TrendPoint> {
    let mut out: Vec<TrendPoint> = Vec::new();
    for (c, set) in sends.campaigns.iter().zip(members) {
        let Some(set) = set else { continue };
        let start = period_start(c.sent_at, period);
        if out.last().is_none_or(|p| p.start != start) {
            out.push(TrendPoint {
                start,
                counts: Counts::default(),
            });
        }
        let Some(p) = out.last_mut() else { continue };
        let mut one = Counts::default();
        add_campaign(c, set, &mut one, None);
        one.finish();
        p.counts.merge(&one);
    }
    out
}

/// `months` evaluation times, oldest first: the ends of the months before
/// `end`'s (each the first instant of the next month), then `end` itself.
pub fn month_ends(end: i64, months: usize) -> Vec<i64> {
    use chrono::{Datelike, NaiveDate};
    if months == 0 {
        return Vec::new();
    }
    let d = ts_to_date(end);
    let mut out = vec![end];
    let (mut y, mut m) = (d.year(), d.month());
    while out.len() < months {
        let Some(first) = NaiveDate::from_ymd_opt(y, m, 1) else {
            break;
        };
        let t = crate::model::time::date_to_ts(first);
        if t < end && !out.contains(&t) {
            out.push(t);
        }
        if m == 1 {
            y -= 1;
            m = 12;
        } else {
            m -= 1;
        }
    }
    out.reverse();
    out
}

/// A segment's size as of each month end: how it drifts.
pub fn size_over_time(
    engine: &Engine,
    node: &RNode,
    end: i64,
    months: usize,
    progress: &dyn Progress,
) -> Result<Vec<(i64, usize)>, EvalError> {
    month_ends(end, months)
        .into_iter()
        .map(|t| Ok((t, engine.set_of(node, t, progress)?.count())))
        .collect()
}

/// A number as CSV text; empty when there is none.
fn num(x: Option<f64>) -> String {
    x.filter(|v| v.is_finite())
        .map(|v| {
            format!("{v:.6}")
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string()
        })
        .unwrap_or_default()
}

pub fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Higher => "higher",
        Verdict::Lower => "lower",
        Verdict::Unclear => "no clear difference",
        Verdict::TooSmall => "too small",
        Verdict::NoData => "no data",
    }
}

/// The report as CSV, one row per segment and metric: what `prism perf
/// --format csv` prints and the Performance screen exports.
pub fn to_csv(r: &Report) -> String {
    use crate::model::text::csv_field;
    let mut out = String::from(
        "segment,recipients,delivered,metric,value,low,high,rest,difference,difference_low,difference_high,lift,lift_low,lift_high,p,q,verdict\n",
    );
    for s in &r.segments {
        for m in &s.metrics {
            let e = |x: &Option<Estimate>| {
                (
                    num(x.map(|e| e.value)),
                    num(x.map(|e| e.low)),
                    num(x.map(|e| e.high)),
                )
            };
            let (v, vl, vh) = e(&m.value);
            let (d, dl, dh) = e(&m.difference);
            let (l, ll, lh) = e(&m.lift);
            out.push_str(&format!(
                "{},{},{},{},{v},{vl},{vh},{},{d},{dl},{dh},{l},{ll},{lh},{},{},{}\n",
                csv_field(&s.name),
                s.counts.recipients,
                s.counts.delivered,
                m.metric.key(),
                num(m.rest.map(|e| e.value)),
                num(m.p),
                num(m.q),
                verdict_word(m.verdict),
            ));
        }
    }
    out
}

/// A rate as a percentage, `—` when there is none.
pub fn percent(x: Option<f64>) -> String {
    x.filter(|v| v.is_finite())
        .map(|v| format!("{:.1}%", v * 100.0))
        .unwrap_or_else(|| "—".into())
}

/// A metric's value as the screen and the CLI's table show it.
pub fn shown(m: &MetricValue) -> String {
    match (m.value, m.metric.is_rate()) {
        (None, _) => "—".into(),
        (Some(e), true) => percent(Some(e.value)),
        (Some(e), false) => format!("{:.2}", e.value),
    }
}

/// The report as a text table: one line per segment, the key metrics with
/// a mark where the segment is clearly higher (⏶) or lower (⏷) than the
/// rest of the audience, `·` for too small to say.
pub fn to_table(r: &Report) -> String {
    let cols = [
        Metric::OpenRate,
        Metric::HumanOpenRate,
        Metric::ClickRate,
        Metric::ClickToOpen,
        Metric::ConversionRate,
        Metric::RevenuePerRecipient,
        Metric::UnsubscribeRate,
        Metric::BounceRate,
    ];
    let heads = [
        "open",
        "open·human",
        "click",
        "CTOR",
        "conv",
        "rev/recip",
        "unsub",
        "bounce",
    ];
    let mut out = format!("{:<28} {:>11}", "segment", "recipients");
    for h in heads {
        out.push_str(&format!(" {h:>12}"));
    }
    out.push('\n');
    let mark = |v: Verdict| match v {
        Verdict::Higher => "⏶",
        Verdict::Lower => "⏷",
        Verdict::TooSmall => "·",
        _ => " ",
    };
    let mut line = |name: &str, recipients: u64, values: Vec<(String, &'static str)>| {
        let name: String = name.chars().take(28).collect();
        out.push_str(&format!(
            "{name:<28} {:>11}",
            crate::model::group_thousands(recipients as i64)
        ));
        for (v, m) in values {
            out.push_str(&format!(" {:>11}{m}", v));
        }
        out.push('\n');
    };
    for s in &r.segments {
        let values = cols
            .iter()
            .map(|&c| {
                s.metric(c)
                    .map_or(("—".into(), " "), |m| (shown(m), mark(m.verdict)))
            })
            .collect();
        line(&s.name, s.counts.recipients, values);
    }
    let all = metrics(&r.all, &Counts::default(), r.has_bounces, SEED);
    let values = cols
        .iter()
        .map(|&c| {
            all.iter()
                .find(|m| m.metric == c)
                .map_or(("—".into(), " "), |m| (shown(m), " "))
        })
        .collect();
    line("(all recipients)", r.all.recipients, values);
    out.push_str(&format!(
        "{} campaigns · members {} · conversions: an order within {} days after a {} · ⏶⏷ differ from the rest of the audience (Benjamini–Hochberg q < {FALSE_DISCOVERY_RATE}) · · fewer than {MIN_RECIPIENTS} recipients\n",
        r.campaigns,
        match r.membership {
            Membership::AsOfSend => "as of each send",
            Membership::Current => "as of now",
        },
        r.attribution.window_days,
        match r.attribution.trigger {
            Trigger::Click => "click",
            Trigger::Open => "open",
        },
    ));
    out.push_str(&format!("data notes: {}\n", r.notes.line()));
    out
}
