//! The engine's columns on disk, beside the workspace (`NAME.prism.engine`),
//! so opening a workspace reads its columns instead of rebuilding them from
//! SQLite.
//!
//! The file is a cache, never the truth:
//! - its header names what it was built from (a [`fingerprint`] of the
//!   workspace: the file's identity, schema version, creation time, data
//!   version, row counts and highest row ids, the customer fields, the
//!   purchase event); a file put in the workspace's place, or any import,
//!   erasure, edit or migration changes the fingerprint and the file is
//!   ignored and rebuilt;
//! - its payload carries a CRC-32 and every array is checked (lengths,
//!   offsets, codes, order) before use, so a truncated or damaged file is
//!   rebuilt rather than trusted, and nothing in it can make the engine
//!   index out of bounds;
//! - it is written to a temporary file and renamed into place.
//!
//! Arrays are stored in the machine's byte order (the header checks it).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::data::{Codes, Column, Dict, EngineData, EventColumns, Times};
use crate::model::FieldDef;
use crate::progress::Progress;
use crate::store::{Store, StoreError};

const MAGIC: &[u8; 8] = b"PRISMENG";
/// Bumped whenever the layout below changes.
const FORMAT: u32 = 2;
const BYTE_ORDER: u32 = 0x0102_0304;
const TRAILER: &[u8; 4] = b"END.";
/// What a snapshot being written is called: its final name, this, and the
/// writer's process and number.
const PARTIAL: &str = ".partial-";

/// Where the snapshot of `workspace` lives.
pub fn path_for(workspace: &Path) -> PathBuf {
    let mut s = workspace.as_os_str().to_owned();
    s.push(".engine");
    PathBuf::from(s)
}

/// Deletes the snapshot of `workspace` and any a stopped build left half
/// written (they hold customer data: an erasure must leave none).
pub fn remove(workspace: &Path) -> std::io::Result<()> {
    let path = path_for(workspace);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(());
    };
    let partial = format!("{}{PARTIAL}", name.to_string_lossy());
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    for entry in std::fs::read_dir(dir)?.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&partial) {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// What a snapshot must have been built from to be used: everything a
/// change to the workspace's data moves. Read inside the same read
/// transaction as the data it describes.
pub fn fingerprint(store: &Store) -> Result<String, StoreError> {
    let (customers, max_customer, max_event) = store.row_marks()?;
    // The file itself: a workspace replaced by another at the same path
    // (regenerated, restored, copied over) is another file.
    #[cfg(unix)]
    let file = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(store.path())
            .map(|m| format!("{}:{}", m.dev(), m.ino()))
            .unwrap_or_default()
    };
    #[cfg(not(unix))]
    let file = String::new();
    let fp = serde_json::json!({
        "file": file,
        "format": FORMAT,
        "schema_version": store.schema_version()?,
        "created_at": store.meta("created_at")?,
        "data_version": store.data_version()?,
        "customers": customers,
        "max_customer_rowid": max_customer,
        "max_event_rowid": max_event,
        "purchase_event": store.purchase_event()?,
        "fields": store.customer_fields()?,
    });
    Ok(fp.to_string())
}

/// Why a snapshot was not used.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("no snapshot")]
    Missing,
    #[error("the workspace changed since the snapshot was written")]
    Stale,
    #[error("damaged snapshot: {0}")]
    Damaged(String),
    #[error("cancelled")]
    Cancelled,
}

fn damaged(what: impl Into<String>) -> SnapshotError {
    SnapshotError::Damaged(what.into())
}

impl From<std::io::Error> for SnapshotError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            damaged("truncated")
        } else {
            damaged(e.to_string())
        }
    }
}

