//! `--plugin-dir` and the subcommands about operators: `plugins list` and `op`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};

use trutheye_core::image::{ImageBuf, DEFAULT_MAX_PIXELS};
use trutheye_core::loader::{load_dirs, load_plugins, search_dirs, LoadReport};
use trutheye_core::observe::{map_to_image, operator_observation};
use trutheye_core::{EpisodeState, ExecLimits, Registry};
use trutheye_plugin_api::{MapRole, MapRoles};

/// Where plugins come from; flattened into every command that needs operators.
#[derive(Args, Debug, Clone, Default)]
pub struct PluginDirs {
    /// Extra plugin directory (repeatable; searched before TRUTHEYE_PLUGIN_PATH and the default next to the binary).
    #[arg(long = "plugin-dir", value_name = "DIR", global = true)]
    pub plugin_dirs: Vec<PathBuf>,
}

impl PluginDirs {
    /// Loads every plugin into a fresh registry.
    pub fn load(&self) -> (Registry, LoadReport) {
        load_plugins(&self.plugin_dirs)
    }
}

/// `trutheye plugins ...`
#[derive(Subcommand, Debug)]
pub enum PluginsCommand {
    /// List plugins, their operators, where they were loaded from, and refused plugins with reasons.
    List {
        /// One JSON object instead of the table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `trutheye plugins ...`.
pub fn run_plugins(cmd: &PluginsCommand, dirs: &PluginDirs) -> Result<()> {
    let PluginsCommand::List { json } = cmd;
    let mut registry = Registry::new();
    let report = load_dirs(&search_dirs(&dirs.plugin_dirs), &mut registry);
    if *json {
        let ops: Vec<_> = registry.specs().collect();
        let v = serde_json::json!({"searched": report.searched, "loaded": report.loaded, "refused": report.refused, "shadowed": registry.shadowed, "operators": ops});
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("searched: {}", report.searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "));
    if report.loaded.is_empty() {
        println!("no plugins loaded (build them with `cargo build --release`, or pass --plugin-dir)");
    }
    for p in &report.loaded {
        println!("\n{} {}  ({})", p.name, p.version, p.path.display());
        for name in &p.operators {
            let spec = registry.get(name).map(|o| o.spec());
            let active = spec.is_some_and(|s| s.origin.contains(&p.path.display().to_string()));
            let cat = spec.map(|s| s.category.as_str()).unwrap_or("");
            let first = spec.map(|s| s.description.split(". ").next().unwrap_or("").to_string()).unwrap_or_default();
            println!("  {:<18} {:<12} {}{}", name, cat, first, if active { "" } else { "  [shadowed]" });
        }
    }
    for r in &report.refused {
        println!("\nrefused: {}\n  {}", r.path.display(), r.reason);
    }
    for s in &registry.shadowed {
        println!("\nclash: `{}` from {} ignored; keeping {}", s.name, s.skipped, s.kept);
    }
    Ok(())
}

/// `trutheye op NAME IMAGE`: run one operator and save its maps.
#[derive(Args, Debug)]
pub struct OpArgs {
    /// Operator name (see `trutheye plugins list`).
    pub name: String,
    /// Image file.
    pub image: PathBuf,
    /// Parameter as key=value (value parsed as JSON, else taken as a string); repeatable.
    #[arg(long = "param", short = 'p', value_name = "K=V")]
    pub params: Vec<String>,
    /// Save the operator's first map here (its visual unless `--maps` picks others;
    /// the other maps go beside it, named `OUT_<map>.png`).
    #[arg(short = 'o', long = "output", value_name = "OUT.png")]
    pub output: Option<PathBuf>,
    /// Which maps `-o` saves: map names or roles (`visual`, `heatmap`, `mask`),
    /// comma-separated; default every map. `--maps heatmap` does not write the
    /// full-resolution visual (a 12-megapixel PNG takes ~40 ms); with `--json`
    /// as well, operators are told so and do not render it either (a pass over
    /// the image).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub maps: Vec<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Largest input image in pixels.
    #[arg(long, default_value_t = DEFAULT_MAX_PIXELS)]
    pub max_pixels: u64,
}

/// Parses `k=v` pairs into a JSON object.
pub fn parse_params(pairs: &[String]) -> Result<serde_json::Value> {
    let mut map = serde_json::Map::new();
    for p in pairs {
        let Some((k, v)) = p.split_once('=') else { bail!("parameter `{p}` is not key=value") };
        let value = serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.to_string()));
        map.insert(k.trim().to_string(), value);
    }
    Ok(serde_json::Value::Object(map))
}

/// The map roles `trutheye op` reads: every role, unless `-o` saves only maps
/// named by role (`--maps heatmap,mask`) and no text observation is printed
/// (`--json`), which would describe the visual. A map named by its own name
/// could have any role, so it keeps every role.
fn roles_read(args: &OpArgs) -> MapRoles {
    if args.output.is_none() {
        return MapRoles::ALL;
    }
    let role = |w: &str| match w {
        "visual" => Some(MapRole::Visual),
        "heatmap" => Some(MapRole::Heatmap),
        "mask" => Some(MapRole::Mask),
        _ => None,
    };
    match args.maps.iter().map(|w| role(w)).collect::<Option<Vec<_>>>() {
        Some(roles) if args.json && !roles.is_empty() => MapRoles::of(&roles),
        _ => MapRoles::ALL,
    }
}

/// Runs `trutheye op`.
pub fn run_op(args: &OpArgs, dirs: &PluginDirs) -> Result<()> {
    let (registry, _) = dirs.load();
    if registry.get(&args.name).is_none() {
        bail!("unknown operator `{}`; available: {}", args.name, registry.names().join(", "));
    }
    let image = ImageBuf::open(&args.image, args.max_pixels)?;
    let params = parse_params(&args.params)?;
    let started = std::time::Instant::now();
    let roles = roles_read(args);
    let out = registry.call_for(&args.name, &image, &params, roles).map_err(|e| anyhow::anyhow!("{}: {e}", args.image.display()))?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut saved = Vec::new();
    if let Some(path) = &args.output {
        let stem = path.with_extension("");
        let role = |m: &trutheye_plugin_api::Map| match m.role {
            trutheye_plugin_api::MapRole::Visual => "visual",
            trutheye_plugin_api::MapRole::Heatmap => "heatmap",
            trutheye_plugin_api::MapRole::Mask => "mask",
        };
        let wanted: Vec<&trutheye_plugin_api::Map> = out.maps.iter().filter(|m| args.maps.is_empty() || args.maps.iter().any(|w| *w == m.name || *w == role(m))).collect();
        if wanted.is_empty() && (!out.maps.is_empty() || roles != MapRoles::ALL) {
            // Name every map the operator makes, including those it skipped for
            // the narrowed call (an error path, so running it again is fine).
            let every = if roles == MapRoles::ALL { None } else { registry.call(&args.name, &image, &params).ok() };
            let have: Vec<String> = every.as_ref().unwrap_or(&out).maps.iter().map(|m| format!("{} ({})", m.name, role(m))).collect();
            bail!("--maps {} matches none of `{}`'s maps: {}", args.maps.join(","), args.name, have.join(", "));
        }
        for (i, map) in wanted.into_iter().enumerate() {
            let Some(img) = map_to_image(map) else { continue };
            let p = if i == 0 { path.clone() } else { PathBuf::from(format!("{}_{}.png", stem.display(), map.name)) };
            trutheye_core::image::save_png_fast(&img, &p).with_context(|| format!("cannot write {}", p.display()))?;
            saved.push(p.display().to_string());
        }
    }
    if args.json {
        let v = serde_json::json!({
            "operator": args.name, "image": args.image, "summary": out.summary, "stats": out.stats,
            "regions": out.regions, "maps": out.maps.iter().map(|m| serde_json::json!({"name": m.name, "role": m.role, "width": m.width, "height": m.height})).collect::<Vec<_>>(),
            "saved": saved, "ms": (ms * 10.0).round() / 10.0,
        });
        println!("{v}");
    } else {
        // What the model would read. Building it turns every map into an RGB
        // image for the model (a pass over each full-size map, ~0.1 s at
        // 12 MP), so it is made only here: `--json` prints none of it.
        let mut state = EpisodeState::new(vec![Arc::new(image)], Arc::new(Registry::new()), ExecLimits::default());
        let input = state.images[0].clone();
        let obs = operator_observation(&mut state, &args.name, &input, out);
        println!("{}", obs.text);
        println!("({ms:.1} ms)");
        for s in saved {
            println!("saved {s}");
        }
    }
    Ok(())
}
