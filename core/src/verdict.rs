//! What an episode concludes: labels, scores, localization.

use serde::{Deserialize, Serialize};

/// The three-class forensic label (ForenAgent / SIDA protocol).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// An unedited camera photo.
    Authentic,
    /// Every pixel produced by a generative model.
    Synthetic,
    /// A real photo with a localized edit.
    Tampered,
}

impl Label {
    /// All labels in table order.
    pub const ALL: [Label; 3] = [Label::Authentic, Label::Synthetic, Label::Tampered];

    /// The binary view: authentic is real, the rest is fake.
    pub fn binary(self) -> BinaryLabel {
        match self {
            Label::Authentic => BinaryLabel::Real,
            _ => BinaryLabel::Fake,
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Authentic => "authentic",
            Label::Synthetic => "synthetic",
            Label::Tampered => "tampered",
        }
    }
}

/// The binary view (real/fake) used by binary benchmarks and by the seeds' stop words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinaryLabel {
    /// Authentic.
    Real,
    /// Synthetic or tampered.
    Fake,
}

/// A label as stated in an answer: three-class, or only binary when the model
/// (or the dataset) speaks real/fake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictLabel {
    /// Three-class authentic.
    Authentic,
    /// Three-class synthetic.
    Synthetic,
    /// Three-class tampered.
    Tampered,
    /// Binary real (no three-class label given).
    Real,
    /// Binary fake (no three-class label given).
    Fake,
}

impl VerdictLabel {
    /// The binary view.
    pub fn binary(self) -> BinaryLabel {
        match self {
            VerdictLabel::Authentic | VerdictLabel::Real => BinaryLabel::Real,
            _ => BinaryLabel::Fake,
        }
    }

    /// The three-class label when one was stated.
    pub fn three_class(self) -> Option<Label> {
        match self {
            VerdictLabel::Authentic => Some(Label::Authentic),
            VerdictLabel::Synthetic => Some(Label::Synthetic),
            VerdictLabel::Tampered => Some(Label::Tampered),
            _ => None,
        }
    }

    /// Lower-case name as written in answers and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictLabel::Authentic => "authentic",
            VerdictLabel::Synthetic => "synthetic",
            VerdictLabel::Tampered => "tampered",
            VerdictLabel::Real => "real",
            VerdictLabel::Fake => "fake",
        }
    }

    /// Parses a label word as models and datasets write it (case-insensitive;
    /// synonyms such as `ai-generated`, `manipulated`, `genuine`, and the Chinese
    /// words TruthEYE2-style models sometimes use).
    pub fn parse(word: &str) -> Option<Self> {
        let w = word.trim().trim_matches(|c: char| c == '.' || c == '"' || c == '\'' || c == '*' || c == '`').to_lowercase();
        Some(match w.as_str() {
            "authentic" | "genuine" | "pristine" | "original" | "0_real" | "真实" | "真" => VerdictLabel::Authentic,
            "synthetic" | "ai-generated" | "ai generated" | "generated" | "ai" | "1_fake_synthetic" | "合成" | "生成" | "ai生成" => {
                VerdictLabel::Synthetic
            }
            "tampered" | "manipulated" | "forged" | "edited" | "spliced" | "篡改" | "伪造" => VerdictLabel::Tampered,
            "real" => VerdictLabel::Real,
            "fake" | "假" => VerdictLabel::Fake,
            _ => return None,
        })
    }
}

impl From<Label> for VerdictLabel {
    fn from(l: Label) -> Self {
        match l {
            Label::Authentic => VerdictLabel::Authentic,
            Label::Synthetic => VerdictLabel::Synthetic,
            Label::Tampered => VerdictLabel::Tampered,
        }
    }
}

/// Per-class scores in 0..=1 (probabilities when the policy gives them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Score for authentic.
    pub authentic: f64,
    /// Score for synthetic.
    pub synthetic: f64,
    /// Score for tampered.
    pub tampered: f64,
}

