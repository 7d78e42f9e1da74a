//! The preview's HTML engine on real email: public templates against
//! Chromium's screenshots (the fidelity suite), an image of the expected
//! size and colours, the starter templates at both widths and in dark
//! mode, and the proof that painting makes no connection.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use prism::paint::{Image, MOBILE_WIDTH, PaintOptions, html_to_image};

const PUBLIC: &str = "tests/fixtures/email_public";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(PUBLIC)
}

/// The share of 8×8 blocks whose mean colour differs by more than 24 of
/// 255 in any channel, both images put on a white page as wide and as tall
/// as the larger. Text drawn a pixel apart, or antialiased otherwise,
/// moves a block's mean little; a missing box, a wrong colour or a line
/// broken elsewhere moves it a lot.
fn block_difference(a: &Image, b: &Image) -> f64 {
    const BLOCK: u32 = 8;
    let w = a.width.max(b.width);
    let h = a.height.max(b.height);
    let mean = |img: &Image, bx: u32, by: u32| -> [f64; 3] {
        let mut sum = [0f64; 3];
        let mut n = 0f64;
        for y in by * BLOCK..((by + 1) * BLOCK).min(h) {
            for x in bx * BLOCK..((bx + 1) * BLOCK).min(w) {
                let p = if x < img.width && y < img.height {
                    img.pixel(x, y)
                } else {
                    [255, 255, 255, 255]
                };
                for c in 0..3 {
                    sum[c] += f64::from(p[c]);
                }
                n += 1.0;
            }
        }
        sum.map(|s| s / n.max(1.0))
    };
    let (bw, bh) = (w.div_ceil(BLOCK), h.div_ceil(BLOCK));
    let mut differing = 0usize;
    for by in 0..bh {
        for bx in 0..bw {
            let (p, q) = (mean(a, bx, by), mean(b, bx, by));
            if (0..3).any(|c| (p[c] - q[c]).abs() > 24.0) {
                differing += 1;
            }
        }
    }
    100.0 * differing as f64 / (bw * bh).max(1) as f64
}

