//! The scripted policy reads operator evidence as data; on the sample images,
//! under every tool strategy, the data is exactly what the observation text
//! shows (read back by the legacy text reader), so the policy decides as it did
//! when it parsed the text.

use trutheye_core::fusion::FusionConfig;
use std::path::Path;
use std::sync::Arc;

use trutheye_core::evidence::{legacy_evidence_from_text, trajectory_evidence};
use trutheye_core::executors::{HybridExecutor, RegistryExecutor};
use trutheye_core::{run_episode, AgentConfig, EpisodeInput, Executor, ImageBuf, NoArtifacts, RegionFrame, Registry, Strategy};
use trutheye_model::scripted::trajectory_features;
use trutheye_model::{ScriptedConfig, ScriptedPolicy};
use trutheye_plugin_std::{
    copy_move::CopyMove, ela::Ela, fft_residual::FftResidual, jpeg_ghost::JpegGhost, laplacian::Laplacian, prnu::Prnu, resampling::Resampling,
    srm::Srm,
};
use trutheye_sandbox::{PvrExecutor, PvrLimits};

fn registry() -> Arc<Registry> {
    let mut r = Registry::new();
    r.register_native::<Srm>();
    r.register_native::<FftResidual>();
    r.register_native::<JpegGhost>();
    r.register_native::<Resampling>();
    // The scripted plan's tool globals (configs/scripted.toml).
    r.register_native::<CopyMove>();
    r.register_native::<Prnu>();
    r.register_native::<Laplacian>();
    r.register_native::<Ela>();
    Arc::new(r)
}

#[test]
fn evidence_is_what_the_text_shows_for_the_scripted_policy() {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples");
    for name in ["authentic-dev-000.jpg", "synthetic-dev-032.jpg", "tampered-dev-033.jpg"] {
        let image = Arc::new(ImageBuf::open(&samples.join(name), 1 << 26).expect("sample decodes"));
        for strategy in [Strategy::Registry, Strategy::Pvr, Strategy::Hybrid] {
            let mut exec: Box<dyn Executor> = match strategy {
                Strategy::Pvr => Box::new(PvrExecutor::new(PvrLimits::default())),
                Strategy::Hybrid => Box::new(HybridExecutor::new(PvrExecutor::new(PvrLimits::default()))),
                _ => Box::new(RegistryExecutor),
            };
            let mut policy = ScriptedPolicy::new(ScriptedConfig::builtin(), strategy);
            let input = EpisodeInput { id: name.into(), images: vec![image.clone()] };
            let t = run_episode(&mut policy, exec.as_mut(), input, &AgentConfig::default_config(), registry(), &mut NoArtifacts);
            let mut runs = 0;
            for o in t.turns.iter().filter_map(|turn| turn.observation.as_ref()) {
                let from_text = legacy_evidence_from_text(&o.text);
                assert_eq!(from_text.len(), o.evidence.len(), "{name} {strategy:?}: {}", o.text);
                for (a, b) in from_text.iter().zip(&o.evidence) {
                    assert_eq!((&a.operator, &a.image, &a.stats), (&b.operator, &b.image, &b.stats), "{name} {strategy:?}");
                    if b.frame == RegionFrame::Root {
                        assert_eq!(&a.regions, &b.regions, "{name} {strategy:?}");
                    }
                }
                runs += o.evidence.len();
            }
            // The five tool globals and the probe (pvr: its registered globals and the probe).
            assert!(runs >= 6, "{name} {strategy:?}: {runs} operator runs");
            // The scorer's features from the data and from the text (as an old file) agree.
            let mut old = t.clone();
            old.turns.iter_mut().filter_map(|turn| turn.observation.as_mut()).for_each(|o| o.evidence.clear());
            // Old files carry no heat-maps, so their fused features cannot be
            // recovered; with fusion off, every operator statistic must match.
            let no_fusion = FusionConfig { weights: Default::default(), ..FusionConfig::default() };
            assert_eq!(trajectory_features(&old, &no_fusion), trajectory_features(&t, &no_fusion), "{name} {strategy:?}");
            assert_eq!(trajectory_evidence(&t).len(), runs);
            assert!(!t.verdict.forced, "{name} {strategy:?}");
        }
    }
}
