//! Writing typed rows into the import's transaction: keys, merges,
//! duplicates, stub customers, and likely duplicates at the end.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use super::duplicates::{Evidence, Person};
use super::mapping::{CustomerKey, Kind, Mapping, Target};
use super::report::ImportReport;
use super::{ImportError, ImportOptions, Parsed};
use crate::model::Customer;
use crate::store::{BulkLoad, CustomerKeys, NewEvent, PersonEvidence, Write};
use rustc_hash::FxHashMap;

pub(super) struct Writer<'l, 'a, 'r> {
    load: &'l mut BulkLoad<'a>,
    kind: Kind,
    key: CustomerKey,
    report: &'r mut ImportReport,
    keys: CustomerKeys,
    /// Customers this import created or touched, with the first row.
    touched: FxHashMap<i64, u64>,
    create_missing: bool,
    /// Content hash of each event seen in this file → (its first row, how
    /// many rows had it so far).
    seen_events: FxHashMap<u64, (u32, u32)>,
    /// Copies the workspace already had of an event of this file, where
    /// there were any.
    existing_copies: FxHashMap<u64, u64>,
    drop_identical: bool,
    /// Where in the batch the events to insert at its end are.
    pending: Vec<usize>,
    /// Check new events against those already in the workspace.
    check_existing: bool,
    names_present: HashSet<String>,
    /// Imported customers, for the likely-duplicates check.
    imported_people: Vec<Person>,
    /// The column naming the customer (events).
    customer_column: Option<String>,
}

