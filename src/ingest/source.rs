//! Reading import files: CSV / TSV (any delimiter, quoted fields with
//! newlines, UTF-8 with or without BOM, Latin-1 detected), JSON Lines,
//! Parquet and Excel `.xlsx`. Rows are streamed to a visitor, so memory
//! stays bounded whatever the file's size (Excel sheets are read whole).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::ImportError;

/// What kind of file it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv { delimiter: u8 },
    JsonLines,
    Parquet,
    Xlsx,
}

impl Format {
    pub fn describe(self) -> String {
        match self {
            Format::Csv { delimiter: b'\t' } => "TSV (tab-separated)".into(),
            Format::Csv { delimiter } => format!("CSV (separated by '{}')", delimiter as char),
            Format::JsonLines => "JSON Lines".into(),
            Format::Parquet => "Parquet".into(),
            Format::Xlsx => "Excel (.xlsx)".into(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    /// Bytes that are not UTF-8 were read as Latin-1 (ISO-8859-1).
    Latin1,
}

/// One cell as read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    Null,
    Text(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Value<'_> {
    /// The cell as text (numbers written plainly); `None` if empty.
    pub fn text(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Value::Null => None,
            Value::Text(s) => {
                let t = s.trim();
                (!t.is_empty()).then_some(std::borrow::Cow::Borrowed(t))
            }
            Value::Int(n) => Some(n.to_string().into()),
            Value::Float(x) => Some(crate::model::text::fmt_num(*x).into()),
            Value::Bool(b) => Some(if *b { "true" } else { "false" }.into()),
        }
    }
}

/// A row handed to the visitor.
pub struct Row<'a> {
    /// 1 = the first data row.
    pub number: u64,
    /// The line of the file the row starts on (CSV, JSON Lines).
    pub line: u64,
    pub cells: &'a [Value<'a>],
    /// Why the row could not be read as it should (it is rejected).
    pub problem: Option<String>,
}

/// What was read.
#[derive(Clone, Debug, Default)]
pub struct ReadSummary {
    pub rows: u64,
    /// SHA-256 of the file's bytes, hex.
    pub hash: String,
}

/// A file's format, encoding and header, found by looking at its start.
#[derive(Clone, Debug)]
pub struct Sniffed {
    pub format: Format,
    pub encoding: Encoding,
    pub headers: Vec<String>,
    pub size: u64,
}

fn file_err(path: &Path, e: std::io::Error) -> ImportError {
    ImportError::File {
        file: path.display().to_string(),
        message: match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".into(),
            std::io::ErrorKind::PermissionDenied => {
                "permission denied (is it locked or open elsewhere?)".into()
            }
            _ => e.to_string(),
        },
    }
}

fn bad(path: &Path, message: impl Into<String>) -> ImportError {
    ImportError::File {
        file: path.display().to_string(),
        message: message.into(),
    }
}

/// Runs a third-party reader (Parquet, Excel), turning a panic inside it on
/// a damaged file into an error that names the file, so that bad input can
/// never crash the app or the command line.
fn guarded<T>(
    path: &Path,
    format: &str,
    f: impl FnOnce() -> Result<T, ImportError>,
) -> Result<T, ImportError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let why = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(bad(
            path,
            format!("damaged or not a valid {format} file (the reader failed: {why})"),
        ))
    })
}

/// Workbooks this much larger unpacked than packed are refused unread.
const MAX_ZIP_RATIO: u64 = 100;
/// Unpacked sizes up to this are read whatever the ratio.
const ZIP_RATIO_FROM: u64 = 64 << 20;
/// No workbook unpacks to more than this.
const MAX_ZIP_UNPACKED: u64 = 2 << 30;