/// Writes `data` (built when the workspace had `fingerprint`) to `path`.
pub fn write(data: &EngineData, fingerprint: &str, path: &Path) -> std::io::Result<()> {
    // A name of its own per writer: two opens writing at once never mix
    // their bytes (the last rename wins, whole).
    static WRITERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!("{PARTIAL}{}-{n}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let result = (|| {
        let mut out = Sink {
            w: BufWriter::with_capacity(1 << 20, File::create(&tmp)?),
            crc: crc32fast::Hasher::new(),
            len: 0,
        };
        out.w.write_all(MAGIC)?;
        out.w.write_all(&FORMAT.to_ne_bytes())?;
        out.w.write_all(&BYTE_ORDER.to_ne_bytes())?;
        out.w.write_all(&(fingerprint.len() as u64).to_ne_bytes())?;
        out.w.write_all(fingerprint.as_bytes())?;
        // The payload, under the CRC.
        out.slice(&data.ids)?;
        out.text(&serde_json::to_string(&data.fields).map_err(std::io::Error::other)?)?;
        out.u64(data.columns.len() as u64)?;
        for c in &data.columns {
            match c {
                Column::Text { codes, dict } => {
                    out.u64(0)?;
                    out.slice(codes)?;
                    out.dict(dict)?;
                }
                Column::Num(v) => {
                    out.u64(1)?;
                    out.slice(v)?;
                }
                Column::Time(v) => {
                    out.u64(2)?;
                    out.slice(v)?;
                }
                Column::Bool(v) => {
                    out.u64(3)?;
                    out.slice(v)?;
                }
            }
        }
        out.dict(&data.strings)?;
        out.text(&data.purchase_event)?;
        let mut names: Vec<&String> = data.events.keys().collect();
        names.sort();
        out.u64(names.len() as u64)?;
        for name in names {
            let e = &data.events[name];
            out.text(name)?;
            out.slice(&e.offsets)?;
            match &e.times {
                Times::Narrow { base, rel } => {
                    out.u64(0)?;
                    out.u64(*base as u64)?;
                    out.slice(rel)?;
                }
                Times::Wide(t) => {
                    out.u64(1)?;
                    out.slice(t)?;
                }
            }
            out.slice(&e.values)?;
            for c in [&e.product, &e.category, &e.campaign] {
                out.codes(c)?;
            }
        }
        let crc = out.crc.clone().finalize();
        let len = out.len;
        out.w.write_all(&crc.to_ne_bytes())?;
        out.w.write_all(&len.to_ne_bytes())?;
        out.w.write_all(TRAILER)?;
        let file = out.w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

struct Sink {
    w: BufWriter<File>,
    crc: crc32fast::Hasher,
    len: u64,
}

impl Sink {
    fn bytes(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.crc.update(b);
        self.len += b.len() as u64;
        self.w.write_all(b)
    }

    fn u64(&mut self, v: u64) -> std::io::Result<()> {
        self.bytes(&v.to_ne_bytes())
    }

    fn slice<T: bytemuck::Pod>(&mut self, v: &[T]) -> std::io::Result<()> {
        self.u64(v.len() as u64)?;
        self.bytes(bytemuck::cast_slice(v))
    }

    fn text(&mut self, s: &str) -> std::io::Result<()> {
        self.slice(s.as_bytes())
    }

    fn codes(&mut self, c: &Codes) -> std::io::Result<()> {
        match c {
            Codes::Absent => self.u64(0),
            Codes::Small(v) => {
                self.u64(1)?;
                self.slice(v)
            }
            Codes::Large(v) => {
                self.u64(2)?;
                self.slice(v)
            }
        }
    }

    fn dict(&mut self, d: &Dict) -> std::io::Result<()> {
        let (bytes, ends) = d.parts();
        self.slice(ends)?;
        self.text(bytes)
    }
}

/// Reads the snapshot at `path` if it was built from `fingerprint` and is
/// whole; otherwise says why not.
pub fn read(
    path: &Path,
    fingerprint: &str,
    progress: &dyn Progress,
) -> Result<EngineData, SnapshotError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(SnapshotError::Missing),
        Err(e) => return Err(damaged(e.to_string())),
    };
    let size = file.metadata()?.len();
    let mut src = Source {
        r: BufReader::with_capacity(1 << 20, file),
        crc: crc32fast::Hasher::new(),
        left: size,
        len: 0,
    };
    let mut head = [0u8; 8 + 4 + 4 + 8];
    src.raw(&mut head)?;
    if &head[..8] != MAGIC {
        return Err(damaged("not an engine snapshot"));
    }
    let word = |k: usize| u32::from_ne_bytes([head[k], head[k + 1], head[k + 2], head[k + 3]]);
    if word(8) != FORMAT || word(12) != BYTE_ORDER {
        return Err(SnapshotError::Stale);
    }
    let fp_len = u64::from_ne_bytes(head[16..24].try_into().unwrap_or_default());
    if fp_len != fingerprint.len() as u64 {
        return Err(SnapshotError::Stale);
    }
    let mut fp = vec![0u8; fingerprint.len()];
    src.raw(&mut fp)?;
    if fp != fingerprint.as_bytes() {
        return Err(SnapshotError::Stale);
    }
    progress.report(0.0, "reading the engine's columns");

    let ids: Vec<i64> = src.slice()?;
    let n = ids.len();
    if ids.windows(2).any(|w| w[0] >= w[1]) {
        return Err(damaged("customer ids out of order"));
    }
    let fields: Vec<FieldDef> =
        serde_json::from_str(&src.text()?).map_err(|e| damaged(e.to_string()))?;
    let n_columns = src.u64()?;
    if n_columns != fields.len() as u64 {
        return Err(damaged("columns do not match the fields"));
    }
    let mut columns = Vec::with_capacity(fields.len());
    for f in &fields {
        let tag = src.u64()?;
        let column = match tag {
            0 => {
                let codes: Vec<u32> = src.slice()?;
                let dict = src.dict()?;
                check_codes(&codes, &dict, &f.name)?;
                Column::Text { codes, dict }
            }
            1 => Column::Num(src.slice()?),
            2 => Column::Time(src.slice()?),
            3 => Column::Bool(src.slice()?),
            _ => return Err(damaged(format!("column {}: unknown kind", f.name))),
        };
        let len = match &column {
            Column::Text { codes, .. } => codes.len(),
            Column::Num(v) => v.len(),
            Column::Time(v) => v.len(),
            Column::Bool(v) => v.len(),
        };
        if len != n {
            return Err(damaged(format!(
                "column {}: {len} values for {n} customers",
                f.name
            )));
        }
        columns.push(column);
    }
    progress.check().map_err(|_| SnapshotError::Cancelled)?;
    let strings = src.dict()?;
    let purchase_event = src.text()?;
    let n_events = src.u64()?;
    let mut events = std::collections::HashMap::new();
    for k in 0..n_events {
        progress.report(
            0.1 + 0.9 * k as f32 / n_events.max(1) as f32,
            "reading the engine's columns",
        );
        progress.check().map_err(|_| SnapshotError::Cancelled)?;
        let name = src.text()?;
        let offsets = src.slice()?;
        let times = match src.u64()? {
            0 => Times::Narrow {
                base: src.u64()? as i64,
                rel: src.slice()?,
            },
            1 => Times::Wide(src.slice()?),
            _ => return Err(damaged(format!("event {name}: times"))),
        };
        let e = EventColumns {
            offsets,
            span: times.bounds(),
            times,
            values: src.slice()?,
            product: src.codes()?,
            category: src.codes()?,
            campaign: src.codes()?,
            name: name.clone(),
        };
        check_events(&e, n, &strings)?;
        events.insert(name, Arc::new(e));
    }
    let crc = src.crc.clone().finalize();
    let len = src.len;
    let mut tail = [0u8; 4 + 8 + 4];
    src.raw(&mut tail)?;
    if tail[..4] != crc.to_ne_bytes() || tail[4..12] != len.to_ne_bytes() || &tail[12..] != TRAILER
    {
        return Err(damaged("checksum does not match"));
    }
    if src.left != 0 {
        return Err(damaged("bytes after the end"));
    }
    let data_version = serde_json::from_str::<serde_json::Value>(fingerprint)
        .ok()
        .and_then(|v| v["data_version"].as_i64())
        .unwrap_or(0);
    Ok(EngineData {
        ids,
        fields,
        columns,
        events,
        strings,
        data_version,
        purchase_event,
    })
}

