//! Demo mode's stand-ins: realistic, stable per customer, shaped like what
//! they replace. The same customer is always the same made-up person (a
//! first name stays a first name, an email an email), so a demo stays
//! coherent from table to explanation to rendered email. Counts never
//! change: masking is applied where values are shown or written, never
//! where they are counted.
//!
//! The names here share none with the sample data's lists (a test checks),
//! so a screen in demo mode can be searched for any real sample name.

use std::collections::HashMap;

use super::FieldType;

/// What a personal field holds, which decides its stand-in's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PiiKind {
    Email,
    FirstName,
    LastName,
    FullName,
    Phone,
    Street,
    City,
    PostalCode,
    /// A date (a birthday): the same year, another day.
    Date,
    /// Free text (notes, comments): as many made-up words.
    Text,
    /// An identifier that says who someone is (a national id, an IP).
    Secret,
}

impl PiiKind {
    pub const ALL: [PiiKind; 11] = [
        PiiKind::Email,
        PiiKind::FirstName,
        PiiKind::LastName,
        PiiKind::FullName,
        PiiKind::Phone,
        PiiKind::Street,
        PiiKind::City,
        PiiKind::PostalCode,
        PiiKind::Date,
        PiiKind::Text,
        PiiKind::Secret,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PiiKind::Email => "email",
            PiiKind::FirstName => "first_name",
            PiiKind::LastName => "last_name",
            PiiKind::FullName => "full_name",
            PiiKind::Phone => "phone",
            PiiKind::Street => "street",
            PiiKind::City => "city",
            PiiKind::PostalCode => "postal_code",
            PiiKind::Date => "date",
            PiiKind::Text => "text",
            PiiKind::Secret => "secret",
        }
    }

    pub fn parse(s: &str) -> Option<PiiKind> {
        PiiKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The kind a field's name says it holds, if it says (`mobile_phone`,
    /// `Zip`, `home_address`); `None`: the name does not say it is personal.
    pub fn from_name(name: &str) -> Option<PiiKind> {
        let n = name.to_ascii_lowercase().replace(['-', ' '], "_");
        let has = |words: &[&str]| words.iter().any(|w| n.contains(w));
        let is = |words: &[&str]| {
            words
                .iter()
                .any(|w| n == *w || n.ends_with(&format!("_{w}")))
        };
        if has(&["email", "e_mail"]) {
            Some(PiiKind::Email)
        } else if has(&["first_name", "firstname", "given_name", "forename"]) {
            Some(PiiKind::FirstName)
        } else if has(&["last_name", "lastname", "surname", "family_name"]) {
            Some(PiiKind::LastName)
        } else if n == "name"
            || n == "nick"
            || has(&[
                "full_name",
                "fullname",
                "nickname",
                "contact_name",
                "customer_name",
                "display_name",
                "person_name",
            ])
        {
            Some(PiiKind::FullName)
        } else if has(&["phone", "mobile", "cell", "whatsapp", "telephone"]) || is(&["tel", "sms"])
        {
            Some(PiiKind::Phone)
        } else if has(&["address", "street", "addr"]) || is(&["line1", "line2"]) {
            Some(PiiKind::Street)
        } else if has(&["zip", "postal", "postcode"]) {
            Some(PiiKind::PostalCode)
        } else if is(&["city", "town"]) {
            Some(PiiKind::City)
        } else if has(&["birth", "dob"]) {
            Some(PiiKind::Date)
        } else if has(&[
            "ssn",
            "passport",
            "iban",
            "national_id",
            "tax_id",
            "ip_address",
        ]) || is(&["ip"])
        {
            Some(PiiKind::Secret)
        } else if has(&["note", "comment", "bio", "message", "remark"]) {
            Some(PiiKind::Text)
        } else {
            None
        }
    }

    /// The kind a field's values show, when its name does not say: mostly
    /// addresses, mostly phone numbers, or free text (several words, most
    /// values different). `values`: a sample of its non-empty values.
    pub fn from_values<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<PiiKind> {
        let values: Vec<&str> = values
            .into_iter()
            .filter(|v| !v.trim().is_empty())
            .collect();
        if values.len() < 3 {
            return None;
        }
        let share = |f: &dyn Fn(&str) -> bool| {
            values.iter().filter(|v| f(v)).count() as f64 / values.len() as f64
        };
        let emailish = |v: &str| {
            v.split_once('@')
                .is_some_and(|(a, b)| !a.is_empty() && b.contains('.') && !v.contains(' '))
        };
        let phoneish = |v: &str| {
            let digits = v.chars().filter(char::is_ascii_digit).count();
            digits >= 7
                && v.chars()
                    .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        };
        let distinct = values
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len();
        let wordy = |v: &str| v.split_whitespace().count() >= 3;
        if share(&emailish) >= 0.8 {
            Some(PiiKind::Email)
        } else if share(&phoneish) >= 0.8 {
            Some(PiiKind::Phone)
        } else if share(&wordy) >= 0.5 && distinct * 2 >= values.len() {
            Some(PiiKind::Text)
        } else {
            None
        }
    }
}