/// Refuses a ZIP archive (an .xlsx workbook) that unpacks to far more than
/// its size (a "zip bomb"), from the sizes its central directory declares,
/// before any of it is inflated.
pub fn check_zip_sizes(path: &Path) -> Result<(), ImportError> {
    use std::io::{Seek, SeekFrom};
    let damaged = || {
        bad(
            path,
            "a damaged .xlsx workbook (its ZIP directory is unreadable)",
        )
    };
    fn u16_at(b: &[u8], i: usize) -> Option<u64> {
        Some(u64::from(u16::from_le_bytes(
            b.get(i..i + 2)?.try_into().ok()?,
        )))
    }
    fn u32_at(b: &[u8], i: usize) -> Option<u64> {
        Some(u64::from(u32::from_le_bytes(
            b.get(i..i + 4)?.try_into().ok()?,
        )))
    }
    // Only the directory is read: the end-of-central-directory record, in
    // the last 64 KiB + 22 bytes, says where it is.
    let mut f = File::open(path).map_err(|e| file_err(path, e))?;
    let len = f.metadata().map_err(|e| file_err(path, e))?.len();
    let tail_from = len.saturating_sub(65_557);
    let mut tail = Vec::new();
    f.seek(SeekFrom::Start(tail_from))
        .and_then(|_| f.read_to_end(&mut tail))
        .map_err(|e| file_err(path, e))?;
    let eocd = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])
        .ok_or_else(damaged)?;
    let entries = u16_at(&tail, eocd + 10).ok_or_else(damaged)?;
    let dir_size = u32_at(&tail, eocd + 12).ok_or_else(damaged)?;
    let dir_at = u32_at(&tail, eocd + 16).ok_or_else(damaged)?;
    if dir_at + dir_size > len {
        return Err(damaged());
    }
    let mut data = vec![0u8; dir_size as usize];
    f.seek(SeekFrom::Start(dir_at))
        .and_then(|_| f.read_exact(&mut data))
        .map_err(|e| file_err(path, e))?;
    let u16_at = |i: usize| u16_at(&data, i);
    let u32_at = |i: usize| u32_at(&data, i);
    let mut at = 0usize;
    let mut unpacked = 0u64;
    for _ in 0..entries {
        if data.get(at..at + 4) != Some(&[0x50, 0x4b, 0x01, 0x02][..]) {
            return Err(damaged());
        }
        let packed = u32_at(at + 20).ok_or_else(damaged)?;
        let mut size = u32_at(at + 24).ok_or_else(damaged)?;
        let name_len = u16_at(at + 28).ok_or_else(damaged)? as usize;
        let extra_len = u16_at(at + 30).ok_or_else(damaged)? as usize;
        let comment_len = u16_at(at + 32).ok_or_else(damaged)? as usize;
        if size == 0xFFFF_FFFF {
            // ZIP64: the real size is in the extra field (tag 1), first.
            let extra = at + 46 + name_len;
            let mut e = extra;
            while e + 4 <= extra + extra_len {
                let tag = u16_at(e).ok_or_else(damaged)?;
                let len = u16_at(e + 2).ok_or_else(damaged)? as usize;
                if tag == 1 {
                    size = data
                        .get(e + 4..e + 12)
                        .and_then(|b| b.try_into().ok())
                        .map(u64::from_le_bytes)
                        .ok_or_else(damaged)?;
                    break;
                }
                e += 4 + len;
            }
        }
        unpacked = unpacked.saturating_add(size);
        if size > ZIP_RATIO_FROM && size / packed.max(1) > MAX_ZIP_RATIO {
            return Err(bad(
                path,
                format!(
                    "refused: a part of this workbook unpacks from {} KB to {} MB ({}x), which no spreadsheet does (a \"zip bomb\")",
                    packed / 1000,
                    size >> 20,
                    size / packed.max(1)
                ),
            ));
        }
        at += 46 + name_len + extra_len + comment_len;
    }
    if unpacked > MAX_ZIP_UNPACKED {
        return Err(bad(
            path,
            format!(
                "refused: the workbook unpacks to {} MB; Prism reads workbooks up to {} MB (save large sheets as CSV)",
                unpacked >> 20,
                MAX_ZIP_UNPACKED >> 20
            ),
        ));
    }
    Ok(())
}

