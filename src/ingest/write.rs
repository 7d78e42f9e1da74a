//! Writing typed rows into the import's transaction: keys, merges,
//! duplicates, stub customers, and likely duplicates at the end.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use super::mapping::{CustomerKey, Kind, Mapping, Target};
use super::report::{ImportReport, LikelyDuplicate, MAX_NOTES};
use super::values::edit_distance;
use super::{ImportError, ImportOptions, Parsed};
use crate::model::Customer;
use crate::store::{BulkLoad, CustomerKeys, NewEvent, Write};
use rustc_hash::FxHashSet;

pub(super) struct Writer<'l, 'a, 'r> {
    load: &'l mut BulkLoad<'a>,
    kind: Kind,
    key: CustomerKey,
    report: &'r mut ImportReport,
    keys: CustomerKeys,
    /// Customers this import created or touched, with the first row.
    touched: HashMap<i64, u64>,
    created: HashSet<i64>,
    create_missing: bool,
    /// Content hashes of events seen in this file.
    seen_events: FxHashSet<u64>,
    /// Events waiting to be inserted at the end of the batch.
    pending: Vec<NewEvent>,
    /// Check new events against those already in the workspace.
    check_existing: bool,
    names_present: HashSet<String>,
    /// (name key, email, customer id) of imported customers.
    imported_people: Vec<(String, String, String)>,
    /// The column naming the customer (events).
    customer_column: Option<String>,
}

fn event_hash(e: &NewEvent) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    e.customer_id.hash(&mut h);
    e.name.hash(&mut h);
    e.time.hash(&mut h);
    e.value.map(f64::to_bits).hash(&mut h);
    e.product.hash(&mut h);
    e.category.hash(&mut h);
    e.campaign.hash(&mut h);
    e.properties.hash(&mut h);
    h.finish()
}

impl<'l, 'a, 'r> Writer<'l, 'a, 'r> {
    pub fn new(
        load: &'l mut BulkLoad<'a>,
        mapping: &Mapping,
        options: &ImportOptions,
        report: &'r mut ImportReport,
        has_events: bool,
    ) -> Result<Self, ImportError> {
        // New custom fields are added inside the import's transaction.
        if mapping.kind == Kind::Customers {
            let existing: Vec<String> = load_custom_names(load);
            for c in &mapping.columns {
                if let Target::Custom { name, field_type } = &c.target {
                    let label = c.column.clone();
                    load.add_custom_field(name, *field_type, &label)?;
                    if !existing.contains(name) {
                        report.created_fields.push(format!("{name} ({field_type})"));
                    }
                }
            }
        }
        let keys = if matches!(mapping.kind, Kind::Customers | Kind::Events) {
            load.customer_keys()?
        } else {
            CustomerKeys::default()
        };
        let names_present = if mapping.kind == Kind::Events && has_events {
            load.event_names_present()?
        } else {
            HashSet::new()
        };
        Ok(Writer {
            load,
            kind: mapping.kind,
            key: mapping.key,
            report,
            keys,
            touched: HashMap::new(),
            created: HashSet::new(),
            create_missing: options.create_missing_customers,
            seen_events: FxHashSet::default(),
            pending: Vec::new(),
            check_existing: has_events,
            names_present,
            imported_people: Vec::new(),
            customer_column: mapping
                .column_of("customer")
                .map(|i| mapping.columns[i].column.clone()),
        })
    }