/// The built-in customer fields that are personal, and what they hold.
pub const BUILTIN_PII: &[(&str, PiiKind)] = &[
    ("email", PiiKind::Email),
    ("first_name", PiiKind::FirstName),
    ("last_name", PiiKind::LastName),
    ("birth_date", PiiKind::Date),
    ("city", PiiKind::City),
];

const FIRST: &[&str] = &[
    "Astrid",
    "Birgit",
    "Caspian",
    "Dagny",
    "Eero",
    "Freja",
    "Gunnar",
    "Hedda",
    "Ingebjorg",
    "Jorunn",
    "Kaja",
    "Leif",
    "Maren",
    "Nils",
    "Oda",
    "Petter",
    "Ragna",
    "Sindre",
    "Tove",
    "Ulrik",
    "Vibeke",
    "Wenche",
    "Yngve",
    "Aslak",
    "Brage",
    "Eirik",
    "Frode",
    "Gro",
    "Halvard",
    "Idun",
    "Jostein",
    "Kjersti",
    "Liv",
    "Magne",
    "Synne",
    "Torleif",
    "Signe",
    "Runa",
    "Embla",
    "Vidar",
    "Solveig",
    "Trygve",
    "Ylva",
    "Arve",
    "Berit",
    "Dordi",
    "Helga",
    "Joar",
    "Kari",
];

const LAST: &[&str] = &[
    "Aasen", "Bakke", "Dahle", "Eide", "Fjeld", "Haugland", "Istad", "Jernberg", "Kvam", "Lunde",
    "Moen", "Nygaard", "Opsahl", "Rud", "Sletten", "Tveit", "Utne", "Vik", "Wold", "Aune",
    "Brekke", "Haga", "Lien", "Myhre", "Solheim", "Berge", "Fosse", "Grini", "Hovland", "Ims",
    "Jevne", "Kolstad", "Lima", "Mjelde", "Nesse", "Ovrebo", "Presthus", "Rognes", "Skjold",
    "Tangen", "Ulvestad", "Vatne", "Yttre", "Aarvik", "Bjerke", "Dybvik", "Engen", "Flaten",
];

const CITIES: &[&str] = &[
    "Fairhaven",
    "Brookfield",
    "Millbrook",
    "Ashford",
    "Oakridge",
    "Riverton",
    "Lakeview",
    "Westmere",
    "Northgate",
    "Elmstead",
    "Kingsbridge",
    "Harborview",
];

const STREETS: &[&str] = &[
    "Birch Lane",
    "Harbor Road",
    "Orchard Street",
    "Mill Way",
    "Juniper Court",
    "Fjord Avenue",
    "Linden Row",
    "Heather Close",
];

const WORDS: &[&str] = &[
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
];

/// FNV-1a: a hash that means the same forever (stand-ins must not change
/// between versions of Prism).
fn stable_hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0xff]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// One made-up person: who a customer is in demo mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StandIn {
    pub first: &'static str,
    pub last: &'static str,
    pub email: String,
    key: u64,
}

impl StandIn {
    /// The stand-in of the customer with this key (their customer id).
    pub fn of(key: &str) -> StandIn {
        let h = stable_hash(&[key]);
        let first = FIRST[(h % FIRST.len() as u64) as usize];
        let last = LAST[((h >> 16) % LAST.len() as u64) as usize];
        let n = (h >> 32) % 100;
        let email = format!(
            "{}.{}{n}@example.com",
            first.to_ascii_lowercase(),
            last.to_ascii_lowercase()
        );
        StandIn {
            first,
            last,
            email,
            key: h,
        }
    }

    /// Digits that depend on the customer and the field.
    fn digits(&self, field: &str, n: usize) -> String {
        let mut h = stable_hash(&[field]) ^ self.key;
        (0..n)
            .map(|_| {
                h = h
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                char::from(b'0' + ((h >> 33) % 10) as u8)
            })
            .collect()
    }

