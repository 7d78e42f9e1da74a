//! HTML to image, headless and offline: an email's HTML laid out and
//! painted on the CPU by an embedded HTML/CSS engine (Blitz: Servo's style
//! engine, taffy layout, parley text, vello_cpu raster). The rest of Prism
//! sees one function, [`html_to_image`], so the engine can be swapped.
//!
//! - No network, ever: the engine's only resource provider ([`net`])
//!   serves `data:` URLs and files in the email's own folder; a remote
//!   image becomes a box of its size with its alt text ([`prepare`]), as a
//!   mail program shows a blocked image, and tracking pixels are never
//!   requested.
//! - Fonts are bundled ([`fonts`]), so an image is the same on every
//!   machine.
//! - An email too large to lay out in reasonable time is cut off with a
//!   note; a panic inside the engine is an error naming it.
//! - Documents are built, laid out and painted on the calling thread (a
//!   worker: never the UI thread); [`PaintCache`] keeps recent images.

pub mod fonts;
pub mod net;
pub mod prepare;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

use anyrender::ImageRenderer as _;
use anyrender::PaintScene as _;
use anyrender_vello_cpu::VelloCpuImageRenderer;
use blitz_dom::{BaseDocument, DocumentConfig, StyleThreading, UserAgentStylesheet};
use blitz_html::DocumentHtmlParser;
use blitz_traits::shell::{ColorScheme, Viewport};
use html5ever::ParseOpts;
use html5ever::tendril::TendrilSink as _;
use html5ever::tokenizer::TokenizerOpts;
use html5ever::tree_builder::{QuirksMode, TreeBuilderOpts};
use peniko::kurbo::{Affine, Rect};
use peniko::{Color, Fill};

/// Widths previews are laid out at (CSS pixels).
pub const DESKTOP_WIDTH: u32 = 700;
pub const MOBILE_WIDTH: u32 = 375;
/// The tallest image painted, in CSS pixels; longer emails are cut off.
pub const MAX_HEIGHT: u32 = 16_000;
/// The rasteriser's limit on either side, in device pixels.
const MAX_SIDE: u32 = u16::MAX as u32;

#[derive(Clone, Debug, PartialEq)]
pub struct PaintOptions {
    /// Layout width in CSS pixels.
    pub width: u32,
    /// `prefers-color-scheme: dark`.
    pub dark: bool,
    /// Device pixels per CSS pixel.
    pub scale: f32,
    /// The folder relative and `cid:` references resolve in; `None`: no
    /// files at all.
    pub base_dir: Option<PathBuf>,
}

impl Default for PaintOptions {
    fn default() -> Self {
        PaintOptions {
            width: DESKTOP_WIDTH,
            dark: false,
            scale: 1.0,
            base_dir: None,
        }
    }
}

/// An image: `width × height` pixels, RGBA, 8 bits each, opaque.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

impl Image {
    /// The pixel at (x, y) as RGBA.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        let k = ((y.min(self.height.saturating_sub(1)) * self.width
            + x.min(self.width.saturating_sub(1))) as usize)
            * 4;
        [
            self.rgba[k],
            self.rgba[k + 1],
            self.rgba[k + 2],
            self.rgba[k + 3],
        ]
    }

    /// Writes the image as a PNG file.
    pub fn write_png(&self, path: &std::path::Path) -> Result<(), PaintError> {
        let file = std::fs::File::create(path)
            .map_err(|e| PaintError::Write(format!("{}: {e}", path.display())))?;
        self.encode_png(std::io::BufWriter::new(file))
            .map_err(|e| PaintError::Write(format!("{}: {e}", path.display())))
    }

    pub fn encode_png(&self, w: impl std::io::Write) -> Result<(), String> {
        let mut enc = png::Encoder::new(w, self.width, self.height);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(|e| e.to_string())?;
        writer
            .write_image_data(&self.rgba)
            .map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())
    }

    /// Reads a PNG file (8-bit RGB or RGBA) as an image.
    pub fn read_png(path: &std::path::Path) -> Result<Image, PaintError> {
        let fail = |e: String| PaintError::Read(format!("{}: {e}", path.display()));
        let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
        let mut dec = png::Decoder::new(std::io::BufReader::new(file));
        dec.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = dec.read_info().map_err(|e| fail(e.to_string()))?;
        let size = reader
            .output_buffer_size()
            .ok_or_else(|| fail("image too large".into()))?;
        let mut buf = vec![0; size];
        let info = reader
            .next_frame(&mut buf)
            .map_err(|e| fail(e.to_string()))?;
        buf.truncate(info.buffer_size());
        let rgba = match info.color_type {
            png::ColorType::Rgba => buf,
            png::ColorType::Rgb => buf
                .chunks_exact(3)
                .flat_map(|p| [p[0], p[1], p[2], 255])
                .collect(),
            png::ColorType::Grayscale => buf.iter().flat_map(|&g| [g, g, g, 255]).collect(),
            png::ColorType::GrayscaleAlpha => buf
                .chunks_exact(2)
                .flat_map(|p| [p[0], p[0], p[0], p[1]])
                .collect(),
            other => return Err(fail(format!("unsupported PNG colour type {other:?}"))),
        };
        Ok(Image {
            width: info.width,
            height: info.height,
            rgba,
        })
    }
}

