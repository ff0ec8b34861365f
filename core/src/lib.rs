//! trutheye's core: domain types, the model-output protocol parser, the seams
//! (policy, executor, operator registry), the agent loop and the plugin loader.

#![warn(missing_docs)]

pub mod action;
pub mod aliases;
pub mod protocol;
pub mod verdict;

pub use action::{Action, Answer, CodeSource, FormatError, ParsedMessage};
pub use verdict::{BBox, BinaryLabel, BoxGeometry, Label, Scores, Verdict, VerdictLabel};
pub mod fusion;
pub mod image;
pub mod input;
pub mod imageops;
pub mod loader;
pub mod registry;

pub use image::{DecodeOptions, ImageBuf, ImageError, ImageMeta};
pub use registry::{ForensicOperator, OperatorSpec, Registry};
pub mod evidence;
pub mod error;
pub mod executor;
pub mod executors;
pub mod observe;
pub mod policy;

pub use evidence::{Evidence, HeatGrid, MapFate, MapSummary, RegionFrame, ScoredRegion};
pub use executor::{EpisodeState, ExecLimits, Executor, NamedImage, Observation, ToolKind, ToolUse};
pub use policy::{Conversation, Message, ObservationData, Policy, PolicyError, PolicyReply, ReplyLimits, Role};
pub mod agent;
pub mod episode;
pub mod config;
pub mod preset;
pub mod strategy;
pub mod trajectory;

pub use agent::{run_episode, text_record, ArtifactSink, DirArtifacts, EpisodeInput, NoArtifacts};
pub use config::AgentConfig;
pub use error::CoreError;
pub use strategy::Strategy;
pub use episode::{Episode, HostLimits, Step, TurnKind};
pub use trajectory::{Trajectory, Turn};
pub use loader::{load_plugins, LoadReport};