/// Guesses the delimiter from the first lines: the candidate that splits
/// them into the same number of fields, most of the time.
pub fn sniff_delimiter(head: &str) -> u8 {
    let lines: Vec<&str> = head.lines().take(30).collect();
    let mut best = (b',', 0usize, 0usize);
    for d in [b',', b';', b'\t', b'|'] {
        let counts: Vec<usize> = lines
            .iter()
            .map(|l| {
                let mut n = 0;
                let mut quoted = false;
                for b in l.bytes() {
                    if b == b'"' {
                        quoted = !quoted;
                    } else if b == d && !quoted {
                        n += 1;
                    }
                }
                n
            })
            .collect();
        let Some(&first) = counts.first() else {
            continue;
        };
        if first == 0 {
            continue;
        }
        let same = counts.iter().filter(|&&c| c == first).count();
        if (same, first) > (best.1, best.2) {
            best = (d, same, first);
        }
    }
    best.0
}

/// Looks at a file: format (by content and extension), encoding, header.
pub fn sniff(path: &Path, delimiter: Option<u8>) -> Result<Sniffed, ImportError> {
    let meta = std::fs::metadata(path).map_err(|e| file_err(path, e))?;
    if meta.is_dir() {
        return Err(bad(path, "is a folder, not a file"));
    }
    let size = meta.len();
    if size == 0 {
        return Err(bad(path, "the file is empty"));
    }
    let mut head = vec![0u8; 64 * 1024];
    let n = {
        let mut f = File::open(path).map_err(|e| file_err(path, e))?;
        let mut n = 0;
        loop {
            let k = f.read(&mut head[n..]).map_err(|e| file_err(path, e))?;
            if k == 0 {
                break;
            }
            n += k;
            if n == head.len() {
                break;
            }
        }
        n
    };
    head.truncate(n);
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if head.starts_with(b"PAR1") {
        let headers = guarded(path, "Parquet", || parquet_headers(path))?;
        return Ok(Sniffed {
            format: Format::Parquet,
            encoding: Encoding::Utf8,
            headers,
            size,
        });
    }
    if head.starts_with(b"PK\x03\x04") {
        if ext != "xlsx" && ext != "xlsm" {
            return Err(bad(
                path,
                "a ZIP archive; Prism reads .xlsx workbooks, CSV, JSON Lines and Parquet",
            ));
        }
        check_zip_sizes(path)?;
        let headers = guarded(path, "Excel", || xlsx_headers(path, None))?;
        return Ok(Sniffed {
            format: Format::Xlsx,
            encoding: Encoding::Utf8,
            headers,
            size,
        });
    }
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return Err(bad(
            path,
            "UTF-16 text; save it as UTF-8 (most spreadsheet apps offer \"CSV UTF-8\")",
        ));
    }
    if let Some(pos) = head.iter().position(|&b| b == 0) {
        return Err(bad(
            path,
            format!("binary data (a zero byte at byte {pos}), not a text file"),
        ));
    }
    let body = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head);
    let encoding = match std::str::from_utf8(body) {
        Ok(_) => Encoding::Utf8,
        // The cut may split a character at the end of the sample.
        Err(e) if e.error_len().is_none() => Encoding::Utf8,
        Err(_) => Encoding::Latin1,
    };
    let text = decode(body, encoding);
    let is_jsonl = ext == "jsonl" || ext == "ndjson" || text.trim_start().starts_with('{');
    if is_jsonl {
        let headers = jsonl_headers(&text);
        if headers.is_empty() {
            return Err(bad(path, "no JSON objects in the first lines"));
        }
        return Ok(Sniffed {
            format: Format::JsonLines,
            encoding,
            headers,
            size,
        });
    }
    let delimiter = delimiter.unwrap_or(if ext == "tsv" || ext == "tab" {
        b'\t'
    } else {
        sniff_delimiter(&text)
    });
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rec = csv::StringRecord::new();
    if !rdr
        .read_record(&mut rec)
        .map_err(|e| bad(path, e.to_string()))?
    {
        return Err(bad(path, "the file is empty"));
    }
    let headers: Vec<String> = rec.iter().map(|h| h.trim().to_string()).collect();
    check_headers(path, &headers)?;
    Ok(Sniffed {
        format: Format::Csv { delimiter },
        encoding,
        headers,
        size,
    })
}

