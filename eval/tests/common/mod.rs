//! Shared test fixtures: tiny images whose gray level encodes the class, a policy
//! that reads it, and a factory that can simulate a crash after K episodes.

#![allow(dead_code)]

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use image::{GrayImage, Luma, Rgb, RgbImage};
use trutheye_core::executors::NoneExecutor;
use trutheye_core::{AgentConfig, Conversation, Executor, Policy, PolicyError, PolicyReply, Registry, ReplyLimits};
use trutheye_eval::{EpisodeFactory, EvalError};

/// Gray level of each class.
pub fn level(label: &str) -> u8 {
    match label {
        "authentic" => 40,
        "synthetic" => 130,
        _ => 220,
    }
}

/// Writes `images/<id>.png` (16x12) and, for tampered ones, `masks/<id>.png`; returns the manifest line.
pub fn write_sample(dir: &Path, id: &str, label: &str) -> String {
    std::fs::create_dir_all(dir.join("images")).expect("mkdir");
    std::fs::create_dir_all(dir.join("masks")).expect("mkdir");
    let v = level(label);
    RgbImage::from_pixel(16, 12, Rgb([v, v, v])).save(dir.join(format!("images/{id}.png"))).expect("save");
    if label == "tampered" {
        let mut m = GrayImage::new(16, 12);
        for y in 2..6 {
            for x in 4..8 {
                m.put_pixel(x, y, Luma([255]));
            }
        }
        m.save(dir.join(format!("masks/{id}.png"))).expect("save");
        format!(r#"{{"id":"{id}","image":"images/{id}.png","label":"{label}","mask":"masks/{id}.png","bbox":[4,2,8,6],"method":"m{}"}}"#, id.len() % 2)
    } else {
        format!(r#"{{"id":"{id}","image":"images/{id}.png","label":"{label}","mask":null,"bbox":null,"method":"m{}"}}"#, id.len() % 2)
    }
}

/// Answers the class encoded in the image's gray level, with a box on tampered.
pub struct ColorPolicy;

impl Policy for ColorPolicy {
    fn name(&self) -> &str {
        "color"
    }

    fn next(&mut self, conv: &Conversation, _: ReplyLimits) -> Result<PolicyReply, PolicyError> {
        let img = conv.images.first().ok_or_else(|| PolicyError("no image".into()))?;
        let v = img.rgb.get_pixel(0, 0).0[0];
        let (label, extra) = match v {
            0..=80 => ("authentic", ""),
            81..=170 => ("synthetic", ""),
            _ => ("tampered", r#", "bbox": [4, 2, 8, 6]"#),
        };
        Ok(PolicyReply::text(format!("<think>gray level {v}</think>\n<answer>{{\"label\": \"{label}\"{extra}}}</answer>")))
    }
}

/// A factory of [`ColorPolicy`] + `NoneExecutor`; with `fail_after`, every
/// episode after the first K fails to build (a simulated crash).
pub struct FakeFactory {
    pub config: AgentConfig,
    pub fail_after: Option<usize>,
    pub made: AtomicUsize,
    pub registry: Arc<Registry>,
}

impl FakeFactory {
    pub fn new(fail_after: Option<usize>) -> Self {
        Self { config: AgentConfig::default_config(), fail_after, made: AtomicUsize::new(0), registry: Arc::new(Registry::new()) }
    }
}

impl EpisodeFactory for FakeFactory {
    fn make(&self, _policy: &str, _strategy: &str) -> Result<(Box<dyn Policy>, Box<dyn Executor>), EvalError> {
        let n = self.made.fetch_add(1, Ordering::SeqCst);
        if self.fail_after.is_some_and(|k| n >= k) {
            return Err(EvalError::Episode("simulated crash".into()));
        }
        Ok((Box::new(ColorPolicy), Box::new(NoneExecutor)))
    }

    fn registry(&self) -> Arc<Registry> {
        self.registry.clone()
    }

    fn config(&self) -> &AgentConfig {
        &self.config
    }
}
