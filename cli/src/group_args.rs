//! `--group-by FIELD [--group-pattern REGEX]`: which samples belong together,
//! shared by `train scorer`, `train fusion` and `eval` (the grouping itself is
//! `trutheye_eval::grouping`).

use clap::Args;
use trutheye_eval::grouping::{parse_pattern, GroupBy, Regex};

/// Which samples belong together (crops of one photo).
#[derive(Args, Debug, Clone)]
pub struct GroupArgs {
    /// Treat the samples that share this manifest field (what says where a sample came from, e.g. `source`) as one unit. `train scorer` and `train fusion` hold whole groups out together, so held-out figures are on unseen photos (groups dealt to --folds folds as scikit-learn's StratifiedGroupKFold deals them; --folds equal to the number of groups is leave-one-group-out). `eval` adds clustered forms to its paired comparison: Durkalski's clustered McNemar test and a bootstrap that resamples whole groups.
    #[arg(long, value_name = "FIELD", value_parser = field_name)]
    pub group_by: Option<String>,
    /// With --group-by: the group is this regular expression's first capture group in the field's value (its whole match when it has none), e.g. `^(\S+)` keeps `pkg:/photo.jpg` of `pkg:/photo.jpg (4x-downscaled crop as GAN input)`.
    #[arg(long, value_name = "REGEX", requires = "group_by", value_parser = parse_pattern)]
    pub group_pattern: Option<Regex>,
}

/// `--group-by`'s parser: a field name, trimmed and not empty.
fn field_name(s: &str) -> Result<String, String> {
    let f = s.trim();
    if f.is_empty() {
        return Err("a manifest field name, e.g. `source`".to_string());
    }
    Ok(f.to_string())
}

impl GroupArgs {
    /// The grouping asked for, if any (a sample's own field, such as `id`, is
    /// refused when the samples' groups are read).
    pub fn group_by(&self) -> Option<GroupBy> {
        self.group_by.as_ref().map(|f| GroupBy { field: f.clone(), pattern: self.group_pattern.clone() })
    }
}