    pub fn write_batch(&mut self, batch: Vec<Parsed>) -> Result<(), ImportError> {
        for p in batch {
            match p {
                Parsed::Rejected(r) => self.report.reject(r),
                Parsed::Customer {
                    row,
                    line,
                    customer,
                    consent,
                } => self.customer(row, line, customer, consent)?,
                Parsed::Event {
                    row,
                    line,
                    key,
                    event,
                    source_key,
                } => self.event(row, line, key, event, source_key)?,
                Parsed::Product(p) => match self.load.upsert_product(&p)? {
                    Write::Inserted => self.report.inserted += 1,
                    Write::Updated => self.report.updated += 1,
                    Write::Unchanged => self.report.unchanged += 1,
                },
                Parsed::Campaign(c) => match self.load.upsert_campaign(&c)? {
                    Write::Inserted => self.report.inserted += 1,
                    Write::Updated => self.report.updated += 1,
                    Write::Unchanged => self.report.unchanged += 1,
                },
            }
        }
        let pending = std::mem::take(&mut self.pending);
        self.load.insert_events(&pending)?;
        self.pending = pending;
        self.pending.clear();
        Ok(())
    }

    fn customer(
        &mut self,
        row: u64,
        _line: u64,
        c: Customer,
        consent: Option<bool>,
    ) -> Result<(), ImportError> {
        // Find who this is: by key, then (for id-keyed files) by email.
        let by_key = match self.key {
            CustomerKey::Id => self.keys.by_external.get(&c.external_id).copied(),
            CustomerKey::Email => c
                .email
                .as_ref()
                .and_then(|e| self.keys.by_email.get(e).copied()),
        };
        let by_email = match (by_key, self.key, &c.email) {
            (None, CustomerKey::Id, Some(e)) => self.keys.by_email.get(e).copied(),
            _ => None,
        };
        if let Some(email) = &c.email
            && let Some(first) = &c.first_name
        {
            let name = format!(
                "{} {}",
                first.to_lowercase(),
                c.last_name.as_deref().unwrap_or("").to_lowercase()
            );
            self.imported_people
                .push((name, email.clone(), c.external_id.clone()));
        }
        match by_key.or(by_email) {
            None => {
                let id = self.load.insert_customer(&c)?;
                self.keys.by_external.insert(c.external_id.clone(), id);
                if let Some(e) = &c.email {
                    self.keys.by_email.entry(e.clone()).or_insert(id);
                }
                self.created.insert(id);
                self.touched.insert(id, row);
                self.report.inserted += 1;
            }
            Some(id) => {
                let changed = self.load.update_customer(id, &c, consent)?;
                if let Some(e) = &c.email {
                    self.keys.by_email.entry(e.clone()).or_insert(id);
                }
                let earlier = self.touched.get(&id).copied();
                if by_key.is_none() {
                    self.report.merged += 1;
                    self.report.merge_note(format!(
                        "row {row}: customer {:?} has the email {:?} of an existing customer; merged into it{}",
                        c.external_id,
                        c.email.as_deref().unwrap_or(""),
                        earlier.map(|r| format!(" (row {r})")).unwrap_or_default()
                    ));
                } else if let Some(first) = earlier {
                    self.report.merged += 1;
                    self.report.merge_note(format!(
                        "row {row}: same customer as row {first}; later non-empty values win"
                    ));
                } else if changed {
                    self.report.updated += 1;
                } else {
                    self.report.unchanged += 1;
                }
                self.touched.entry(id).or_insert(row);
            }
        }
        Ok(())
    }

