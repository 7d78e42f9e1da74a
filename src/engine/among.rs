//! Membership of listed customers only: rules checked customer by
//! customer, for when only some customers matter (each campaign's
//! recipients, as of its send time) and a pass over the whole population
//! would be wasted. Same answers as [`Engine::set_of`], by the same
//! per-leaf checks the explanations use.

use super::bitset::Bitset;
use super::eval::{Engine, EvalError, LeafEval};
use super::resolve::{RKind, RNode};
use super::rule::Combine;
use crate::progress::Progress;

/// A rule compiled for checking one customer at a time.
enum Check<'a> {
    Leaf {
        eval: LeafEval<'a>,
        not: bool,
    },
    Group {
        combine: Combine,
        not: bool,
        children: Vec<Check<'a>>,
    },
}

impl Check<'_> {
    fn check(&self, i: usize) -> bool {
        match self {
            Check::Leaf { eval, not } => eval.check(i) != *not,
            Check::Group {
                combine,
                not,
                children,
            } => {
                let hit = match combine {
                    Combine::All => children.iter().all(|c| c.check(i)),
                    Combine::Any => children.iter().any(|c| c.check(i)),
                };
                hit != *not
            }
        }
    }
}

impl Engine {
    /// Several rules, each as of several times over its own customers (a
    /// campaign's send time and recipients): `answer[c][r]` has bit `k`
    /// set when `sends[c].1[k]` met rule `r` as of `sends[c].0`.
    ///
    /// Walks the customers in order, each once for all its sends and all
    /// the rules, so its events are read from memory once and the walk
    /// streams through the columns (a campaign at a time jumps around
    /// them); customer ranges are spread over the cores.
    pub fn members_at_sends(
        &self,
        nodes: &[&RNode],
        sends: &[(i64, &[u32])],
        progress: &dyn Progress,
    ) -> Result<Vec<Vec<Bitset>>, EvalError> {
        let n = self.len();
        for node in nodes {
            self.prepare(node)?;
        }
        let mut checks: Vec<Vec<Check<'_>>> = Vec::with_capacity(sends.len());
        for &(as_of, _) in sends {
            progress.check()?;
            checks.push(
                nodes
                    .iter()
                    .map(|node| self.compile(node, as_of, progress))
                    .collect::<Result<_, _>>()?,
            );
        }
        // Each customer's sends: (send, position among its customers).
        let mut start = vec![0u32; n + 1];
        for (_, rows) in sends {
            for &i in rows.iter().filter(|&&i| (i as usize) < n) {
                start[i as usize + 1] += 1;
            }
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut at = start.clone();
        let mut theirs = vec![(0u32, 0u32); start[n] as usize];
        for (c, (_, rows)) in sends.iter().enumerate() {
            for (k, &i) in rows.iter().enumerate() {
                if let Some(slot) = at.get_mut(i as usize).filter(|_| (i as usize) < n) {
                    theirs[*slot as usize] = (c as u32, k as u32);
                    *slot += 1;
                }
            }
        }
        let empty = || -> Vec<Vec<Bitset>> {
            sends
                .iter()
                .map(|(_, rows)| vec![Bitset::empty(rows.len()); nodes.len()])
                .collect()
        };
        let threads = std::thread::available_parallelism()
            .map_or(1, |t| t.get())
            .clamp(1, 8);
        let per = n.div_ceil(threads).max(1);
        let total = theirs.len().max(1);
        let done = std::sync::atomic::AtomicUsize::new(0);
        let (checks, start, theirs) = (&checks, &start, &theirs);
        let parts: Vec<Option<Vec<Vec<Bitset>>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let done = &done;
                    scope.spawn(move || {
                        let mut out = empty();
                        let lo = (t * per).min(n);
                        let hi = ((t + 1) * per).min(n);
                        for i in lo..hi {
                            if i % 65_536 == 0 {
                                if progress.is_cancelled() {
                                    return None;
                                }
                                let d = done.load(std::sync::atomic::Ordering::Relaxed);
                                progress.report(d as f32 / total as f32, "members at each send");
                            }
                            let mine = &theirs[start[i] as usize..start[i + 1] as usize];
                            for &(c, k) in mine {
                                let (c, k) = (c as usize, k as usize);
                                for (set, check) in out[c].iter_mut().zip(&checks[c]) {
                                    if check.check(i) {
                                        set.set(k, true);
                                    }
                                }
                            }
                            done.fetch_add(mine.len(), std::sync::atomic::Ordering::Relaxed);
                        }
                        Some(out)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().ok().flatten())
                .collect()
        });
        let mut parts = parts.into_iter();
        let mut answer = parts.next().flatten().ok_or(EvalError::Cancelled)?;
        for part in parts {
            let part = part.ok_or(EvalError::Cancelled)?;
            for (mine, other) in answer.iter_mut().zip(part) {
                for (a, b) in mine.iter_mut().zip(other) {
                    a.or_with(&b);
                }
            }
        }
        Ok(answer)
    }

    fn compile<'a>(
        &'a self,
        node: &'a RNode,
        as_of: i64,
        progress: &dyn Progress,
    ) -> Result<Check<'a>, EvalError> {
        if let RKind::Group { combine, children } = &node.kind {
            return Ok(Check::Group {
                combine: *combine,
                not: node.not,
                children: children
                    .iter()
                    .map(|c| self.compile(c, as_of, progress))
                    .collect::<Result<_, _>>()?,
            });
        }
        let eval = if let Some(set) = self.cached_leaf(node.key, as_of) {
            LeafEval::Set(set)
        } else if let RKind::Event {
            event,
            filters,
            aggregate,
            window,
            test,
        } = &node.kind
        {
            // Without the whole-population pre-pass: each customer's
            // window is found by binary search in its own events.
            LeafEval::Event(self.event_eval(event, filters, *aggregate, window, *test, as_of)?)
        } else {
            self.leaf_eval(node, as_of, progress)?
        };
        Ok(Check::Leaf {
            eval,
            not: node.not,
        })
    }
}
