//! Sharded runs: `--shard I/N` runs every N-th job of the plan, starting at I.
//!
//! The plan (every (policy, strategy, sample) job, then the baselines) is built
//! in a fixed order from the dataset and the options, never from thread timing,
//! so shard I owns plan positions I, I+N, I+2N, … on every machine and on every
//! `--resume`. Round-robin rather than hashing keeps shards within one job of
//! each other in size, which is what a job array's slowest task is made of.
//!
//! Each shard writes `shard.json` beside its predictions: its index, the shard
//! count, the plan's size and digest, and the keys it owns. `eval merge` reads
//! them to rebuild the whole plan in order and to name what is missing or
//! duplicated; `--resume` reads it to refuse a plan that changed under it.

use crate::EvalError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::prediction::Key;

/// File a shard writes in its run directory.
pub const SHARD_FILE: &str = "shard.json";

/// Which slice of the plan a run takes: `index` of `count`, 0-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 0-based shard index (Slurm's `SLURM_ARRAY_TASK_ID`, Kubernetes' `JOB_COMPLETION_INDEX`).
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl Shard {
    /// Whether plan position `pos` belongs to this shard.
    pub fn owns(&self, pos: usize) -> bool {
        pos % self.count == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// Parses `I/N` with `0 <= I < N`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("--shard `{s}`: expected I/N with 0 <= I < N (shards are numbered from 0, as Slurm array task ids and Kubernetes completion indexes are)");
        let (i, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// What a shard records about itself (`shard.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// Which shard this is.
    pub shard: Shard,
    /// Jobs in the whole plan (all shards).
    pub plan_jobs: usize,
    /// Digest of the whole plan's keys in order (see [`plan_digest`]).
    pub plan_digest: String,
    /// The keys this shard owns, in plan order.
    pub jobs: Vec<Key>,
}

impl ShardRecord {
    /// The record for `shard` of `plan` (every key of the plan, in order).
    pub fn new(shard: Shard, plan: &[Key]) -> Self {
        let jobs = plan.iter().enumerate().filter(|(i, _)| shard.owns(*i)).map(|(_, k)| k.clone()).collect();
        ShardRecord { shard, plan_jobs: plan.len(), plan_digest: plan_digest(plan), jobs }
    }

    /// Reads `DIR/shard.json`; `Ok(None)` when the directory has none.
    pub fn read(dir: &Path) -> Result<Option<Self>, EvalError> {
        let path = dir.join(SHARD_FILE);
        let text = match trutheye_core::input::read_text_bounded(&path, trutheye_core::input::MAX_DATA_BYTES) {
            Ok(t) => t,
            Err(e) if e.io_kind() == Some(std::io::ErrorKind::NotFound) => return Ok(None),
            Err(e) => return Err(EvalError::Plan(format!("{}: cannot read: {}", path.display(), e.detail()))),
        };
        serde_json::from_str(&text).map(Some).map_err(|e| EvalError::Plan(format!("{}: not a shard record: {e}", path.display())))
    }

    /// Writes `DIR/shard.json` (through a sibling file and a rename).
    pub fn write(&self, dir: &Path) -> Result<(), EvalError> {
        let path = dir.join(SHARD_FILE);
        let tmp: PathBuf = dir.join(format!("{SHARD_FILE}.tmp"));
        let text = serde_json::to_string(self).map_err(|e| EvalError::Plan(e.to_string()))?;
        std::fs::write(&tmp, text).map_err(|e| EvalError::Plan(format!("{}: cannot write: {e}", tmp.display())))?;
        std::fs::rename(&tmp, &path).map_err(|e| EvalError::Plan(format!("{}: cannot replace: {e}", path.display())))
    }

    /// On `--resume`: the directory's record must be this one (same shard, same
    /// plan), or the run would mix two plans.
    pub fn check_same(&self, recorded: &ShardRecord, dir: &Path) -> Result<(), EvalError> {
        if recorded.shard != self.shard {
            return Err(EvalError::Plan(format!("{} holds shard {}, not {}; resume it with --shard {}", dir.display(), recorded.shard, self.shard, recorded.shard)));
        }
        if recorded.plan_digest != self.plan_digest || recorded.plan_jobs != self.plan_jobs {
            return Err(EvalError::Plan(format!(
                "{}: the plan changed since this shard started ({} jobs then, {} now): same --data, --policy, --strategy, --limit and baselines are needed to resume",
                dir.display(),
                recorded.plan_jobs,
                self.plan_jobs
            )));
        }
        Ok(())
    }
}

/// A stable digest of the plan: FNV-1a 64 over the keys in order, fields
/// separated by unit and record separators. Stable across builds and platforms
/// (std's hasher promises neither).
pub fn plan_digest(plan: &[Key]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for (policy, strategy, id) in plan {
        for field in [policy, strategy, id] {
            eat(field.as_bytes());
            eat(&[0x1f]);
        }
        eat(&[0x1e]);
    }
    format!("fnv1a64:{h:016x}:{}", plan.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: usize) -> Key {
        ("p".into(), "s".into(), format!("id{i}"))
    }

    #[test]
    fn parses_and_refuses() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["4/4", "1/0", "a/2", "3", "-1/2", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_partition_the_plan_evenly() {
        let plan: Vec<Key> = (0..10).map(key).collect();
        let records: Vec<ShardRecord> = (0..3).map(|i| ShardRecord::new(Shard { index: i, count: 3 }, &plan)).collect();
        let sizes: Vec<usize> = records.iter().map(|r| r.jobs.len()).collect();
        assert_eq!(sizes, vec![4, 3, 3]);
        let mut all: Vec<Key> = records.iter().flat_map(|r| r.jobs.clone()).collect();
        all.sort();
        let mut want = plan.clone();
        want.sort();
        assert_eq!(all, want);
        assert!(records.iter().all(|r| r.plan_digest == records[0].plan_digest));
    }

    #[test]
    fn digest_depends_on_order_and_content() {
        let a: Vec<Key> = (0..3).map(key).collect();
        let mut b = a.clone();
        b.swap(0, 1);
        assert_ne!(plan_digest(&a), plan_digest(&b));
        // Field boundaries count: ("ab","c") is not ("a","bc").
        let x = vec![("ab".to_string(), "c".to_string(), "d".to_string())];
        let y = vec![("a".to_string(), "bc".to_string(), "d".to_string())];
        assert_ne!(plan_digest(&x), plan_digest(&y));
    }
}
