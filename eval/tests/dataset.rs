//! Manifest rows that cannot be used are skipped and reported with line numbers;
//! folder layouts load, binary ones in the real/fake view.

mod common;

use common::write_sample;
use image::{GrayImage, Rgb, RgbImage};
use trutheye_core::VerdictLabel;
use trutheye_eval::Dataset;

#[test]
fn bad_rows_are_counted_with_line_numbers() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    let good = write_sample(d, "a", "authentic");
    let tampered = write_sample(d, "t", "tampered");
    GrayImage::new(5, 5).save(d.join("masks/small.png")).expect("save");
    let lines = [
        good.clone(),                                                                                        // 1 ok
        r#"{"id":"gone","image":"images/gone.png","label":"authentic","mask":null,"bbox":null}"#.into(),     // 2 missing file
        r#"{"id":"w","image":"images/a.png","label":"weird","mask":null,"bbox":null}"#.into(),               // 3 unknown label
        r#"{"id":"m","image":"images/a.png","label":"tampered","mask":"masks/small.png","bbox":null}"#.into(), // 4 mask 5x5 vs 16x12
        "{not json".into(),                                                                                  // 5
        String::new(),                                                                                       // 6 blank: ignored
        good,                                                                                                // 7 duplicate id
        tampered,                                                                                            // 8 ok
        r#"{"id":"b","image":"images/a.png","label":"tampered","mask":null,"bbox":[0,0,99,5]}"#.into(),      // 9 bbox outside
    ];
    std::fs::write(d.join("manifest.jsonl"), lines.join("\n")).expect("write");
    let ds = Dataset::load(d).expect("loads");
    assert_eq!(ds.samples.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["a", "t"]);
    let at: Vec<&str> = ds.bad_rows.iter().map(|b| b.location.as_str()).collect();
    assert_eq!(at, ["line 2", "line 3", "line 4", "line 5", "line 7", "line 9"]);
    assert!(ds.bad_rows[0].reason.contains("not found"), "{:?}", ds.bad_rows[0]);
    assert!(ds.bad_rows[1].reason.contains("unknown label `weird`"));
    assert!(ds.bad_rows[2].reason.contains("5x5") && ds.bad_rows[2].reason.contains("16x12"));
    assert!(ds.bad_rows[4].reason.contains("duplicate"));
    assert!(ds.bad_rows.iter().all(|b| !b.reason.contains('\n')));
    assert_eq!(ds.samples[1].bbox, Some([4, 2, 8, 6]));
    assert_eq!(ds.samples[0].extra.get("method").and_then(|v| v.as_str()), Some("m1"));
    assert!(!ds.is_binary());
}

#[test]
fn folder_layouts_load_and_binary_sets_are_binary() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    for (dir, n) in [("0_real", 2), ("1_fake", 3), ("notes", 1)] {
        std::fs::create_dir_all(d.join(dir)).expect("mkdir");
        for i in 0..n {
            RgbImage::from_pixel(8, 8, Rgb([1, 2, 3])).save(d.join(format!("{dir}/{i}.png"))).expect("save");
        }
    }
    let ds = Dataset::load(d).expect("loads");
    assert_eq!(ds.kind, "folders");
    assert_eq!(ds.samples.len(), 5);
    assert!(ds.is_binary());
    assert_eq!(ds.samples.iter().filter(|s| s.label == VerdictLabel::Fake).count(), 3);
    assert!(Dataset::load(&d.join("nope")).unwrap_err().to_string().contains("no such"));
}

#[test]
fn casia_and_genimage_layouts_load() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let casia = tmp.path().join("casia");
    for dir in ["Au", "Tp", "Gt"] {
        std::fs::create_dir_all(casia.join(dir)).expect("mkdir");
    }
    RgbImage::from_pixel(8, 6, Rgb([9, 9, 9])).save(casia.join("Au/Au_ani_0001.jpg")).expect("save");
    RgbImage::from_pixel(8, 6, Rgb([9, 9, 9])).save(casia.join("Tp/Tp_D_001.jpg")).expect("save");
    RgbImage::from_pixel(8, 6, Rgb([9, 9, 9])).save(casia.join("Tp/Tp_S_002.png")).expect("save");
    GrayImage::from_pixel(8, 6, image::Luma([255])).save(casia.join("Gt/Tp_D_001_gt.png")).expect("save");
    GrayImage::new(4, 4).save(casia.join("Gt/Tp_S_002_gt.png")).expect("save");
    let ds = Dataset::load(&casia).expect("casia loads");
    assert!(!ds.is_binary());
    let labels: Vec<(&str, VerdictLabel)> = ds.samples.iter().map(|s| (s.id.as_str(), s.label)).collect();
    assert_eq!(labels, [("au/Au_ani_0001", VerdictLabel::Authentic), ("tp/Tp_D_001", VerdictLabel::Tampered)]);
    assert!(ds.samples[1].mask.as_ref().is_some_and(|m| m.ends_with("Gt/Tp_D_001_gt.png")));
    assert_eq!(ds.bad_rows.len(), 1, "the 4x4 mask of an 8x6 image is a bad row");
    assert!(ds.bad_rows[0].reason.contains("4x4"), "{:?}", ds.bad_rows[0]);

    let genimage = tmp.path().join("val");
    for dir in ["ai", "nature"] {
        std::fs::create_dir_all(genimage.join(dir)).expect("mkdir");
        RgbImage::from_pixel(8, 8, Rgb([1, 2, 3])).save(genimage.join(format!("{dir}/x.png"))).expect("save");
    }
    let ds = Dataset::load(&genimage).expect("genimage loads");
    assert!(ds.is_binary());
    let labels: Vec<VerdictLabel> = ds.samples.iter().map(|s| s.label).collect();
    assert_eq!(labels, [VerdictLabel::Fake, VerdictLabel::Real]);
}
