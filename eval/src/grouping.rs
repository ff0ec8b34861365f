//! Which samples belong together: `--group-by FIELD [--group-pattern REGEX]`.
//!
//! A benchmark cut from a few photographs (`../shared/bench/dev`: 60 crops of
//! 9 host photos, each photo feeding all three classes) does not hold 60
//! independent images: crops of one photo share its camera noise, JPEG history
//! and scene. The trainer holds whole groups out of its folds
//! (`trutheye-trainer`'s `folds`), and the evaluator's paired comparison
//! resamples whole groups ([`super::paired`]), so neither counts a photo's
//! crops as separate evidence.

use std::collections::{BTreeMap, HashMap};

pub use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::dataset::Sample;
use crate::EvalError;

/// The manifest fields a sample reads as its own (the rest are kept free for
/// breakdowns and grouping).
const BUILT_IN_FIELDS: [&str; 5] = ["id", "image", "label", "mask", "bbox"];

/// Which manifest field groups the samples, and which part of its value is the
/// group (`--group-by FIELD`, `--group-pattern REGEX`).
#[derive(Clone, Debug)]
pub struct GroupBy {
    /// Manifest field, e.g. `source`.
    pub field: String,
    /// The group is this pattern's first capture group in the field's value
    /// (or its whole match when it has none); `None`: the whole value.
    pub pattern: Option<Regex>,
}

/// A [`GroupBy`] as `metrics.json` records it, so `eval report` can apply the
/// grouping the run was reported with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupSpec {
    /// Manifest field.
    pub field: String,
    /// The pattern's source text, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

impl GroupBy {
    /// `field`, optionally narrowed by `pattern` (checked here, so a typo is
    /// reported before any episode runs).
    pub fn new(field: &str, pattern: Option<&str>) -> Result<Self, EvalError> {
        let field = field.trim();
        if field.is_empty() {
            return Err(EvalError::Dataset("--group-by needs a manifest field name (e.g. `source`)".to_string()));
        }
        if BUILT_IN_FIELDS.contains(&field) {
            return Err(EvalError::Dataset(format!("--group-by {field}: a sample's own field, not one that says where it came from; group by a free manifest field such as `source`")));
        }
        let pattern = pattern.map(|p| parse_pattern(p).map_err(|e| EvalError::Dataset(format!("--group-pattern `{p}`: {e}")))).transpose()?;
        Ok(Self { field: field.to_string(), pattern })
    }

    /// The grouping a [`GroupSpec`] records.
    pub fn from_spec(spec: &GroupSpec) -> Result<Self, EvalError> {
        Self::new(&spec.field, spec.pattern.as_deref())
    }

    /// What `metrics.json` records of it.
    pub fn spec(&self) -> GroupSpec {
        GroupSpec { field: self.field.clone(), pattern: self.pattern.as_ref().map(|p| p.as_str().to_string()) }
    }

    /// How it is written in reports: `source` or `source =~ REGEX`.
    pub fn describe(&self) -> String {
        match &self.pattern {
            Some(p) => format!("{} =~ {}", self.field, p.as_str()),
            None => self.field.clone(),
        }
    }

    /// The group of the sample `id` with the free manifest fields `extra`, or
    /// why it has none.
    pub fn key_of(&self, id: &str, extra: &BTreeMap<String, Value>) -> Result<String, EvalError> {
        if BUILT_IN_FIELDS.contains(&self.field.as_str()) {
            return Err(EvalError::Dataset(format!("--group-by {}: a sample's own field, not one that says where it came from; group by a free manifest field such as `source`", self.field)));
        }
        let value = match extra.get(&self.field) {
            Some(Value::String(v)) => v.clone(),
            Some(Value::Null) | None => {
                return Err(EvalError::Dataset(format!("{id}: no `{}` field to group by (--group-by); every sample needs one", self.field)));
            }
            Some(other) => other.to_string(),
        };
        let Some(re) = &self.pattern else {
            if value.is_empty() {
                return Err(EvalError::Dataset(format!("{id}: `{}` is empty, so it names no group (--group-by)", self.field)));
            }
            return Ok(value);
        };
        let caps = re.captures(&value).ok_or_else(|| EvalError::Dataset(format!("{id}: `{}` = {value:?} does not match --group-pattern `{}`", self.field, re.as_str())))?;
        let m = caps.get(1).or_else(|| caps.get(0)).map(|m| m.as_str()).unwrap_or_default();
        if m.is_empty() {
            return Err(EvalError::Dataset(format!("{id}: --group-pattern `{}` matches an empty group in {value:?}", re.as_str())));
        }
        Ok(m.to_string())
    }

