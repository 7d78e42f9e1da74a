//! The fonts previews are drawn with: the Liberation families bundled in
//! `assets/fonts/` (metric-compatible with Arial / Helvetica, Times New
//! Roman and Courier New), and nothing from the system, so a preview is
//! the same image on every machine. The names email CSS asks for most are
//! aliases of them, as fontconfig makes them on Linux.

use std::sync::{Arc, LazyLock, Mutex};

use blitz_dom::FontContext;
use parley::fontique::{
    Blob, Collection, CollectionOptions, FamilyId, FontInfoOverride, GenericFamily, SourceCache,
};

const SANS: [&[u8]; 4] = [
    include_bytes!("../../assets/fonts/LiberationSans-Regular.ttf"),
    include_bytes!("../../assets/fonts/LiberationSans-Bold.ttf"),
    include_bytes!("../../assets/fonts/LiberationSans-Italic.ttf"),
    include_bytes!("../../assets/fonts/LiberationSans-BoldItalic.ttf"),
];
const SERIF: [&[u8]; 3] = [
    include_bytes!("../../assets/fonts/LiberationSerif-Regular.ttf"),
    include_bytes!("../../assets/fonts/LiberationSerif-Bold.ttf"),
    include_bytes!("../../assets/fonts/LiberationSerif-Italic.ttf"),
];
const MONO: [&[u8]; 1] = [include_bytes!(
    "../../assets/fonts/LiberationMono-Regular.ttf"
)];

/// Family names email CSS uses, drawn with each bundled family.
const SANS_NAMES: [&str; 14] = [
    "Arial",
    "Helvetica",
    "Helvetica Neue",
    "HelveticaNeue",
    "Verdana",
    "Tahoma",
    "Trebuchet MS",
    "Segoe UI",
    "Roboto",
    "Open Sans",
    "Lucida Grande",
    "-apple-system",
    "BlinkMacSystemFont",
    "system-ui",
];
const SERIF_NAMES: [&str; 5] = ["Times New Roman", "Times", "Georgia", "Palatino", "Cambria"];
const MONO_NAMES: [&str; 4] = ["Courier New", "Courier", "Menlo", "Consolas"];

fn register(c: &mut Collection, faces: &[&'static [u8]], aliases: &[&str]) -> Vec<FamilyId> {
    let mut ids = Vec::new();
    for face in faces {
        let blob = Blob::new(Arc::new(*face));
        for (id, _) in c.register_fonts(blob.clone(), None) {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        for alias in aliases {
            c.register_fonts(
                blob.clone(),
                Some(FontInfoOverride {
                    family_name: Some(alias),
                    ..FontInfoOverride::default()
                }),
            );
        }
    }
    ids
}

fn build() -> FontContext {
    let mut collection = Collection::new(CollectionOptions {
        shared: false,
        system_fonts: false,
    });
    collection.register_fonts(Blob::new(Arc::new(blitz_dom::BULLET_FONT)), None);
    let sans = register(&mut collection, &SANS, &SANS_NAMES);
    let serif = register(&mut collection, &SERIF, &SERIF_NAMES);
    let mono = register(&mut collection, &MONO, &MONO_NAMES);
    for g in [
        GenericFamily::SansSerif,
        GenericFamily::SystemUi,
        GenericFamily::UiSansSerif,
        GenericFamily::Cursive,
        GenericFamily::Fantasy,
    ] {
        collection.set_generic_families(g, sans.iter().copied());
    }
    for g in [GenericFamily::Serif, GenericFamily::UiSerif] {
        collection.set_generic_families(g, serif.iter().copied());
    }
    for g in [GenericFamily::Monospace, GenericFamily::UiMonospace] {
        collection.set_generic_families(g, mono.iter().copied());
    }
    FontContext {
        collection,
        source_cache: SourceCache::new_shared(),
    }
}

static TEMPLATE: LazyLock<Mutex<FontContext>> = LazyLock::new(|| Mutex::new(build()));

/// A font context for one document: a clone of one built once, sharing
/// its font data.
pub fn font_context() -> FontContext {
    TEMPLATE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}
