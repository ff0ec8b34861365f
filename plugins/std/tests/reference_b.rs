//! Agreement with OpenCV / SciPy on a fixed 37x29 input; the numbers come from
//! tests/fixtures/make_reference_b.py (cv2.Sobel ksize=3, cv2.Laplacian ksize=1 and 3,
//! scipy.ndimage.median_filter size=3 mode="mirror", all reflect-101 borders).

use serde_json::Value;
use trutheye_plugin_api::ImageRef;
use trutheye_plugin_std::{laplacian::laplacian_response, median_traces::median3x3, sobel::sobel_gradients};

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/reference_b.json")).expect("fixture is JSON")
}

fn floats(v: &Value, key: &str) -> Vec<f32> {
    v[key].as_array().unwrap_or_else(|| panic!("missing {key}")).iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

fn close(name: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{name}: length");
    let worst = got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(worst <= 1e-3, "{name}: max abs error {worst}");
}

#[test]
fn sobel_matches_cv2_sobel_ksize3() {
    let f = fixture();
    let (w, h) = (f["width"].as_u64().unwrap() as usize, f["height"].as_u64().unwrap() as usize);
    let src = floats(&f, "input");
    let (gx, gy) = sobel_gradients(&src, w, h);
    close("sobel_dx", &gx, &floats(&f, "sobel_dx"));
    close("sobel_dy", &gy, &floats(&f, "sobel_dy"));
}

#[test]
fn sobel_through_rgb_luma_matches_too() {
    // Gray RGB -> BT.601 luma is the grey value up to f32 rounding.
    let f = fixture();
    let (w, h) = (f["width"].as_u64().unwrap() as usize, f["height"].as_u64().unwrap() as usize);
    let rgb: Vec<u8> = floats(&f, "input").iter().flat_map(|&v| [v as u8; 3]).collect();
    let luma = ImageRef::from_rgb(w, h, &rgb).unwrap().luma();
    let (gx, _) = sobel_gradients(&luma, w, h);
    close("sobel_dx via luma", &gx, &floats(&f, "sobel_dx"));
}

#[test]
fn laplacian_matches_cv2_laplacian() {
    let f = fixture();
    let (w, h) = (f["width"].as_u64().unwrap() as usize, f["height"].as_u64().unwrap() as usize);
    let src = floats(&f, "input");
    close("laplacian_k1", &laplacian_response(&src, w, h, 1), &floats(&f, "laplacian_k1"));
    close("laplacian_k3", &laplacian_response(&src, w, h, 3), &floats(&f, "laplacian_k3"));
}

#[test]
fn median_matches_scipy_median_filter_mirror() {
    let f = fixture();
    let (w, h) = (f["width"].as_u64().unwrap() as usize, f["height"].as_u64().unwrap() as usize);
    let src = floats(&f, "input");
    close("median3_mirror", &median3x3(&src, w, h), &floats(&f, "median3_mirror"));
}