fn check_codes(codes: &[u32], dict: &Dict, what: &str) -> Result<(), SnapshotError> {
    let max = dict.len() as u32;
    if codes.iter().any(|&c| c > max) {
        return Err(damaged(format!("{what}: a code beyond its dictionary")));
    }
    Ok(())
}

fn check_event_codes(c: &Codes, m: usize, dict: &Dict, what: &str) -> Result<(), SnapshotError> {
    if !matches!(c, Codes::Absent) && c.stored() != m {
        return Err(damaged(format!("{what}: column lengths")));
    }
    if c.max() > dict.len() as u32 {
        return Err(damaged(format!("{what}: a code beyond its dictionary")));
    }
    Ok(())
}

fn check_events(e: &EventColumns, n: usize, strings: &Dict) -> Result<(), SnapshotError> {
    let m = e.len();
    let what = |s: &str| damaged(format!("event {}: {s}", e.name));
    if e.offsets.len() != n + 1
        || e.offsets.first() != Some(&0)
        || e.offsets.last().map(|&o| o as usize) != Some(m)
        || e.offsets.windows(2).any(|w| w[0] > w[1])
    {
        return Err(what("offsets"));
    }
    if !e.values.is_empty() && e.values.len() != m {
        return Err(what("column lengths"));
    }
    for w in e.offsets.windows(2) {
        let ordered = match &e.times {
            Times::Narrow { rel, .. } => rel[w[0] as usize..w[1] as usize]
                .windows(2)
                .all(|t| t[0] <= t[1]),
            Times::Wide(t) => t[w[0] as usize..w[1] as usize]
                .windows(2)
                .all(|t| t[0] <= t[1]),
        };
        if !ordered {
            return Err(what("times out of order"));
        }
    }
    if let Times::Narrow { base, rel } = &e.times
        && rel
            .iter()
            .any(|&r| base.checked_add(i64::from(r)).is_none())
    {
        return Err(what("times"));
    }
    for c in [&e.product, &e.category, &e.campaign] {
        check_event_codes(c, m, strings, &e.name)?;
    }
    Ok(())
}