/// The largest difference allowed per template and width, in percent of
/// blocks (see `thresholds.json` and the fixture README).
fn thresholds() -> BTreeMap<String, f64> {
    let text = std::fs::read_to_string(fixtures().join("thresholds.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn public_templates_look_as_chromium_draws_them() {
    let dir = fixtures();
    let limits = thresholds();
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fidelity");
    std::fs::create_dir_all(&out).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "html").then(|| p.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    names.sort();
    assert!(names.len() >= 8, "only {} public templates", names.len());
    let mut failures = Vec::new();
    for name in &names {
        let html = std::fs::read_to_string(dir.join(format!("{name}.html"))).unwrap();
        for (width, suffix) in [(700, ""), (MOBILE_WIDTH, ".375")] {
            let key = format!("{name}{suffix}");
            let reference = Image::read_png(&dir.join(format!("reference/{key}.png"))).unwrap();
            let painted = html_to_image(
                &html,
                &PaintOptions {
                    width,
                    base_dir: Some(dir.clone()),
                    ..PaintOptions::default()
                },
            )
            .unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_eq!(painted.image.width, width, "{key}");
            painted
                .image
                .write_png(&out.join(format!("{key}.png")))
                .unwrap();
            let diff = block_difference(&painted.image, &reference);
            let limit = *limits
                .get(&key)
                .unwrap_or_else(|| panic!("{key} has no threshold in thresholds.json"));
            println!(
                "fidelity {key} = {diff:.1} % (limit {limit} %, height {} vs {})",
                painted.image.height, reference.height
            );
            if diff > limit {
                failures.push(format!("{key}: {diff:.1} % > {limit} %"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "images differ from Chromium's beyond their limits (Prism's images in {}):\n{}",
        out.display(),
        failures.join("\n")
    );
}

#[test]
fn a_fixture_paints_at_its_size_and_colours() {
    let html = r##"<!DOCTYPE html><html><body style="margin:0;background:#ffffff">
<div style="height:100px;background-color:#ff0000"></div>
<table width="700" cellpadding="0" cellspacing="0" border="0"><tr>
<td width="350" height="50" bgcolor="#0000ff"></td><td width="350" height="50" bgcolor="00ff00"></td>
</tr></table>
<table align="center" width="200" cellpadding="0" cellspacing="0"><tr><td height="40" bgcolor="black"></td></tr></table>
<div style="height:60px"></div>
</body></html>"##;
    let p = html_to_image(html, &PaintOptions::default()).unwrap();
    assert_eq!((p.image.width, p.image.height), (700, 250));
    assert_eq!(p.css_height, 250);
    assert_eq!(&p.image.pixel(10, 10)[..3], &[255, 0, 0]);
    assert_eq!(&p.image.pixel(100, 125)[..3], &[0, 0, 255]);
    // `bgcolor` without `#` and named colours are read as browsers do.
    assert_eq!(&p.image.pixel(600, 125)[..3], &[0, 255, 0]);
    // align="center" centres the table: black in the middle, white beside.
    assert_eq!(&p.image.pixel(350, 170)[..3], &[0, 0, 0]);
    assert_eq!(&p.image.pixel(100, 170)[..3], &[255, 255, 255]);
    assert_eq!(&p.image.pixel(350, 240)[..3], &[255, 255, 255]);

    // Twice the scale: twice the pixels, the same layout.
    let p2 = html_to_image(
        html,
        &PaintOptions {
            scale: 2.0,
            ..PaintOptions::default()
        },
    )
    .unwrap();
    assert_eq!((p2.image.width, p2.image.height), (1400, 500));
    assert_eq!(&p2.image.pixel(700, 340)[..3], &[0, 0, 0]);
}

#[test]
fn painting_makes_no_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let at = format!("http://{}", listener.local_addr().unwrap());
    let html = format!(
        r#"<!DOCTYPE html><html><head>
<link rel="stylesheet" href="{at}/style.css">
<style>@import url("{at}/import.css"); @font-face {{ font-family: Remote; src: url("{at}/font.woff2"); }}
.hero {{ background-image: url("{at}/hero.jpg"); height: 80px; }}</style>
</head><body style="margin:0" background="{at}/body-bg.gif">
<div class="hero" style="font-family:Remote"></div>
<table><tr><td background="{at}/cell.png" style="background:url('{at}/cell2.png')">x</td></tr></table>
<img src="{at}/product.jpg" width="300" height="200" alt="Linen shirt">
<img src="{at}/open.gif?c=42" width="1" height="1" alt="">
<img srcset="{at}/a.jpg 1x, {at}/b.jpg 2x" src="//127.0.0.1/c.jpg" width="20" height="20">
<video poster="{at}/poster.jpg"></video><iframe src="{at}/frame.html"></iframe>
<svg><image href="{at}/svg.png" width="10" height="10"/></svg>
</body></html>"#
    );
    let p = html_to_image(&html, &PaintOptions::default()).unwrap();
    // Nothing reached the listener.
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        Ok((_, peer)) => panic!("painting connected from {peer}"),
        Err(e) => panic!("{e}"),
    }
    // The images are said to be blocked, and each keeps its box: the
    // product photo is a 300×200 box, not white.
    assert!(p.blocked.iter().any(|u| u.ends_with("/product.jpg")));
    assert!(p.blocked.iter().any(|u| u.contains("open.gif")));
    let bottom = p.image.height;
    let boxed = (0..bottom).any(|y| p.image.pixel(150, y)[..3] == [0xee, 0xea, 0xe4]);
    assert!(boxed, "the blocked image left no box");
}

#[test]
fn local_images_show_and_cid_images_resolve_in_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let red = Image {
        width: 40,
        height: 30,
        rgba: [200u8, 30, 30, 255].repeat(40 * 30),
    };
    red.write_png(&dir.path().join("logo.png")).unwrap();
    // A 1×1 green PNG as a data: URL.
    let mut png = Vec::new();
    Image {
        width: 1,
        height: 1,
        rgba: vec![0, 160, 0, 255],
    }
    .encode_png(&mut png)
    .unwrap();
    let b64 = base64(&png);
    let html = format!(
        r#"<body style="margin:0"><img src="logo.png" width="40" height="30" style="display:block"><img src="cid:logo.png" width="40" height="30" style="display:block"><img src="data:image/png;base64,{b64}" width="40" height="30" style="display:block"><img src="../outside.png" width="40" height="30" style="display:block"></body>"#
    );
    std::fs::write(dir.path().parent().unwrap().join("outside.png"), b"x").ok();
    let p = html_to_image(
        &html,
        &PaintOptions {
            base_dir: Some(dir.path().to_path_buf()),
            ..PaintOptions::default()
        },
    )
    .unwrap();
    assert_eq!(&p.image.pixel(20, 15)[..3], &[200, 30, 30]);
    assert_eq!(&p.image.pixel(20, 45)[..3], &[200, 30, 30]);
    assert_eq!(&p.image.pixel(20, 75)[..3], &[0, 160, 0]);
    // A file outside the email's folder is not read.
    assert_ne!(&p.image.pixel(20, 105)[..3], &[200, 30, 30]);
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= c.len() {
                out.push(T[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn pathological_html_is_cut_off_not_hung() {
    let cells = "<tr><td>cell</td></tr>".repeat(10_000);
    let html = format!("<table>{cells}</table>");
    let p = html_to_image(&html, &PaintOptions::default()).unwrap();
    assert!(p.cut.is_some());
    let deep = format!("{}x{}", "<div>".repeat(5_000), "</div>".repeat(5_000));
    let p = html_to_image(&deep, &PaintOptions::default()).unwrap();
    assert!(p.cut.as_deref().unwrap().contains("nested"));
    // Broken markup is painted as a browser would, never a panic.
    for html in [
        "<",
        "<table><tr><td",
        "</p></div>",
        "<img src=\"http://exa mple.com/x.png\">",
        "<a href=\"http://[::1\">x</a>",
    ] {
        html_to_image(html, &PaintOptions::default()).unwrap();
    }
}

#[test]
fn starters_paint_at_both_widths_in_both_schemes_and_snapshot_writes_that_image() {
    use prism::app::preview::{Preview, first_member};
    use prism::email::Mail;
    use prism::engine::Engine;
    use prism::progress::NoProgress;
    use prism::store::Store;
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.prism");
    let as_of = prism::model::time::parse_instant(crate::common::AS_OF).unwrap();
    prism::sample::generate_workspace(
        &prism::sample::SampleOptions {
            as_of,
            ..prism::sample::SampleOptions::new(600)
        },
        &path,
        false,
        &NoProgress,
    )
    .unwrap();
    let store = Store::open_read_only(&path).unwrap();
    let engine = Arc::new(Engine::load(&store, &NoProgress).unwrap());
    let preview = Preview::new(Mail::load(&store, engine, as_of).unwrap());
    let vip = preview.mail.segment("VIP").unwrap().id;
    let row = first_member(&preview.members(Some(vip))).unwrap();
    assert_eq!(preview.mail.templates.len(), 5);
    for t in preview.mail.templates.clone() {
        let r = preview.renderer(&t).unwrap();
        let view = |width, dark| {
            preview
                .column(
                    &r,
                    Some(vip),
                    None,
                    row,
                    &PaintOptions {
                        width,
                        dark,
                        ..PaintOptions::default()
                    },
                    &NoProgress,
                )
                .unwrap()
                .painted
                .unwrap()
        };
        let light = view(700, false);
        assert_eq!(light.image.width, 700, "{}", t.name);
        assert!(light.css_height > 500, "{}: {}", t.name, light.css_height);
        // The page around the card: the starters' light and dark colours.
        assert_eq!(
            &light.image.pixel(4, 4)[..3],
            &[0xf4, 0xf1, 0xec],
            "{}",
            t.name
        );
        let dark = view(700, true);
        assert_eq!(
            &dark.image.pixel(4, 4)[..3],
            &[0x1b, 0x1a, 0x18],
            "{}",
            t.name
        );
        let mobile = view(MOBILE_WIDTH, false);
        assert_eq!(mobile.image.width, MOBILE_WIDTH, "{}", t.name);
        // The card fills a phone's width: no white beyond the page colour
        // at the card's edge on a phone, but there is on a desktop.
        assert!(mobile.css_height > light.css_height, "{}", t.name);
    }

    // `prism snapshot` writes exactly the image the screen shows.
    let out = dir.path().join("vip.png");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_prism"))
        .args([
            "snapshot",
            path.to_str().unwrap(),
            "--mapped",
            "--segment",
            "VIP",
        ])
        .args([
            "--as-of",
            crate::common::AS_OF,
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let written = Image::read_png(&out).unwrap();
    let (t, variant) = preview
        .template_for(
            &prism::app::preview::Choice::Mapped { variant: None },
            Some(vip),
            row,
        )
        .unwrap();
    let r = preview.renderer(t).unwrap();
    let shown = preview
        .column(
            &r,
            Some(vip),
            variant,
            row,
            &PaintOptions::default(),
            &NoProgress,
        )
        .unwrap()
        .painted
        .unwrap();
    assert_eq!(written, shown.image);

    // Bad input: a clear message, exit code 2, nothing written.
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_prism"))
        .args([
            "snapshot",
            path.to_str().unwrap(),
            "--template",
            "Nope",
            "--segment",
            "VIP",
        ])
        .args(["--out", dir.path().join("x.png").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no template named \"Nope\""));
    assert!(!dir.path().join("x.png").exists());
}