/// Identical rows of one file have the same hash: the customer's key in
/// the file stands for the customer (within a file, one key is one
/// customer and one customer one key).
pub(super) fn event_hash(key: &str, e: &NewEvent) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    key.hash(&mut h);
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
        report.identical_dropped = options.drop_identical_rows;
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
            touched: FxHashMap::default(),
            create_missing: options.create_missing_customers,
            seen_events: FxHashMap::default(),
            existing_copies: FxHashMap::default(),
            drop_identical: options.drop_identical_rows,
            pending: Vec::new(),
            check_existing: has_events,
            names_present,
            imported_people: Vec::new(),
            customer_column: mapping
                .column_of("customer")
                .map(|i| mapping.columns[i].column.clone()),
        })
    }

    /// Writes a batch of rows. What it keeps (keys, people) it takes out of
    /// the rows; the rest stays for the caller to drop, on the thread that
    /// made them (freeing there is cheaper, and off this busy one).
    pub fn write_batch(&mut self, batch: &mut [Parsed]) -> Result<(), ImportError> {
        self.pending.clear();
        for (at, p) in batch.iter_mut().enumerate() {
            match p {
                Parsed::Rejected(r) => self.report.reject(r.clone()),
                Parsed::Customer {
                    row,
                    line,
                    customer,
                    consent,
                    warning,
                    person,
                } => {
                    if let Some(w) = warning.take() {
                        self.report.warn_row(w);
                    }
                    self.customer(*row, *line, customer, *consent, person.take())?
                }
                Parsed::Event {
                    row,
                    line,
                    key,
                    event,
                    source_key,
                    hash,
                } => {
                    if self.event(*row, *line, key, event, source_key.as_deref(), *hash)? {
                        self.pending.push(at);
                    }
                }
                Parsed::Product(p) => match self.load.upsert_product(p)? {
                    Write::Inserted => self.report.inserted += 1,
                    Write::Updated => self.report.updated += 1,
                    Write::Unchanged => self.report.unchanged += 1,
                },
                Parsed::Campaign(c) => match self.load.upsert_campaign(c)? {
                    Write::Inserted => self.report.inserted += 1,
                    Write::Updated => self.report.updated += 1,
                    Write::Unchanged => self.report.unchanged += 1,
                },
            }
        }
        let events: Vec<&NewEvent> = self
            .pending
            .iter()
            .filter_map(|&at| match &batch[at] {
                Parsed::Event { event, .. } => Some(event),
                _ => None,
            })
            .collect();
        self.load.insert_events(&events)?;
        Ok(())
    }

    fn customer(
        &mut self,
        row: u64,
        _line: u64,
        c: &mut Customer,
        consent: Option<bool>,
        person: Option<Person>,
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
        if let Some(p) = person {
            self.imported_people.push(p);
        }
        match by_key.or(by_email) {
            None => {
                let id = self.load.insert_customer(c)?;
                // Written: its key and email are the maps' now.
                self.keys
                    .by_external
                    .insert(std::mem::take(&mut c.external_id), id);
                if let Some(e) = c.email.take() {
                    self.keys.by_email.entry(e).or_insert(id);
                }
                self.touched.insert(id, row);
                self.report.inserted += 1;
            }
            Some(id) => {
                let changed = self.load.update_customer(id, c, consent)?;
                if let Some(e) = &c.email
                    && !self.keys.by_email.contains_key(e)
                {
                    self.keys.by_email.insert(e.clone(), id);
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

    /// Writes an event, or counts it: true when it is to be inserted with
    /// the batch (its customer id set).
    fn event(
        &mut self,
        row: u64,
        line: u64,
        key: &str,
        e: &mut NewEvent,
        source_key: Option<&str>,
        h: u64,
    ) -> Result<bool, ImportError> {
        let found = match self.key {
            CustomerKey::Id => self.keys.by_external.get(key).copied(),
            CustomerKey::Email => self.keys.by_email.get(key).copied(),
        };
        let id = match found {
            Some(id) => id,
            None if self.create_missing => {
                let stub = Customer {
                    external_id: key.to_owned(),
                    email: (self.key == CustomerKey::Email).then(|| key.to_owned()),
                    ..Customer::default()
                };
                let id = self.load.insert_customer(&stub)?;
                self.keys.by_external.insert(key.to_owned(), id);
                if self.key == CustomerKey::Email {
                    self.keys.by_email.insert(key.to_owned(), id);
                }
                self.report.stub_customers += 1;
                id
            }
            None => {
                self.report.reject(super::Reject {
                    row,
                    line,
                    column: self.customer_column.clone(),
                    value: Some(key.to_owned()),
                    reason: format!(
                        "no customer {key:?} in the workspace (import customers first, or create missing customers)"
                    ),
                });
                return Ok(false);
            }
        };
        e.customer_id = id;
        let time = e.time;
        let mut queued = false;
        let outcome = if let Some(k) = source_key {
            self.load.write_keyed_event(e, k)?
        } else {
            // Without an event id, identical rows are kept as the separate
            // events they are (the same purchase twice on one day) unless
            // the user drops them. Against the workspace, the k-th copy in
            // this file is the k-th copy there, so importing an overlapping
            // export adds only what is new.
            let row32 = u32::try_from(row).unwrap_or(u32::MAX);
            let nth = match self.seen_events.entry(h) {
                std::collections::hash_map::Entry::Occupied(mut o) => {
                    let (first, seen) = *o.get();
                    o.get_mut().1 = seen + 1;
                    self.report.identical_row(row, u64::from(first));
                    if self.drop_identical {
                        self.report.merged += 1;
                        return Ok(false);
                    }
                    u64::from(seen)
                }
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert((row32, 1));
                    if self.check_existing && self.names_present.contains(&e.name) {
                        let copies = self.load.event_copies(e)?;
                        if copies > 0 {
                            self.existing_copies.insert(h, copies);
                        }
                    }
                    0
                }
            };
            if self.existing_copies.get(&h).is_some_and(|&c| nth < c) {
                Write::Unchanged
            } else {
                queued = true;
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
        Ok(queued)
    }

    /// Everyone the likely-duplicates check compares: the imported
    /// customers and the workspace's (see [`duplicates`]); `None` when
    /// this import has no customers to check.
    pub fn take_people(&mut self, existing: &[PersonEvidence]) -> Option<Vec<Person>> {
        if self.kind != Kind::Customers || self.imported_people.is_empty() {
            return None;
        }
        let mut people = std::mem::take(&mut self.imported_people);
        people.extend(existing.iter().map(|e| {
            let evidence = Evidence {
                city: e.city.as_deref(),
                birth_date: e
                    .birth_date
                    .as_deref()
                    .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
                phone: e.phone.as_deref(),
            };
            Person::new(
                &e.first_name,
                &e.last_name,
                &e.email,
                &e.external_id,
                evidence,
                false,
            )
        }));
        Some(people)
    }
}

fn load_custom_names(load: &BulkLoad<'_>) -> Vec<String> {
    load.custom_field_names()
}
