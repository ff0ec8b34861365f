//! `train scorer --from-run`: the scorer's features read from episodes already
//! recorded (`trutheye eval --out DIR`; `analyze --out DIR` too when its
//! episode ids, the file stems, are the manifest's ids), under any strategy and
//! by any policy, instead of from fresh registry episodes. Episodes are matched
//! to samples by id and must be of the same image file.
//!
//! Why: each strategy gathers different evidence (pvr runs every global
//! operator in one code cell, registry and hybrid the few that fit the tool
//! budget, and a model chooses its own), so "what is this strategy's evidence
//! worth" is a fit on that strategy's own episodes. The trainer needs no PVR
//! engine for it: the episodes were run by whoever recorded them, and their
//! operator runs are stored as data ([`trutheye_core::evidence::trajectory_evidence`]).
//! The features are read exactly as the scripted policy reads them
//! ([`trajectory_features`]); the fused localization's `fusion.*` features are
//! recomputed with the `[localization]` passed in, not the one of the run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use trutheye_core::fusion::FusionConfig;
use trutheye_core::{Strategy, Trajectory};
use trutheye_eval::dataset::Sample;
use trutheye_model::scripted::trajectory_features;

use super::scorer::SampleFeatures;
use crate::TrainError;

/// The trajectories file of a run: `RUN/trajectories.jsonl` for a directory,
/// else `RUN` itself.
pub fn trajectories_path(run: &Path) -> PathBuf {
    if run.is_dir() {
        run.join("trajectories.jsonl")
    } else {
        run.to_path_buf()
    }
}

/// Episodes of a run, with what could not be read.
#[derive(Debug, Default)]
pub struct RecordedRun {
    /// Every trajectory that parsed, in file order.
    pub trajectories: Vec<Trajectory>,
    /// Lines that did not parse (1-based line number, why), e.g. the torn last
    /// line of a run killed while writing.
    pub bad_lines: Vec<(usize, String)>,
}

impl RecordedRun {
    /// Reads `trajectories_path(run)` (at most `MAX_DATA_BYTES`).
    pub fn read(run: &Path) -> Result<Self, TrainError> {
        let path = trajectories_path(run);
        let text =
            trutheye_core::input::read_text_bounded(&path, trutheye_core::input::MAX_DATA_BYTES).map_err(|e| TrainError::Scorer(format!("{}: cannot read the run's trajectories: {}", path.display(), e.detail())))?;
        let mut out = Self::default();
        let lines: Vec<(usize, &str)> = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).collect();
        for (k, &(i, line)) in lines.iter().enumerate() {
            match serde_json::from_str::<Trajectory>(line) {
                Ok(t) => out.trajectories.push(t),
                // Only the last line can be torn by a run killed while writing;
                // a bad line before it means the file is not what it should be.
                Err(e) if k + 1 < lines.len() => return Err(TrainError::Scorer(format!("{} line {}: not a trajectory: {e} (only a torn last line is skipped)", path.display(), i + 1))),
                Err(e) => out.bad_lines.push((i + 1, e.to_string())),
            }
        }
        if out.trajectories.is_empty() {
            return Err(TrainError::Scorer(format!("{}: no trajectory in the file ({} unreadable line(s))", path.display(), out.bad_lines.len())));
        }
        Ok(out)
    }

    /// The strategies the run holds, by name.
    pub fn strategies(&self) -> BTreeSet<&str> {
        self.trajectories.iter().map(|t| t.strategy.as_str()).collect()
    }

    /// The strategy to read: `wanted` when the run holds it; without one, the
    /// run's only strategy that gathers evidence (`none` gathers none).
    pub fn pick_strategy(&self, wanted: Option<Strategy>) -> Result<Strategy, TrainError> {
        let present = self.strategies();
        let list = present.iter().copied().collect::<Vec<_>>().join(", ");
        match wanted {
            Some(s) if present.contains(s.as_str()) => Ok(s),
            Some(s) => Err(TrainError::Scorer(format!("the run holds no `{}` episodes (it holds: {list})", s.as_str()))),
            None => {
                let with_evidence: Vec<&str> = present.iter().copied().filter(|s| *s != Strategy::None.as_str()).collect();
                match with_evidence.as_slice() {
                    [one] => one.parse::<Strategy>().map_err(|e| TrainError::Scorer(format!("the run's strategy `{one}`: {e}"))),
                    [] => Err(TrainError::Scorer(format!("the run holds no episodes that gather evidence (it holds: {list})"))),
                    _ => Err(TrainError::Scorer(format!("the run holds several strategies ({list}): pick one with --strategy"))),
                }
            }
        }
    }

    /// Each sample's features from its episode under `strategy`, or why there
    /// are none (not in the run, forced verdict, no statistic). An id recorded
    /// twice under the strategy (two policies in one run) is an error: which
    /// one to fit on is the user's choice.
    pub fn features(&self, strategy: Strategy, samples: &[Sample], fusion: &FusionConfig) -> Result<Vec<SampleFeatures>, TrainError> {
        let mut by_id: BTreeMap<&str, &Trajectory> = BTreeMap::new();
        for t in self.trajectories.iter().filter(|t| t.strategy == strategy.as_str()) {
            if let Some(seen) = by_id.insert(t.id.as_str(), t) {
                return Err(TrainError::Scorer(format!("`{}` is recorded twice under `{}` (policies `{}` and `{}`): give a run with one policy per strategy", t.id, strategy.as_str(), seen.policy, t.policy)));
            }
        }
        Ok(samples
            .iter()
            .map(|s| {
                let t = by_id.get(s.id.as_str()).ok_or_else(|| format!("not in the run under `{}`", strategy.as_str()))?;
                if let Some(why) = other_image(t, s) {
                    return Err(why);
                }
                if t.verdict.forced {
                    return Err(format!("episode ended without an answer: {}", t.verdict.forced_reason.as_deref().unwrap_or("")));
                }
                let f = trajectory_features(t, fusion);
                if f.is_empty() {
                    return Err("no operator reported any statistic in the episode".to_string());
                }
                Ok(f)
            })
            .collect())
    }
}

/// Why the episode recorded under a sample's id is not of that sample's image,
/// if it is not: a run of another dataset that reuses ids (`0001`, ...) would
/// otherwise lend its features to the wrong images. The file names must match,
/// and so must the file sizes when the run recorded one.
fn other_image(t: &Trajectory, s: &Sample) -> Option<String> {
    let recorded = t.images.first()?;
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    if let (Some(a), Some(b)) = (name(Path::new(&recorded.origin)), name(&s.image)) {
        if a != b {
            return Some(format!("the run's `{}` episode was recorded on `{a}`, not on the dataset's `{b}`", t.id));
        }
    }
    match (recorded.file_bytes, std::fs::metadata(&s.image)) {
        (Some(n), Ok(m)) if n != m.len() => Some(format!("the run's `{}` episode was recorded on a {n}-byte `{}`, the dataset's is {} bytes", t.id, recorded.origin, m.len())),
        _ => None,
    }
}