/// Headers must be named, and named once.
pub fn check_headers(path: &Path, headers: &[String]) -> Result<(), ImportError> {
    for (i, h) in headers.iter().enumerate() {
        if h.is_empty() {
            return Err(bad(
                path,
                format!(
                    "header: column {} has no name; give it one (or delete the column)",
                    i + 1
                ),
            ));
        }
        if let Some(j) = headers[..i].iter().position(|o| o.eq_ignore_ascii_case(h)) {
            return Err(bad(
                path,
                format!(
                    "header: columns {} and {} are both named {h:?}; rename one",
                    j + 1,
                    i + 1
                ),
            ));
        }
    }
    Ok(())
}

fn decode(bytes: &[u8], encoding: Encoding) -> String {
    match encoding {
        Encoding::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
        Encoding::Latin1 => bytes.iter().map(|&b| b as char).collect(),
    }
}

fn jsonl_headers(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines().take(1000) {
        if let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(line) {
            for k in m.keys() {
                if !out.contains(k) {
                    out.push(k.clone());
                }
            }
        }
    }
    out
}

/// A reader that hashes what passes through it.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    read: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hash of a whole file (for formats read through libraries).
fn hash_file(path: &Path) -> Result<String, ImportError> {
    let f = File::open(path).map_err(|e| file_err(path, e))?;
    let mut h = Hashing {
        inner: BufReader::with_capacity(1 << 20, f),
        hasher: Sha256::new(),
        read: 0,
    };
    std::io::copy(&mut h, &mut std::io::sink()).map_err(|e| file_err(path, e))?;
    Ok(hex(&h.hasher.finalize()))
}

/// Streams the data rows of `path` (after the header) to `visit`, with
/// `progress(bytes_read)` now and then. `visit` returns false to stop.
pub fn read_rows(
    path: &Path,
    sniffed: &Sniffed,
    progress: &mut dyn FnMut(u64) -> bool,
    visit: &mut dyn FnMut(&Row<'_>) -> Result<(), ImportError>,
) -> Result<ReadSummary, ImportError> {
    match sniffed.format {
        Format::Csv { delimiter } => read_csv(path, sniffed, delimiter, progress, visit),
        Format::JsonLines => read_jsonl(path, sniffed, progress, visit),
        Format::Parquet => {
            let rows = guarded(path, "Parquet", || {
                read_parquet(path, &sniffed.headers, progress, visit)
            })?;
            Ok(ReadSummary {
                rows,
                hash: hash_file(path)?,
            })
        }
        Format::Xlsx => {
            // `sniff` checked the workbook's sizes (a zip bomb) already.
            let rows = guarded(path, "Excel", || {
                read_xlsx(path, &sniffed.headers, progress, visit)
            })?;
            Ok(ReadSummary {
                rows,
                hash: hash_file(path)?,
            })
        }
    }
}

fn read_csv(
    path: &Path,
    sniffed: &Sniffed,
    delimiter: u8,
    progress: &mut dyn FnMut(u64) -> bool,
    visit: &mut dyn FnMut(&Row<'_>) -> Result<(), ImportError>,
) -> Result<ReadSummary, ImportError> {
    let f = File::open(path).map_err(|e| file_err(path, e))?;
    let mut src = Hashing {
        inner: BufReader::with_capacity(1 << 20, f),
        hasher: Sha256::new(),
        read: 0,
    };
    // Skip a byte-order mark, hashing it too.
    let mut bom = [0u8; 3];
    let mut got = 0;
    while got < 3 {
        let k = src.read(&mut bom[got..]).map_err(|e| file_err(path, e))?;
        if k == 0 {
            break;
        }
        got += k;
    }
    let prefix: &[u8] = if &bom[..got] == b"\xEF\xBB\xBF" {
        &[]
    } else {
        &bom[..got]
    };
    let chained = std::io::Read::chain(prefix, &mut src);
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(chained);
    let mut rec = csv::ByteRecord::new();
    let mut number = 0u64;
    let mut first = true;
    loop {
        let more = rdr.read_byte_record(&mut rec).map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            bad(path, format!("line {line}: {e}"))
        })?;
        if !more {
            break;
        }
        if first {
            first = false;
            continue; // the header
        }
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        if rec.len() == 1 && rec.get(0).is_some_and(|f| f.is_empty()) {
            continue; // a blank line
        }
        number += 1;
        let latin1 = |rec: &csv::ByteRecord| -> Vec<String> {
            rec.iter()
                .map(|f| f.iter().map(|&b| b as char).collect::<String>())
                .collect()
        };
        let owned: Vec<String>;
        let mut problem = None;
        let cells: Vec<Value<'_>> = if sniffed.encoding == Encoding::Latin1 {
            owned = latin1(&rec);
            owned.iter().map(|s| Value::Text(s.as_str())).collect()
        } else if rec.iter().any(|f| std::str::from_utf8(f).is_err()) {
            owned = latin1(&rec);
            problem = Some("not UTF-8 text (save the file as UTF-8)".to_string());
            owned.iter().map(|s| Value::Text(s.as_str())).collect()
        } else {
            rec.iter()
                .map(|f| Value::Text(std::str::from_utf8(f).unwrap_or("")))
                .collect()
        };
        visit(&Row {
            number,
            line,
            cells: &cells,
            problem,
        })?;
        if number.is_multiple_of(4096) && !progress(rdr.position().byte()) {
            return Err(ImportError::Cancelled);
        }
    }
    drop(rdr);
    Ok(ReadSummary {
        rows: number,
        hash: hex(&src.hasher.finalize()),
    })
}

