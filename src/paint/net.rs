//! The engine's only source of resources: `data:` URLs, and files under
//! the email's own folder (`file:`, relative paths, `cid:NAME` as the file
//! NAME there). Everything else is refused without a connection being
//! made, and remembered so the preview can say what was not loaded.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use blitz_traits::net::{Bytes, NetHandler, NetProvider, Request};

/// Files larger than this are not read as images or style sheets.
const MAX_FILE: u64 = 20 * 1024 * 1024;

pub struct LocalOnly {
    /// The folder local references resolve in (none: no files at all).
    pub dir: Option<PathBuf>,
    pub refused: Arc<Mutex<Vec<String>>>,
}

impl LocalOnly {
    fn file(&self, url: &blitz_traits::net::Url) -> Option<Vec<u8>> {
        let dir = self.dir.as_ref()?.canonicalize().ok()?;
        let path = match url.scheme() {
            "file" => url.to_file_path().ok()?,
            "cid" => dir.join(percent_decode(url.path())),
            _ => return None,
        };
        // Only inside the email's folder: a template cannot read the disk.
        let path = path.canonicalize().ok()?;
        if !path.starts_with(&dir) {
            return None;
        }
        let meta = std::fs::metadata(&path).ok()?;
        if !meta.is_file() || meta.len() > MAX_FILE {
            return None;
        }
        std::fs::read(path).ok()
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl NetProvider for LocalOnly {
    fn fetch(&self, _doc_id: usize, request: Request, handler: Box<dyn NetHandler>) {
        let url = &request.url;
        let body = match url.scheme() {
            "data" => data_url::DataUrl::process(url.as_str())
                .ok()
                .and_then(|d| d.decode_to_vec().ok())
                .map(|(bytes, _)| bytes),
            "file" | "cid" => self.file(url),
            _ => None,
        };
        match body {
            // The request's own URL: the document waits on it by that name.
            Some(body) => handler.bytes(url.to_string(), Bytes::from(body)),
            None => self
                .refused
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(url.to_string()),
        }
    }

    /// Style sheets that never arrive must not hold up layout.
    fn is_noop(&self) -> bool {
        true
    }
}