    /// The group of one sample.
    pub fn key(&self, s: &Sample) -> Result<String, EvalError> {
        self.key_of(&s.id, &s.extra)
    }

    /// The group of every sample, in their order.
    pub fn keys<'a>(&self, samples: impl IntoIterator<Item = &'a Sample>) -> Result<Vec<String>, EvalError> {
        samples.into_iter().map(|s| self.key(s)).collect()
    }
}

/// Every sample's group under one grouping, for the metrics
/// ([`crate::EvalContext::groups`]).
#[derive(Clone, Debug)]
pub struct SampleGroups {
    /// The grouping, as `metrics.json` records it.
    pub spec: GroupSpec,
    /// Sample id → group.
    pub of: HashMap<String, String>,
}

impl SampleGroups {
    /// The group of every sample in `samples`; the first sample without one
    /// is an error naming it.
    pub fn new<'a>(by: &GroupBy, samples: impl IntoIterator<Item = &'a Sample>) -> Result<Self, EvalError> {
        let of = samples.into_iter().map(|s| Ok((s.id.clone(), by.key(s)?))).collect::<Result<_, EvalError>>()?;
        Ok(Self { spec: by.spec(), of })
    }

    /// How many distinct groups.
    pub fn count(&self) -> usize {
        let mut g: Vec<&str> = self.of.values().map(String::as_str).collect();
        g.sort_unstable();
        g.dedup();
        g.len()
    }
}

/// `--group-pattern`'s parser: the pattern compiled, or what is wrong with it.
pub fn parse_pattern(p: &str) -> Result<Regex, String> {
    Regex::new(p).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(id: &str, source: Option<&str>) -> Sample {
        let mut extra = BTreeMap::new();
        if let Some(s) = source {
            extra.insert("source".to_string(), Value::String(s.to_string()));
        }
        Sample { id: id.into(), image: "x.jpg".into(), label: trutheye_core::VerdictLabel::Authentic, mask: None, bbox: None, extra }
    }

    #[test]
    fn the_pattern_picks_the_host_photo_out_of_the_source() {
        let by = GroupBy::new("source", Some(r"^(\S+)")).unwrap();
        assert_eq!(by.key(&sample("a", Some("pkg:/a/Storm.jpg (4x-downscaled crop as GAN input)"))).unwrap(), "pkg:/a/Storm.jpg");
        assert_eq!(by.key(&sample("b", Some("pkg:/a/Storm.jpg"))).unwrap(), "pkg:/a/Storm.jpg");
        let whole = GroupBy::new("source", None).unwrap();
        assert_eq!(whole.key(&sample("c", Some("x (y)"))).unwrap(), "x (y)");
        assert!(whole.key(&sample("c", Some(""))).unwrap_err().to_string().contains("c: `source` is empty"));
        let e = whole.key(&sample("d", None)).unwrap_err().to_string();
        assert!(e.contains("d: no `source` field"), "{e}");
        let e = GroupBy::new("source", Some("^z")).unwrap().key(&sample("e", Some("abc"))).unwrap_err().to_string();
        assert!(e.contains("does not match --group-pattern"), "{e}");
        let e = GroupBy::new("source", Some("^(z?)")).unwrap().key(&sample("g", Some("abc"))).unwrap_err().to_string();
        assert!(e.contains("matches an empty group"), "{e}");
        assert!(GroupBy::new("source", Some("(")).is_err(), "a bad pattern is refused up front");
        let e = GroupBy::new("image", None).unwrap_err().to_string();
        assert!(e.contains("a sample's own field"), "{e}");
        assert!(GroupBy::new(" ", None).is_err());
    }

    #[test]
    fn the_recorded_spec_gives_the_same_grouping_back() {
        let by = GroupBy::new("source", Some(r"^(\S+)")).unwrap();
        let spec: GroupSpec = serde_json::from_str(&serde_json::to_string(&by.spec()).unwrap()).unwrap();
        let again = GroupBy::from_spec(&spec).unwrap();
        assert_eq!(again.describe(), "source =~ ^(\\S+)");
        assert_eq!(again.key(&sample("a", Some("p:/x.jpg (host)"))).unwrap(), "p:/x.jpg");
        assert_eq!(serde_json::to_string(&GroupBy::new("camera", None).unwrap().spec()).unwrap(), r#"{"field":"camera"}"#);
    }
}