    /// The stand-in for `value` of a field of `kind` named `field`.
    pub fn value(&self, kind: PiiKind, field: &str, value: &str) -> String {
        let pick = |list: &[&'static str], salt: u64| {
            list[((self.key.rotate_left(salt as u32) ^ salt) % list.len() as u64) as usize]
        };
        match kind {
            PiiKind::Email => self.email.clone(),
            PiiKind::FirstName => self.first.to_string(),
            PiiKind::LastName => self.last.to_string(),
            PiiKind::FullName => format!("{} {}", self.first, self.last),
            PiiKind::Phone => format!("+1 555 01{}", self.digits(field, 2)),
            PiiKind::Street => format!(
                "{} {}",
                1 + self.digits(field, 3).parse::<u32>().unwrap_or(0) % 200,
                pick(STREETS, 7)
            ),
            PiiKind::City => pick(CITIES, 13).to_string(),
            PiiKind::PostalCode => {
                // The same shape: digits stay digits, letters letters.
                let d = self.digits(field, value.len().max(1));
                value
                    .chars()
                    .zip(d.chars())
                    .map(|(c, r)| {
                        if c.is_ascii_digit() {
                            r
                        } else if c.is_ascii_alphabetic() {
                            char::from(b'A' + (r as u8 - b'0') * 2)
                        } else {
                            c
                        }
                    })
                    .collect()
            }
            PiiKind::Date => match value.get(..4) {
                // The same year; month and day from the customer.
                Some(year) if year.chars().all(|c| c.is_ascii_digit()) => {
                    let d = self.digits(field, 4).parse::<u32>().unwrap_or(0);
                    format!("{year}-{:02}-{:02}", 1 + d % 12, 1 + (d / 12) % 28)
                }
                _ => "1990-01-01".into(),
            },
            PiiKind::Text => {
                let n = value.split_whitespace().count().max(1);
                let mut h = self.key ^ stable_hash(&[field]);
                let mut words: Vec<&str> = Vec::with_capacity(n);
                for _ in 0..n {
                    h = h.wrapping_mul(6364136223846793005).wrapping_add(1);
                    words.push(WORDS[((h >> 33) % WORDS.len() as u64) as usize]);
                }
                let mut s = words.join(" ");
                if let Some(c) = s.get(..1) {
                    s.replace_range(..1, &c.to_ascii_uppercase());
                }
                s
            }
            PiiKind::Secret => format!("hidden-{}", self.digits(field, 6)),
        }
    }
}

/// Which fields are personal, and how to stand in for them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Masker {
    fields: HashMap<String, PiiKind>,
}

impl Masker {
    /// A masker for these personal fields (name, kind).
    pub fn new(fields: impl IntoIterator<Item = (String, PiiKind)>) -> Masker {
        Masker {
            fields: fields.into_iter().collect(),
        }
    }

    /// The kind of field `name`, if it is personal.
    pub fn kind(&self, field: &str) -> Option<PiiKind> {
        self.fields.get(field).copied()
    }

    pub fn is_pii(&self, field: &str) -> bool {
        self.fields.contains_key(field)
    }

    /// What customer `key` (their customer id) shows for `field` holding
    /// `value`: a stand-in when the field is personal, the value when it
    /// is not. Empty stays empty.
    pub fn show(&self, field: &str, key: &str, value: &str) -> String {
        match self.kind(field) {
            Some(kind) if !value.is_empty() => StandIn::of(key).value(kind, field, value),
            _ => value.to_string(),
        }
    }

    /// Free text that may quote people (import notes, evidence of likely
    /// duplicates): every email address in it replaced by a stand-in
    /// derived from the address itself.
    pub fn text(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for (i, word) in text.split(' ').enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let core = word.trim_matches(|c: char| "\"'(),;:<>[]".contains(c));
            if core.contains('@') && core.contains('.') {
                out.push_str(&word.replace(core, &StandIn::of(core).email));
            } else {
                out.push_str(word);
            }
        }
        out
    }
}