struct Source {
    r: BufReader<File>,
    crc: crc32fast::Hasher,
    /// Bytes of the file not read yet: no length read from the file may
    /// ask for more.
    left: u64,
    len: u64,
}

impl Source {
    fn raw(&mut self, buf: &mut [u8]) -> Result<(), SnapshotError> {
        if buf.len() as u64 > self.left {
            return Err(damaged("truncated"));
        }
        self.r.read_exact(buf)?;
        self.left -= buf.len() as u64;
        Ok(())
    }

    fn bytes(&mut self, buf: &mut [u8]) -> Result<(), SnapshotError> {
        self.raw(buf)?;
        self.crc.update(buf);
        self.len += buf.len() as u64;
        Ok(())
    }

    fn u64(&mut self) -> Result<u64, SnapshotError> {
        let mut b = [0u8; 8];
        self.bytes(&mut b)?;
        Ok(u64::from_ne_bytes(b))
    }

    fn slice<T: bytemuck::Pod>(&mut self) -> Result<Vec<T>, SnapshotError> {
        let n = self.u64()?;
        let size = std::mem::size_of::<T>() as u64;
        if n.saturating_mul(size) > self.left {
            return Err(damaged("truncated"));
        }
        let mut v = vec![T::zeroed(); n as usize];
        self.bytes(bytemuck::cast_slice_mut(&mut v))?;
        Ok(v)
    }

    fn codes(&mut self) -> Result<Codes, SnapshotError> {
        Ok(match self.u64()? {
            0 => Codes::Absent,
            1 => Codes::Small(self.slice()?),
            2 => Codes::Large(self.slice()?),
            _ => return Err(damaged("codes")),
        })
    }

    fn text(&mut self) -> Result<String, SnapshotError> {
        String::from_utf8(self.slice::<u8>()?).map_err(|_| damaged("text is not UTF-8"))
    }

    fn dict(&mut self) -> Result<Dict, SnapshotError> {
        let ends: Vec<u64> = self.slice()?;
        let bytes = self.text()?;
        Dict::from_parts(bytes, ends).ok_or_else(|| damaged("dictionary"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FieldType;
    use crate::progress::NoProgress;

    /// Wide times, large codes, a text column: the forms generated samples
    /// never need, through a write and a read.
    #[test]
    fn every_column_form_survives_a_write_and_a_read() {
        let mut strings = Dict::default();
        for k in 0..70_000 {
            strings.code(Some(&format!("SKU-{k}")));
        }
        let mut names = Dict::default();
        let codes = vec![names.code(Some("Mia")), 0, names.code(Some("Jonas"))];
        let far = i64::from(u32::MAX) * 3;
        let events = EventColumns::new(
            "order".into(),
            vec![0, 2, 2, 3],
            vec![-far, 5, far],
            vec![1.5, f64::NAN, -2.0],
            [vec![1, 69_999, 70_000], vec![0, 0, 0], vec![0, 0, 3]],
            strings.len(),
        );
        assert!(matches!(events.times, Times::Wide(_)));
        assert!(matches!(events.product, Codes::Large(_)));
        assert!(matches!(events.category, Codes::Absent));
        let data = EngineData {
            ids: vec![3, 7, 9],
            fields: vec![FieldDef {
                name: "first_name".into(),
                field_type: FieldType::Text,
                label: "First name".into(),
                custom: false,
            }],
            columns: vec![Column::Text { codes, dict: names }],
            events: [("order".to_string(), Arc::new(events))].into(),
            strings,
            data_version: 0,
            purchase_event: "order".into(),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.prism.engine");
        let fp = r#"{"data_version":4}"#;
        write(&data, fp, &path).unwrap();
        let back = read(&path, fp, &NoProgress).unwrap();
        assert_eq!(back.ids, data.ids);
        assert_eq!(back.fields, data.fields);
        assert_eq!(back.data_version, 4);
        match &back.columns[0] {
            Column::Text { codes, dict } => {
                assert_eq!(codes, &[1, 0, 2]);
                assert_eq!(dict.get(2), Some("Jonas"));
            }
            other => panic!("{other:?}"),
        }
        let e = &back.events["order"];
        assert_eq!(
            (0..3).map(|j| e.time(j)).collect::<Vec<_>>(),
            vec![-far, 5, far]
        );
        assert_eq!(e.value(0), 1.5);
        assert!(e.value(1).is_nan());
        assert_eq!(
            (0..3).map(|j| e.product.get(j)).collect::<Vec<_>>(),
            vec![1, 69_999, 70_000]
        );
        assert_eq!(back.strings.get(70_000), Some("SKU-69999"));
        assert_eq!(e.campaign.get(2), 3);
        assert_eq!(e.window(0, -far, 6), 0..2);
        assert!(matches!(
            read(&path, r#"{"data_version":5}"#, &NoProgress),
            Err(SnapshotError::Stale)
        ));
    }
}
