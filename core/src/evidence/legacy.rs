//! LEGACY, for old files only: reading operator evidence back from observation
//! text, for trajectories recorded before observations carried [`Evidence`].
//! This is the one place that parses operator text; nothing may read new
//! records this way (they carry the data). It reads what the scripted policy's
//! text reader read: the `[op on image] summary` header, the `stats: {…}` line
//! and the `most anomalous regions (image_clue_0 pixels): …` line after it.

use serde_json::{Map, Value};

use super::{Evidence, RegionFrame, ScoredRegion};

/// The operator runs an old observation text shows, in order (maps are not
/// recovered; regions only when given in `image_clue_0` pixels).
pub fn legacy_evidence_from_text(text: &str) -> Vec<Evidence> {
    let mut out: Vec<Evidence> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some((head, summary)) = line.strip_prefix('[').and_then(|rest| rest.split_once(']')) {
            if let Some((op, image)) = head.split_once(" on ") {
                out.push(Evidence {
                    operator: op.trim().to_string(),
                    image: image.trim().to_string(),
                    summary: summary.trim().to_string(),
                    stats: Map::new(),
                    regions: Vec::new(),
                    frame: RegionFrame::Input,
                    maps: Vec::new(),
                    heat: None,
                });
            }
        }
        // Lines before the first header belong to no operator.
        let Some(ev) = out.last_mut() else { continue };
        if let Some(json) = line.strip_prefix("stats: ") {
            if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(json) {
                ev.stats.extend(o);
            }
        }
        if let Some((_, list)) = line.split_once("most anomalous regions (image_clue_0 pixels): ") {
            ev.frame = RegionFrame::Root;
            ev.regions.extend(list.split(';').filter_map(parse_region));
        }
    }
    out
}

/// `[x1, y1, x2, y2] z=4.5`.
fn parse_region(item: &str) -> Option<ScoredRegion> {
    let (b, z) = item.trim().split_once("z=")?;
    let nums: Vec<u32> = b.trim().trim_start_matches('[').trim_end_matches(']').split(',').filter_map(|s| s.trim().parse().ok()).collect();
    Some(ScoredRegion { bbox: nums.try_into().ok()?, score: z.trim().parse().ok()? })
}
