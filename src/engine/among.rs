//! Membership of a few customers: a rule checked customer by customer,
//! for when only some customers matter (the recipients of one campaign,
//! as of its send time) and a pass over the whole population would be
//! wasted. Same answers as [`Engine::set_of`], by the same per-leaf checks
//! the explanations use.

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
    /// Whether each of `customers` (engine rows) meets `node` as of
    /// `as_of`: bit `k` of the answer is `customers[k]`'s. Costs a few
    /// lookups per customer rather than a pass over every customer and
    /// event; leaves already computed for `as_of` are read from the cache.
    pub fn members_among(
        &self,
        node: &RNode,
        as_of: i64,
        customers: &[u32],
        progress: &dyn Progress,
    ) -> Result<Bitset, EvalError> {
        let mut sets = self.members_among_each(&[node], as_of, customers, progress)?;
        Ok(sets.pop().unwrap_or_else(|| Bitset::empty(customers.len())))
    }

    /// [`Engine::members_among`] for several rules at once, one answer per
    /// rule: each customer's events are read once for all of them.
    pub fn members_among_each(
        &self,
        nodes: &[&RNode],
        as_of: i64,
        customers: &[u32],
        progress: &dyn Progress,
    ) -> Result<Vec<Bitset>, EvalError> {
        let mut checks = Vec::with_capacity(nodes.len());
        for node in nodes {
            self.prepare(node)?;
            progress.check()?;
            checks.push(self.compile(node, as_of, progress)?);
        }
        let n = self.len();
        let mut out = vec![Bitset::empty(customers.len()); nodes.len()];
        for (k, &i) in customers.iter().enumerate() {
            let i = i as usize;
            if i >= n {
                continue;
            }
            for (set, check) in out.iter_mut().zip(&checks) {
                if check.check(i) {
                    set.set(k, true);
                }
            }
        }
        Ok(out)
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