/// The kind a field of `field_type` holds by default: built-in fields as
/// listed, custom fields by their name. Numbers and flags are never
/// personal by default.
pub fn default_kind(name: &str, field_type: FieldType) -> Option<PiiKind> {
    if let Some((_, k)) = BUILTIN_PII.iter().find(|(n, _)| *n == name) {
        return Some(*k);
    }
    if super::BUILTIN_CUSTOMER_FIELDS.iter().any(|f| f.0 == name) {
        return None;
    }
    match field_type {
        FieldType::Text | FieldType::Date => PiiKind::from_name(name),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::lists;

    #[test]
    fn stand_ins_share_no_name_with_the_sample_data() {
        for f in FIRST {
            assert!(
                !lists::FEMALE_NAMES.contains(f) && !lists::MALE_NAMES.contains(f),
                "{f}"
            );
            assert!(!lists::LAST_NAMES.contains(f), "{f}");
        }
        for l in LAST {
            assert!(!lists::LAST_NAMES.contains(l), "{l}");
            assert!(
                !lists::FEMALE_NAMES.contains(l) && !lists::MALE_NAMES.contains(l),
                "{l}"
            );
        }
        for c in CITIES {
            assert!(!lists::CITIES.iter().any(|(n, _, _)| n == c), "{c}");
        }
    }

    #[test]
    fn a_customer_is_always_the_same_person_in_the_same_shape() {
        let m = Masker::new([
            ("email".to_string(), PiiKind::Email),
            ("first_name".to_string(), PiiKind::FirstName),
            ("zip".to_string(), PiiKind::PostalCode),
            ("birth_date".to_string(), PiiKind::Date),
            ("notes".to_string(), PiiKind::Text),
        ]);
        let a = m.show("first_name", "C1", "Emma");
        assert_eq!(a, m.show("first_name", "C1", "Emma"));
        assert!(FIRST.contains(&a.as_str()));
        let email = m.show("email", "C1", "emma@gmail.com");
        assert!(
            email.starts_with(&format!("{}.", a.to_ascii_lowercase())),
            "{email}"
        );
        assert!(email.ends_with("@example.com"));
        assert_eq!(m.show("zip", "C1", "SW1A 1AA").len(), 8);
        assert!(
            m.show("zip", "C1", "36269")
                .chars()
                .all(|c| c.is_ascii_digit())
        );
        assert!(
            m.show("birth_date", "C1", "1990-05-01")
                .starts_with("1990-")
        );
        assert_eq!(
            m.show("notes", "C1", "called about a refund")
                .split(' ')
                .count(),
            4
        );
        assert_eq!(m.show("country", "C1", "DE"), "DE");
        assert_eq!(m.show("email", "C1", ""), "");
        // Many customers get many people.
        let people: std::collections::HashSet<String> = (0..200)
            .map(|i| {
                m.show("first_name", &format!("C{i}"), "x")
                    + &m.show("email", &format!("C{i}"), "x")
            })
            .collect();
        assert!(people.len() > 150);
        assert_eq!(
            m.text("same email \"ada@x.com\" as C2"),
            format!("same email \"{}\" as C2", StandIn::of("ada@x.com").email)
        );
    }

    #[test]
    fn names_and_values_say_what_is_personal() {
        assert_eq!(PiiKind::from_name("Mobile"), Some(PiiKind::Phone));
        assert_eq!(PiiKind::from_name("home_address"), Some(PiiKind::Street));
        assert_eq!(PiiKind::from_name("zip"), Some(PiiKind::PostalCode));
        assert_eq!(PiiKind::from_name("contact_name"), Some(PiiKind::FullName));
        assert_eq!(PiiKind::from_name("product_name"), None);
        assert_eq!(PiiKind::from_name("loyalty_tier"), None);
        assert_eq!(PiiKind::from_name("support_notes"), Some(PiiKind::Text));
        assert_eq!(
            PiiKind::from_values(["a@b.io", "c@d.io", "e@f.io"]),
            Some(PiiKind::Email)
        );
        assert_eq!(
            PiiKind::from_values(["+47 62175776", "+47 44469951", "555-0100-22"]),
            Some(PiiKind::Phone)
        );
        assert_eq!(
            PiiKind::from_values([
                "asked for a call",
                "prefers the blue one",
                "moved to Oslo last year"
            ]),
            Some(PiiKind::Text)
        );
        assert_eq!(
            PiiKind::from_values(["gold", "silver", "gold", "bronze"]),
            None
        );
        assert_eq!(default_kind("country", FieldType::Text), None);
        assert_eq!(default_kind("email", FieldType::Text), Some(PiiKind::Email));
        assert_eq!(default_kind("mobile", FieldType::Number), None);
    }
}