impl Scores {
    /// Score of one class.
    pub fn get(&self, l: Label) -> f64 {
        match l {
            Label::Authentic => self.authentic,
            Label::Synthetic => self.synthetic,
            Label::Tampered => self.tampered,
        }
    }

    /// The class with the highest score (ties go to the earlier class).
    pub fn argmax(&self) -> Label {
        let mut best = Label::Authentic;
        for l in Label::ALL {
            if self.get(l) > self.get(best) {
                best = l;
            }
        }
        best
    }
}

/// A box in pixel coordinates of the analysed image: `[x1, y1, x2, y2]`, x2/y2 exclusive.
/// It stays a bare array because the plugin ABI and every JSON file carry it
/// that way; its geometry is [`BoxGeometry`].
pub type BBox = [u32; 4];

/// The geometry of a [`BBox`]: `bbox.iou(other)`, `BBox::clamped(raw, size)`
/// (with this trait in scope; `trutheye_core::BoxGeometry`).
pub trait BoxGeometry: Sized {
    /// Width × height in pixels (0 for an empty or inverted box).
    fn area(&self) -> u64;

    /// Intersection over union with `other`; 0 when disjoint or both empty.
    fn iou(&self, other: &Self) -> f64;

    /// A model's box (float corners, in any order) rounded and clamped to an
    /// image of `size` (width, height); `None` without a size, for
    /// non-finite corners, or when nothing is left.
    fn clamped(raw: [f64; 4], size: Option<(u32, u32)>) -> Option<Self>;
}

impl BoxGeometry for BBox {
    fn area(&self) -> u64 {
        u64::from(self[2].saturating_sub(self[0])) * u64::from(self[3].saturating_sub(self[1]))
    }

    fn iou(&self, other: &Self) -> f64 {
        let (a, b) = (self, other);
        let inter = [a[0].max(b[0]), a[1].max(b[1]), a[2].min(b[2]), a[3].min(b[3])].area() as f64;
        let union = a.area() as f64 + b.area() as f64 - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }

    fn clamped(raw: [f64; 4], size: Option<(u32, u32)>) -> Option<Self> {
        let (w, h) = size?;
        if raw.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let c = |v: f64, m: u32| v.round().clamp(0.0, m as f64) as u32;
        let out = [c(raw[0].min(raw[2]), w), c(raw[1].min(raw[3]), h), c(raw[0].max(raw[2]), w), c(raw[1].max(raw[3]), h)];
        (out[2] > out[0] && out[3] > out[1]).then_some(out)
    }
}

/// The final verdict of an episode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The stated label.
    pub label: VerdictLabel,
    /// Per-class scores, when the policy gives them.
    pub scores: Option<Scores>,
    /// Where the manipulation is, in pixels of image 0.
    pub bbox: Option<BBox>,
    /// Path of a saved mask or heat-map, when one was written.
    pub mask: Option<String>,
    /// Free-text explanation from the answer.
    pub explanation: Option<String>,
    /// True when the loop had to force a verdict (budget exhausted, repeated
    /// format errors, policy failure) instead of reading one from the model.
    pub forced: bool,
    /// Why it was forced.
    pub forced_reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_geometry_matches_hand_computed_values() {
        let a: BBox = [0, 0, 2, 2];
        assert_eq!(a.area(), 4);
        assert!((a.iou(&[1, 1, 3, 3]) - 1.0 / 7.0).abs() < 1e-12);
        assert_eq!(a.iou(&[5, 5, 6, 6]), 0.0);
        assert_eq!([3, 3, 1, 1].area(), 0, "an inverted box is empty");
        // Corners in any order, rounded, clamped to a 10×8 image.
        assert_eq!(BBox::clamped([12.4, 9.0, 2.6, -1.0], Some((10, 8))), Some([3, 0, 10, 8]));
        assert_eq!(BBox::clamped([1.0, 1.0, 1.2, 5.0], Some((10, 8))), None, "nothing left after rounding");
        assert_eq!(BBox::clamped([f64::NAN, 0.0, 4.0, 4.0], Some((10, 8))), None);
        assert_eq!(BBox::clamped([0.0, 0.0, 4.0, 4.0], None), None);
    }
}