    fn event(
        &mut self,
        row: u64,
        line: u64,
        key: String,
        mut e: NewEvent,
        source_key: Option<String>,
    ) -> Result<(), ImportError> {
        let found = match self.key {
            CustomerKey::Id => self.keys.by_external.get(&key).copied(),
            CustomerKey::Email => self.keys.by_email.get(&key).copied(),
        };
        let id = match found {
            Some(id) => id,
            None if self.create_missing => {
                let stub = Customer {
                    external_id: key.clone(),
                    email: (self.key == CustomerKey::Email).then(|| key.clone()),
                    ..Customer::default()
                };
                let id = self.load.insert_customer(&stub)?;
                self.keys.by_external.insert(key.clone(), id);
                if self.key == CustomerKey::Email {
                    self.keys.by_email.insert(key.clone(), id);
                }
                self.report.stub_customers += 1;
                id
            }
            None => {
                self.report.reject(super::Reject {
                    row,
                    line,
                    column: self.customer_column.clone(),
                    value: Some(key.clone()),
                    reason: format!(
                        "no customer {key:?} in the workspace (import customers first, or create missing customers)"
                    ),
                });
                return Ok(());
            }
        };
        e.customer_id = id;
        let time = e.time;
        let outcome = if let Some(k) = source_key.as_deref() {
            self.load.write_keyed_event(&e, k)?
        } else {
            let h = event_hash(&e);
            if !self.seen_events.insert(h) {
                self.report.merged += 1;
                self.report.merge_note(format!(
                    "row {row}: the same event as an earlier row; kept once"
                ));
                return Ok(());
            }
            if self.check_existing
                && self.names_present.contains(&e.name)
                && self.load.event_exists(&e)?
            {
                Write::Unchanged
            } else {
                self.pending.push(e);
                Write::Inserted
            }
        };
        match outcome {
            Write::Inserted => self.report.inserted += 1,
            Write::Updated => self.report.updated += 1,
            Write::Unchanged => self.report.unchanged += 1,
        }
        self.report.event_range = Some(match self.report.event_range {
            None => (time, time),
            Some((lo, hi)) => (lo.min(time), hi.max(time)),
        });
        Ok(())
    }

    /// Lists likely duplicates among the imported customers and the
    /// workspace's: same name, emails within two edits. Never merged.
    pub fn finish(
        &mut self,
        existing: &[(String, String, String, String)],
    ) -> Result<(), ImportError> {
        if self.kind != Kind::Customers || self.imported_people.is_empty() {
            return Ok(());
        }
        let mut groups: HashMap<String, Vec<(String, String, bool)>> = HashMap::new();
        for (name, email, id) in self.imported_people.drain(..) {
            groups.entry(name).or_default().push((email, id, true));
        }
        for (first, last, email, id) in existing {
            let name = format!("{} {}", first.to_lowercase(), last.to_lowercase());
            if let Some(g) = groups.get_mut(&name) {
                g.push((email.clone(), id.clone(), false));
            }
        }
        let mut found: Vec<LikelyDuplicate> = Vec::new();
        let mut count = 0u64;
        let mut seen_pairs: HashSet<(String, String)> = HashSet::new();
        for (name, mut people) in groups {
            people.sort();
            people.dedup_by(|a, b| a.0 == b.0);
            // Neighbours in email order, and in reversed-email order, catch
            // typos at either end without comparing every pair.
            let mut orders: Vec<Vec<usize>> = vec![(0..people.len()).collect()];
            let mut rev: Vec<usize> = (0..people.len()).collect();
            rev.sort_by_cached_key(|&i| people[i].0.chars().rev().collect::<String>());
            orders.push(rev);
            for order in orders {
                for w in 0..order.len() {
                    for k in 1..=3 {
                        let Some(&j) = order.get(w + k) else { break };
                        let (a, b) = (&people[order[w]], &people[j]);
                        if !(a.2 || b.2) {
                            continue;
                        }
                        let d = edit_distance(&a.0, &b.0, 2);
                        if (1..=2).contains(&d) {
                            let pair = if a.0 < b.0 {
                                (a.0.clone(), b.0.clone())
                            } else {
                                (b.0.clone(), a.0.clone())
                            };
                            if seen_pairs.insert(pair) {
                                count += 1;
                                if found.len() < MAX_NOTES {
                                    found.push(LikelyDuplicate {
                                        name: name.clone(),
                                        a: format!("{} <{}>", a.1, a.0),
                                        b: format!("{} <{}>", b.1, b.0),
                                        why: format!("same name, emails {d} edit(s) apart"),
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
        self.report.likely_duplicate_count = count;
        self.report.likely_duplicates = found;
        Ok(())
    }
}

fn load_custom_names(load: &BulkLoad<'_>) -> Vec<String> {
    load.custom_field_names()
}