fn read_jsonl(
    path: &Path,
    sniffed: &Sniffed,
    progress: &mut dyn FnMut(u64) -> bool,
    visit: &mut dyn FnMut(&Row<'_>) -> Result<(), ImportError>,
) -> Result<ReadSummary, ImportError> {
    let f = File::open(path).map_err(|e| file_err(path, e))?;
    let mut src = BufReader::with_capacity(
        1 << 20,
        Hashing {
            inner: f,
            hasher: Sha256::new(),
            read: 0,
        },
    );
    let mut buf = Vec::new();
    let mut line = 0u64;
    let mut number = 0u64;
    let mut texts: Vec<String> = vec![String::new(); sniffed.headers.len()];
    loop {
        buf.clear();
        let n = src
            .read_until(b'\n', &mut buf)
            .map_err(|e| file_err(path, e))?;
        if n == 0 {
            break;
        }
        line += 1;
        let body = if line == 1 {
            buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&buf)
        } else {
            &buf[..]
        };
        let text = match sniffed.encoding {
            Encoding::Utf8 => match std::str::from_utf8(body) {
                Ok(t) => std::borrow::Cow::Borrowed(t),
                Err(_) => {
                    number += 1;
                    visit(&Row {
                        number,
                        line,
                        cells: &[],
                        problem: Some("not UTF-8 text (save the file as UTF-8)".into()),
                    })?;
                    continue;
                }
            },
            Encoding::Latin1 => std::borrow::Cow::Owned(body.iter().map(|&b| b as char).collect()),
        };
        if text.trim().is_empty() {
            continue;
        }
        number += 1;
        let obj: serde_json::Map<String, serde_json::Value> = match serde_json::from_str(&text) {
            Ok(serde_json::Value::Object(m)) => m,
            Ok(_) => serde_json::Map::new(),
            Err(e) => {
                // A broken line is a rejected row.
                visit(&Row {
                    number,
                    line,
                    cells: &[],
                    problem: Some(format!("not a JSON object: {e}")),
                })?;
                continue;
            }
        };
        let mut cells = Vec::with_capacity(sniffed.headers.len());
        for (i, h) in sniffed.headers.iter().enumerate() {
            cells.push(match obj.get(h) {
                None | Some(serde_json::Value::Null) => Value::Null,
                Some(serde_json::Value::Bool(b)) => Value::Bool(*b),
                Some(serde_json::Value::Number(n)) => match n.as_i64() {
                    Some(k) => Value::Int(k),
                    None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
                },
                Some(serde_json::Value::String(_)) => Value::Null, // filled below
                Some(other) => {
                    texts[i] = other.to_string();
                    Value::Null
                }
            });
        }
        // Borrow strings after the loop that may have written `texts`.
        let cells: Vec<Value<'_>> = sniffed
            .headers
            .iter()
            .enumerate()
            .map(|(i, h)| match obj.get(h) {
                Some(serde_json::Value::String(s)) => Value::Text(s.as_str()),
                Some(serde_json::Value::Object(_)) | Some(serde_json::Value::Array(_)) => {
                    Value::Text(texts[i].as_str())
                }
                _ => cells[i],
            })
            .collect();
        visit(&Row {
            number,
            line,
            cells: &cells,
            problem: None,
        })?;
        if number.is_multiple_of(4096) && !progress(src.get_ref().read) {
            return Err(ImportError::Cancelled);
        }
    }
    let hash = hex(&src.into_inner().hasher.finalize());
    Ok(ReadSummary { rows: number, hash })
}

