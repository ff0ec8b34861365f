//! What a conversion kept and dropped, and why: every `trutheye data` command
//! reports it, so a silently shrinking training set is never a surprise.

use std::collections::BTreeMap;

use serde::Serialize;

/// Most detail lines the table shows (the JSON has them all).
const TABLE_DETAILS: usize = 20;

/// Counts of one conversion.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ConversionReport {
    /// The command (`sft`, `codevision`, `grpo`, `hard`, `hard-grpo`).
    pub command: String,
    /// Where the output went.
    pub out: String,
    /// Records read (episodes, lines, samples, ids).
    pub read: usize,
    /// Records written.
    pub kept: usize,
    /// Dropped records by reason; the values sum to `read - kept`.
    pub dropped: BTreeMap<String, usize>,
    /// Counts that are not drops (e.g. observation images left out of a kept sample).
    pub notes: BTreeMap<String, usize>,
    /// Per-class counts (`kept`, `dropped`), where the command knows classes.
    pub by_class: BTreeMap<String, BTreeMap<String, usize>>,
    /// One line per drop that has a location (`line 3: ...`), in input order.
    pub details: Vec<String>,
}

impl ConversionReport {
    /// An empty report for `command` writing to `out`.
    pub fn new(command: &str, out: &str) -> Self {
        Self { command: command.into(), out: out.into(), ..Default::default() }
    }

    /// Counts one dropped record under `reason`, with an optional located detail.
    pub fn drop(&mut self, reason: &str, detail: Option<String>) {
        *self.dropped.entry(reason.to_string()).or_default() += 1;
        if let Some(d) = detail {
            self.details.push(d);
        }
    }

    /// Adds `n` to a note counter.
    pub fn note(&mut self, what: &str, n: usize) {
        if n > 0 {
            *self.notes.entry(what.to_string()).or_default() += n;
        }
    }

    /// Counts one record of `class` as `kept` or `dropped`.
    pub fn class(&mut self, class: &str, kept: bool) {
        let e = self.by_class.entry(class.to_string()).or_default();
        *e.entry(if kept { "kept" } else { "dropped" }.to_string()).or_default() += 1;
    }

    /// Total dropped.
    pub fn dropped_total(&self) -> usize {
        self.dropped.values().sum()
    }

    /// One JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"report not serializable: {e}\"}}"))
    }

    /// A markdown table plus detail lines.
    pub fn to_table(&self) -> String {
        let mut s = format!(
            "data {}: {} read, {} kept, {} dropped → {}\n\n| | count |\n|---|---:|\n| kept | {} |\n",
            self.command,
            self.read,
            self.kept,
            self.dropped_total(),
            self.out,
            self.kept
        );
        for (reason, n) in &self.dropped {
            s.push_str(&format!("| dropped: {reason} | {n} |\n"));
        }
        for (what, n) in &self.notes {
            s.push_str(&format!("| note: {what} | {n} |\n"));
        }
        if !self.by_class.is_empty() {
            s.push_str("\n| class | kept | dropped |\n|---|---:|---:|\n");
            for (class, c) in &self.by_class {
                let get = |k: &str| c.get(k).copied().unwrap_or(0);
                s.push_str(&format!("| {class} | {} | {} |\n", get("kept"), get("dropped")));
            }
        }
        if !self.details.is_empty() {
            s.push('\n');
            for d in self.details.iter().take(TABLE_DETAILS) {
                s.push_str(&format!("  {d}\n"));
            }
            if self.details.len() > TABLE_DETAILS {
                s.push_str(&format!("  … {} more (see --json)\n", self.details.len() - TABLE_DETAILS));
            }
        }
        s.push('\n');
        s
    }
}