/// A painted email and what the preview should say about it.
#[derive(Clone, Debug)]
pub struct Painted {
    pub image: Image,
    /// The layout width and full height in CSS pixels.
    pub css_width: u32,
    pub css_height: u32,
    /// Images and style sheets not loaded because they would need the
    /// network.
    pub blocked: Vec<String>,
    /// Set when the email was cut off: why and where.
    pub cut: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PaintError {
    #[error("the HTML engine failed on this email: {0}")]
    Engine(String),
    #[error("could not write the image {0}")]
    Write(String),
    #[error("could not read the image {0}")]
    Read(String),
    #[error("cancelled")]
    Cancelled,
}

/// Fixes, in the user agent's style sheet, for HTML attributes email
/// still uses that the engine does not map to CSS. Parsed once.
static EMAIL_UA: LazyLock<UserAgentStylesheet> = LazyLock::new(|| {
    let mut css = String::from(
        r#"
table[align="center" i] { margin-left: auto; margin-right: auto; }
img[align="left" i] { float: left; }
img[align="right" i] { float: right; }
:is(td, th, tr, tbody, thead, tfoot)[valign="top" i] { vertical-align: top; }
:is(td, th, tr, tbody, thead, tfoot)[valign="middle" i] { vertical-align: middle; }
:is(td, th, tr, tbody, thead, tfoot)[valign="bottom" i] { vertical-align: bottom; }
table[border]:not([border="0"]) { border: 1px outset gray; }
table[border]:not([border="0"]) > * > tr > :is(td, th) { border: 1px inset gray; }
"#,
    );
    for n in 0..=40 {
        css.push_str(&format!(
            "table[cellspacing=\"{n}\"] {{ border-spacing: {n}px; }}\n\
             table[cellpadding=\"{n}\"] > * > tr > :is(td, th) {{ padding: {n}px; }}\n"
        ));
    }
    UserAgentStylesheet::parse(&css)
});

/// A table centred with `align="center"` centres itself, not its cells'
/// text (an author-level rule, so the cells' own alignment wins).
const AUTHOR_FIXES: &str =
    "<style>:where(table[align=\"center\" i]) { text-align: inherit; }</style>";

/// Lays out and paints `html` as a mail program would show it at
/// `opts.width` CSS pixels, the full height of the email.
pub fn html_to_image(html: &str, opts: &PaintOptions) -> Result<Painted, PaintError> {
    html_to_image_unless(html, opts, &|| false)
}

/// As [`html_to_image`], giving up between the engine's phases as soon as
/// `cancelled` says so (the member shown has changed).
pub fn html_to_image_unless(
    html: &str,
    opts: &PaintOptions,
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<Painted, PaintError> {
    let prepared = prepare::prepare(html);
    let refused = Arc::new(Mutex::new(Vec::new()));
    let provider_refused = refused.clone();
    let opts = opts.clone();
    let body = format!("{AUTHOR_FIXES}{}", prepared.html);
    let painted = catch_unwind(AssertUnwindSafe(move || {
        paint(&body, &opts, provider_refused, cancelled)
    }))
    .map_err(|p| {
        let message = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic".into());
        PaintError::Engine(message)
    })?
    .ok_or(PaintError::Cancelled)?;
    let (image, css_width, css_height, tall) = painted;
    let mut blocked = prepared.blocked;
    for r in refused
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .drain(..)
    {
        // The wrapper style sheet's own base URL is not a resource.
        if !blocked.contains(&r) {
            blocked.push(r);
        }
    }
    let cut = prepared.cut.or(tall
        .then(|| format!("cut off at {MAX_HEIGHT} pixels: the email is {css_height} pixels tall")));
    Ok(Painted {
        image,
        css_width,
        css_height,
        blocked,
        cut,
    })
}

/// The engine's part: parse, style, lay out, paint. Returns the image, the
/// CSS width and full height, and whether the height was cut; `None` when
/// cancelled.
fn paint(
    html: &str,
    opts: &PaintOptions,
    refused: Arc<Mutex<Vec<String>>>,
    cancelled: &dyn Fn() -> bool,
) -> Option<(Image, u32, u32, bool)> {
    let scale = if opts.scale.is_finite() && opts.scale > 0.0 {
        opts.scale.min(4.0)
    } else {
        1.0
    };
    let width = opts.width.clamp(100, 4000);
    let phys_w = ((width as f32 * scale).round() as u32).clamp(1, MAX_SIDE);
    // The viewport's height only matters to `vh` units and fixed
    // positions; the image is as tall as the content.
    let phys_vh = ((800.0 * scale).round() as u32).max(1);
    let scheme = if opts.dark {
        ColorScheme::Dark
    } else {
        ColorScheme::Light
    };
    let base_url = opts
        .base_dir
        .as_ref()
        .and_then(|d| d.canonicalize().ok())
        .and_then(|d| url::Url::from_directory_path(d).ok())
        .map_or_else(|| "prism-email:///".to_string(), |u| u.to_string());
    let config = DocumentConfig {
        base_url: Some(base_url),
        net_provider: Some(Arc::new(net::LocalOnly {
            dir: opts.base_dir.clone(),
            refused,
        })),
        viewport: Some(Viewport::new(phys_w, phys_vh, scale, scheme)),
        font_ctx: Some(fonts::font_context()),
        ua_stylesheets: vec![UserAgentStylesheet::default_sheet(), EMAIL_UA.clone()],
        style_threading: StyleThreading::Sequential,
        ..DocumentConfig::default()
    };
    let mut doc = BaseDocument::new(config);
    {
        // Always HTML: email with an XHTML doctype is not well-formed XML.
        let mut mutator = doc.mutate();
        let sink = DocumentHtmlParser::new(&mut mutator);
        let opts = ParseOpts {
            tokenizer: TokenizerOpts::default(),
            tree_builder: TreeBuilderOpts {
                scripting_enabled: false,
                drop_doctype: true,
                quirks_mode: QuirksMode::NoQuirks,
                ..TreeBuilderOpts::default()
            },
        };
        // Reading from a byte slice cannot fail.
        let _ = html5ever::parse_document(sink, opts)
            .from_utf8()
            .read_from(&mut html.as_bytes());
    }
    if cancelled() {
        return None;
    }
    // Resources (images, background images) arrive in the first pass and
    // are applied in the second; cells made block boxes are wrapped in
    // between (they need computed styles).
    doc.resolve(0.0);
    if anonymous_cells(&mut doc) > 0 {
        // The tables around them are built anew.
        doc.set_incremental_layout(false);
        doc.resolve(0.0);
        doc.set_incremental_layout(true);
    }
    doc.resolve(0.0);
    if cancelled() {
        return None;
    }
    let root = doc.root_element();
    let full = root.final_layout().size.height.max(root.scroll_height());
    let full = if full.is_finite() { full.max(1.0) } else { 1.0 };
    let css_height = full.ceil() as u32;
    let shown = css_height.min(MAX_HEIGHT);
    let phys_h = ((shown as f32 * scale).ceil() as u32).clamp(1, MAX_SIDE);
    let mut renderer = VelloCpuImageRenderer::new(phys_w, phys_h);
    let mut rgba = Vec::new();
    renderer.render_to_vec(
        |scene| {
            scene.fill(
                Fill::NonZero,
                Affine::IDENTITY,
                Color::WHITE,
                None,
                &Rect::new(0.0, 0.0, phys_w as f64, phys_h as f64),
            );
            blitz_paint::paint_scene(scene, &mut doc, scale as f64, phys_w, phys_h, 0, 0);
        },
        &mut rgba,
    );
    Some((
        Image {
            width: phys_w,
            height: phys_h,
            rgba,
        },
        width,
        css_height,
        css_height > MAX_HEIGHT,
    ))
}

/// Wraps the children of a table row that are not table cells (a `<td>`
/// made `display:block`, the way responsive email stacks its columns on
/// phones) in an anonymous cell, as CSS tables do: the engine would drop
/// them otherwise. Returns how many cells it made.
fn anonymous_cells(doc: &mut BaseDocument) -> usize {
    use style::values::specified::box_::{DisplayInside, DisplayOutside};
    let display = |node: &blitz_dom::Node| node.primary_styles().map(|s| s.clone_display());
    let mut runs: Vec<Vec<blitz_dom::NodeId>> = Vec::new();
    let mut stack = vec![doc.root_node().id];
    while let Some(id) = stack.pop() {
        let Some(node) = doc.get_node(id) else {
            continue;
        };
        stack.extend(node.children.iter().copied());
        if display(node).is_none_or(|d| d.inside() != DisplayInside::TableRow) {
            continue;
        }
        let mut run: Vec<blitz_dom::NodeId> = Vec::new();
        for &child in &node.children {
            let Some(c) = doc.get_node(child) else {
                continue;
            };
            let d = if c.is_element() { display(c) } else { None };
            match d {
                Some(d) if d.inside() == DisplayInside::TableCell => {
                    runs.extend((!run.is_empty()).then(|| std::mem::take(&mut run)));
                }
                Some(d) if d.outside() != DisplayOutside::None => run.push(child),
                // Text and hidden elements go with the run they stand in.
                _ if !run.is_empty() => run.push(child),
                _ => {}
            }
        }
        if !run.is_empty() {
            runs.push(run);
        }
    }
    if runs.is_empty() {
        return 0;
    }
    let mut m = doc.mutate();
    let name = |n: &str| {
        blitz_dom::QualName::new(None, blitz_dom::ns!(html), blitz_dom::LocalName::from(n))
    };
    for run in &runs {
        let cell = m.create_element(
            name("prism-cell"),
            vec![blitz_dom::Attribute {
                name: name("style"),
                value: "display:table-cell;padding:0;border:0;margin:0".into(),
            }],
        );
        m.insert_nodes_before(run[0], &[cell]);
        m.append_children(cell, run);
    }
    drop(m);
    runs.len()
}

/// What a painted image is cached by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey {
    html: u64,
    len: usize,
    width: u32,
    dark: bool,
    scale: u32,
    base_dir: Option<PathBuf>,
}

impl CacheKey {
    pub fn new(html: &str, opts: &PaintOptions) -> CacheKey {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        html.hash(&mut h);
        CacheKey {
            html: h.finish(),
            len: html.len(),
            width: opts.width,
            dark: opts.dark,
            scale: opts.scale.to_bits(),
            base_dir: opts.base_dir.clone(),
        }
    }
}

/// Recently painted images by (HTML, width, colour scheme, scale), up to a
/// memory budget; the least recently used go first. Shared by threads.
pub struct PaintCache {
    inner: Mutex<CacheInner>,
    budget: usize,
}

#[derive(Default)]
struct CacheInner {
    entries: HashMap<CacheKey, (Arc<Painted>, u64)>,
    clock: u64,
    bytes: usize,
}

impl PaintCache {
    pub fn new(budget_bytes: usize) -> PaintCache {
        PaintCache {
            inner: Mutex::new(CacheInner::default()),
            budget: budget_bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn get(&self, key: &CacheKey) -> Option<Arc<Painted>> {
        let mut g = self.lock();
        g.clock += 1;
        let now = g.clock;
        g.entries.get_mut(key).map(|(p, used)| {
            *used = now;
            p.clone()
        })
    }

    pub fn insert(&self, key: CacheKey, painted: Arc<Painted>) {
        let size = painted.image.rgba.len();
        if size > self.budget {
            return;
        }
        let mut g = self.lock();
        g.clock += 1;
        let now = g.clock;
        if let Some((old, _)) = g.entries.insert(key, (painted, now)) {
            g.bytes -= old.image.rgba.len();
        }
        g.bytes += size;
        while g.bytes > self.budget {
            let Some(oldest) = g
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some((p, _)) = g.entries.remove(&oldest) {
                g.bytes -= p.image.rgba.len();
            }
        }
    }

    /// Paints through the cache (giving up when `cancelled` says so).
    pub fn paint(
        &self,
        html: &str,
        opts: &PaintOptions,
        cancelled: &(dyn Fn() -> bool + Sync),
    ) -> Result<Arc<Painted>, PaintError> {
        let key = CacheKey::new(html, opts);
        if let Some(p) = self.get(&key) {
            return Ok(p);
        }
        let painted = Arc::new(html_to_image_unless(html, opts, cancelled)?);
        self.insert(key, painted.clone());
        Ok(painted)
    }

    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