fn parquet_headers(path: &Path) -> Result<Vec<String>, ImportError> {
    use polars::prelude::*;
    let f = File::open(path).map_err(|e| file_err(path, e))?;
    let mut r = ParquetReader::new(f);
    let schema = r
        .schema()
        .map_err(|e| bad(path, format!("not a readable Parquet file: {e}")))?;
    Ok(schema.iter_names().map(|n| n.to_string()).collect())
}

fn read_parquet(
    path: &Path,
    headers: &[String],
    progress: &mut dyn FnMut(u64) -> bool,
    visit: &mut dyn FnMut(&Row<'_>) -> Result<(), ImportError>,
) -> Result<u64, ImportError> {
    use polars::prelude::*;
    let total = {
        let f = File::open(path).map_err(|e| file_err(path, e))?;
        ParquetReader::new(f)
            .num_rows()
            .map_err(|e| bad(path, format!("not a readable Parquet file: {e}")))?
    };
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(1);
    let batch = 50_000usize;
    let mut number = 0u64;
    let mut offset = 0usize;
    while offset < total {
        let f = File::open(path).map_err(|e| file_err(path, e))?;
        let df = ParquetReader::new(f)
            .with_slice(Some((offset, batch)))
            .finish()
            .map_err(|e| bad(path, format!("Parquet: {e}")))?;
        let cols: Vec<&Column> = headers
            .iter()
            .map(|h| df.column(h).map_err(|e| bad(path, format!("Parquet: {e}"))))
            .collect::<Result<_, _>>()?;
        let mut strings: Vec<String> = vec![String::new(); cols.len()];
        for i in 0..df.height() {
            number += 1;
            let mut kinds: Vec<Value<'_>> = Vec::with_capacity(cols.len());
            for (c, col) in cols.iter().enumerate() {
                let v = col.get(i).map_err(|e| bad(path, format!("Parquet: {e}")))?;
                kinds.push(match v {
                    AnyValue::Null => Value::Null,
                    AnyValue::Boolean(b) => Value::Bool(b),
                    AnyValue::Int8(x) => Value::Int(x.into()),
                    AnyValue::Int16(x) => Value::Int(x.into()),
                    AnyValue::Int32(x) => Value::Int(x.into()),
                    AnyValue::Int64(x) => Value::Int(x),
                    AnyValue::UInt8(x) => Value::Int(x.into()),
                    AnyValue::UInt16(x) => Value::Int(x.into()),
                    AnyValue::UInt32(x) => Value::Int(x.into()),
                    AnyValue::UInt64(x) => Value::Int(x as i64),
                    AnyValue::Float32(x) => Value::Float(x.into()),
                    AnyValue::Float64(x) => Value::Float(x),
                    other => {
                        strings[c] = match other {
                            AnyValue::String(s) => s.to_string(),
                            AnyValue::StringOwned(s) => s.to_string(),
                            AnyValue::Date(days) => {
                                crate::model::time::ts_to_date(i64::from(days) * 86_400).to_string()
                            }
                            AnyValue::Datetime(v, unit, _) => {
                                let secs = match unit {
                                    TimeUnit::Nanoseconds => v.div_euclid(1_000_000_000),
                                    TimeUnit::Microseconds => v.div_euclid(1_000_000),
                                    TimeUnit::Milliseconds => v.div_euclid(1_000),
                                };
                                crate::model::time::format_ts(secs)
                            }
                            o => o.to_string(),
                        };
                        Value::Null
                    }
                });
            }
            let cells: Vec<Value<'_>> = kinds
                .iter()
                .enumerate()
                .map(|(c, v)| {
                    if *v == Value::Null && !strings[c].is_empty() {
                        Value::Text(strings[c].as_str())
                    } else {
                        *v
                    }
                })
                .collect();
            visit(&Row {
                number,
                line: 0,
                cells: &cells,
                problem: None,
            })?;
            for s in &mut strings {
                s.clear();
            }
        }
        offset += batch;
        if !progress((size as f64 * offset.min(total) as f64 / total.max(1) as f64) as u64) {
            return Err(ImportError::Cancelled);
        }
    }
    Ok(number)
}

fn xlsx_headers(path: &Path, sheet: Option<&str>) -> Result<Vec<String>, ImportError> {
    let range = xlsx_range(path, sheet)?;
    let Some(first) = range.rows().next() else {
        return Err(bad(path, "the first sheet is empty"));
    };
    let headers: Vec<String> = first
        .iter()
        .map(|c| c.to_string().trim().to_string())
        .collect();
    check_headers(path, &headers)?;
    Ok(headers)
}

fn xlsx_range(
    path: &Path,
    sheet: Option<&str>,
) -> Result<calamine::Range<calamine::Data>, ImportError> {
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook(path)
        .map_err(|e| bad(path, format!("not a readable .xlsx workbook: {e}")))?;
    let name = match sheet {
        Some(s) => s.to_string(),
        None => wb
            .sheet_names()
            .first()
            .cloned()
            .ok_or_else(|| bad(path, "the workbook has no sheets"))?,
    };
    wb.worksheet_range(&name)
        .map_err(|e| bad(path, format!("sheet {name:?}: {e}")))
}

fn read_xlsx(
    path: &Path,
    headers: &[String],
    progress: &mut dyn FnMut(u64) -> bool,
    visit: &mut dyn FnMut(&Row<'_>) -> Result<(), ImportError>,
) -> Result<u64, ImportError> {
    use calamine::{Data, DataType};
    let range = xlsx_range(path, None)?;
    let mut number = 0u64;
    for (r, row) in range.rows().enumerate().skip(1) {
        number += 1;
        let texts: Vec<String> = row
            .iter()
            .map(|c| match c {
                Data::DateTime(_) => c
                    .as_datetime()
                    .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_default(),
                Data::String(s) => s.clone(),
                Data::DateTimeIso(s) => s.clone(),
                _ => String::new(),
            })
            .collect();
        let cells: Vec<Value<'_>> = row
            .iter()
            .zip(&texts)
            .take(headers.len().max(row.len()))
            .map(|(c, t): (&Data, &String)| match *c {
                Data::Empty | Data::Error(_) => Value::Null,
                Data::Int(n) => Value::Int(n),
                Data::Float(x) => Value::Float(x),
                Data::Bool(b) => Value::Bool(b),
                _ => Value::Text(t.as_str()),
            })
            .collect();
        visit(&Row {
            number,
            line: r as u64 + 1,
            cells: &cells,
            problem: None,
        })?;
        if number.is_multiple_of(4096) && !progress(0) {
            return Err(ImportError::Cancelled);
        }
    }
    Ok(number)
}
