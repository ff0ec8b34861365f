//! The methods: `hello`, `open`, `execute`, `close`, `reward`, `stats`, `shutdown`.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde_json::{json, Map, Value};
use trutheye_core::{BBox, ImageBuf, Strategy, Trajectory, VerdictLabel};

use super::codec::{input_cost, load_image_within};
use super::limits::{human_bytes, release_free_memory};
use super::protocol::{RpcError, PROTOCOL_VERSION};
use super::session::{ImagesBy, Session, SessionQuota};
use super::Shared;
use trutheye_eval::rewards::{score, RewardTruth, RewardWeights};

type Params = Map<String, Value>;

/// Every method name, in the order `hello` lists them.
pub const METHODS: [&str; 7] = ["hello", "open", "execute", "close", "reward", "stats", "shutdown"];

/// Runs one method for `client` (the connection's peer: per-client limits).
pub fn dispatch(shared: &Shared, client: &str, method: &str, params: &Params) -> Result<Value, RpcError> {
    match method {
        "hello" => Ok(hello(shared)),
        "open" => open(shared, client, params),
        "execute" => execute(shared, params),
        "close" => close(shared, params),
        "reward" => reward(shared, params),
        "stats" => Ok(stats(shared)),
        "shutdown" => shutdown(shared),
        other => Err(RpcError::new("unknown_method", format!("unknown method `{other}`; methods: {}", METHODS.join(", ")))),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn str_param<'a>(p: &'a Params, key: &str) -> Result<&'a str, RpcError> {
    match p.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(RpcError::bad_request(format!("`{key}` must be a string, got {other}"))),
        None => Err(RpcError::bad_request(format!("missing parameter `{key}`"))),
    }
}

fn hello(shared: &Shared) -> Value {
    let methods: Vec<&str> = METHODS.iter().copied().filter(|m| *m != "shutdown" || shared.config.allow_shutdown).collect();
    json!({
        "protocol": PROTOCOL_VERSION,
        "server": format!("trutheye {}", env!("CARGO_PKG_VERSION")),
        "methods": methods,
        "operators": shared.registry.names(),
        "strategies": Strategy::NAMES,
        "limits": limits_json(shared),
    })
}

fn limits_json(shared: &Shared) -> Value {
    let l = &shared.config.limits;
    json!({
        "memory_budget_bytes": l.memory_budget, "max_sessions": l.max_sessions, "max_sessions_per_client": l.max_sessions_per_client,
        "session_ttl_s": l.session_ttl.as_secs(), "max_open_images": l.max_open_images, "max_session_image_bytes": l.max_session_image_bytes,
        "max_shown_pixels_per_turn": l.max_shown_pixels_per_turn, "inline_image_bytes": l.inline_image_bytes,
        "max_response_bytes": l.max_response_bytes, "max_line_bytes": shared.config.max_line_bytes, "worker_memory_bytes": l.worker_memory,
        "worker_cgroup": has_worker_cgroup(shared), "worker_share_bytes": has_worker_cgroup(shared).then(|| l.worker_share()),
    })
}

/// Work admitted under the budget: its bytes stay reserved until dropped.
struct Admitted<'a>(&'a Shared, u64);

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(self.1, Ordering::SeqCst);
    }
}

/// Admits work that may add up to `bytes` to the server's memory: reserved
/// first, then [`check_budget`] with every reservation in flight counted.
fn admit<'a>(shared: &'a Shared, what: &str, bytes: u64) -> Result<Admitted<'a>, RpcError> {
    shared.in_flight.fetch_add(bytes, Ordering::SeqCst);
    let admitted = Admitted(shared, bytes);
    check_budget(shared, what)?;
    Ok(admitted)
}

/// Refuses new work when memory, plus what the work in flight has reserved
/// (at least one turn's worst case), would exceed the budget. With the
/// workers in their own control group (the kernel holds them to their share)
/// only the server's own memory is checked against the rest; without one, the
/// whole process tree against the budget.
fn check_budget(shared: &Shared, what: &str) -> Result<(), RpcError> {
    let l = &shared.config.limits;
    let reserve = shared.in_flight.load(Ordering::SeqCst).max(l.turn_reserve());
    let (used, limit, whose) = if has_worker_cgroup(shared) {
        (super::limits::private_rss(std::process::id()).unwrap_or(0), l.memory_budget - l.worker_share(), "the server's own share")
    } else {
        (shared.memory.used(), l.memory_budget, "the memory budget")
    };
    if used.saturating_add(reserve) > limit {
        shared.stats.refused.fetch_add(1, Ordering::Relaxed);
        return Err(RpcError::new(
            "over_budget",
            format!(
                "cannot {what}: {} in use of {} ({whose} of the {} memory budget, serve --memory-budget), with {} reserved for work in flight; close sessions or retry later",
                human_bytes(used),
                human_bytes(limit),
                human_bytes(l.memory_budget),
                human_bytes(reserve)
            ),
        ));
    }
    Ok(())
}

/// Whether the workers run in the server's control group.
pub fn has_worker_cgroup(shared: &Shared) -> bool {
    #[cfg(target_os = "linux")]
    {
        lock(&shared.worker_cgroup).is_some()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = shared;
        false
    }
}

/// What the workers' control group holds now, when there is one.
fn worker_cgroup_bytes(shared: &Shared) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        lock(&shared.worker_cgroup).as_ref().and_then(|c| c.memory_used())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = shared;
        None
    }
}

fn quota_error(shared: &Shared, message: String) -> RpcError {
    shared.stats.refused.fetch_add(1, Ordering::Relaxed);
    RpcError::new("quota_exceeded", message)
}

/// Input images from `image` (one) or `images` (a list), within the per-open
/// count and the session's image quota (checked image by image, so a list of
/// huge images stops at the first one over).
fn images_param(shared: &Shared, p: &Params) -> Result<Vec<Arc<ImageBuf>>, RpcError> {
    let max = shared.config.agent.images.max_input_pixels;
    let l = &shared.config.limits;
    let specs: Vec<&str> = match (p.get("image"), p.get("images")) {
        (Some(Value::String(s)), None) => vec![s.as_str()],
        (None, Some(Value::Array(a))) if !a.is_empty() => a.iter().map(|v| v.as_str().ok_or_else(|| RpcError::bad_request("`images` must be a list of strings"))).collect::<Result<_, _>>()?,
        _ => return Err(RpcError::bad_request("give `image` (a path, base64 PNG/JPEG, or data: URL) or a non-empty `images` list")),
    };
    if specs.len() > l.max_open_images {
        return Err(quota_error(shared, format!("{} images given; a session may open at most {} (serve --max-open-images)", specs.len(), l.max_open_images)));
    }
    // What decoding will cost, from the headers: over the quota is refused
    // before any pixel is decoded, and the rest is reserved under the budget
    // while decoding (concurrent opens of large images must not overshoot it).
    let mut cost = 0u64;
    for s in &specs {
        let (source, decoded) = input_cost(s)?;
        cost = cost.saturating_add(source).saturating_add(decoded);
        if cost > l.max_session_image_bytes {
            return Err(quota_error(
                shared,
                format!("the input images take {} or more decoded, over the session quota of {} (serve --session-image-quota)", human_bytes(cost), human_bytes(l.max_session_image_bytes)),
            ));
        }
    }
    let _admitted = admit(shared, "open a session", cost)?;
    let mut images = Vec::with_capacity(specs.len());
    let mut bytes = 0u64;
    for s in specs {
        let img = load_image_within(s, max, l.max_session_image_bytes.saturating_sub(bytes)).inspect_err(|e| {
            if e.code == "quota_exceeded" {
                shared.stats.refused.fetch_add(1, Ordering::Relaxed);
            }
        })?;
        bytes += img.rgb.as_raw().len() as u64 + img.encoded.as_ref().map_or(0, |e| e.len() as u64);
        if bytes > l.max_session_image_bytes {
            return Err(quota_error(
                shared,
                format!("the input images take {} decoded, over the session quota of {} (serve --session-image-quota)", human_bytes(bytes), human_bytes(l.max_session_image_bytes)),
            ));
        }
        images.push(Arc::new(img));
    }
    Ok(images)
}

fn new_session(shared: &Shared, p: &Params) -> Result<Session, RpcError> {
    let strategy = match p.get("strategy") {
        None | Some(Value::Null) => "pvr",
        Some(Value::String(s)) => s.as_str(),
        Some(other) => return Err(RpcError::bad_request(format!("`strategy` must be a string, got {other}"))),
    };
    let Some(strategy) = Strategy::ALL.into_iter().find(|s| s.as_str() == strategy) else {
        return Err(RpcError::bad_request(format!("unknown strategy `{strategy}`; strategies: {}", Strategy::NAMES.join(", "))));
    };
    let images = images_param(shared, p)?;
    let executor = (shared.make_executor)(strategy).map_err(|e| RpcError::new("internal", e.to_string()))?;
    let n = shared.next_session.fetch_add(1, Ordering::Relaxed) + 1;
    let id = match p.get("id").and_then(Value::as_str) {
        Some(tag) if !tag.is_empty() => format!("s{n}-{}", tag.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').take(64).collect::<String>()),
        _ => format!("s{n}"),
    };
    let images_by = match p.get("images_by") {
        None | Some(Value::Null) => ImagesBy::Auto,
        Some(Value::String(s)) => ImagesBy::parse(s).ok_or_else(|| RpcError::bad_request(format!("unknown `images_by` `{s}` (auto, inline, path)")))?,
        Some(other) => return Err(RpcError::bad_request(format!("`images_by` must be a string, got {other}"))),
    };
    let l = &shared.config.limits;
    let quota = SessionQuota {
        max_image_bytes: l.max_session_image_bytes,
        max_shown_pixels_per_turn: l.max_shown_pixels_per_turn,
        inline_image_bytes: l.inline_image_bytes,
        max_inline_total: l.max_response_bytes / 2,
        images_by,
    };
    let mut session = Session::new(id, executor, images, &shared.config.agent, shared.registry.clone(), quota);
    session.set_image_dir(shared.image_root.join(&session.id));
    Ok(session)
}

/// Refuses an `open` past the session counts (in all, and for this client),
/// before any image is decoded or worker started.
fn check_session_slots(shared: &Shared, client: &str) -> Result<(), RpcError> {
    let l = &shared.config.limits;
    let sessions = lock(&shared.sessions);
    if sessions.len() >= l.max_sessions {
        shared.stats.refused.fetch_add(1, Ordering::Relaxed);
        return Err(RpcError::new("too_many_sessions", format!("{} sessions are open (limit {}, serve --max-sessions); close some", sessions.len(), l.max_sessions)));
    }
    let mine = sessions.values().filter(|s| s.try_lock().map(|s| s.client == client).unwrap_or(false)).count();
    if mine >= l.max_sessions_per_client {
        shared.stats.refused.fetch_add(1, Ordering::Relaxed);
        return Err(RpcError::new(
            "too_many_sessions",
            format!("this client ({client}) has {mine} sessions open (limit {} per client, serve --max-sessions-per-client); close some", l.max_sessions_per_client),
        ));
    }
    Ok(())
}

fn open(shared: &Shared, client: &str, p: &Params) -> Result<Value, RpcError> {
    reap_idle(shared);
    check_session_slots(shared, client)?;
    check_budget(shared, "open a session")?;
    let mut session = new_session(shared, p)?;
    session.client = client.to_string();
    let mut sessions = lock(&shared.sessions);
    // Checked again under the lock: other clients may have opened meanwhile.
    if sessions.len() >= shared.config.limits.max_sessions {
        drop(sessions);
        end_session(shared, session);
        return Err(RpcError::new("too_many_sessions", format!("{} sessions are open (limit {}); close some", shared.config.limits.max_sessions, shared.config.limits.max_sessions)));
    }
    let out = session.describe();
    tracing::debug!(session = %session.id, strategy = session.strategy, client, "session opened");
    sessions.insert(session.id.clone(), Arc::new(Mutex::new(session)));
    shared.stats.sessions_opened.fetch_add(1, Ordering::Relaxed);
    Ok(out)
}

/// Closes sessions idle for longer than the TTL (ones in use are skipped) and
/// returns their memory.
pub fn reap_idle(shared: &Shared) {
    let ttl = shared.config.limits.session_ttl;
    let expired: Vec<Arc<Mutex<Session>>> = {
        let mut sessions = lock(&shared.sessions);
        let ids: Vec<String> = sessions.iter().filter(|(_, s)| s.try_lock().map(|s| s.last_used.elapsed() >= ttl).unwrap_or(false)).map(|(k, _)| k.clone()).collect();
        ids.iter().filter_map(|id| sessions.remove(id)).collect()
    };
    if expired.is_empty() {
        return;
    }
    tracing::info!(expired = expired.len(), "idle sessions closed");
    shared.stats.sessions_expired.fetch_add(expired.len() as u64, Ordering::Relaxed);
    for s in expired {
        release_session(shared, s);
    }
}

/// Closes every session (server stop).
pub fn close_all(shared: &Shared) {
    let all: Vec<Arc<Mutex<Session>>> = lock(&shared.sessions).drain().map(|(_, s)| s).collect();
    for s in all {
        release_session(shared, s);
    }
}

/// Drops a removed session: its worker ends, its image directory is deleted
/// and freed heap memory goes back to the system. A connection thread still in
/// one of its turns holds the last reference; the memory goes when it returns.
fn release_session(shared: &Shared, s: Arc<Mutex<Session>>) {
    match Arc::try_unwrap(s) {
        Ok(m) => end_session(shared, m.into_inner().unwrap_or_else(|p| p.into_inner())),
        Err(still_used) => {
            if let Some(dir) = lock(&still_used).image_dir() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

fn end_session(shared: &Shared, session: Session) {
    let dir = session.image_dir().map(|d| d.to_path_buf());
    drop(session);
    if let Some(dir) = dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    release_free_memory();
    shared.memory.invalidate();
}

fn get_session(shared: &Shared, p: &Params) -> Result<Arc<Mutex<Session>>, RpcError> {
    let id = str_param(p, "session")?;
    lock(&shared.sessions).get(id).cloned().ok_or_else(|| RpcError::new("unknown_session", format!("no open session `{id}` (closed, expired, or never opened)")))
}

fn execute(shared: &Shared, p: &Params) -> Result<Value, RpcError> {
    let text = str_param(p, "text")?;
    let session = get_session(shared, p)?;
    // A client retrying a refused turn is not idle: the reaper must not
    // take its session meanwhile.
    if let Ok(mut s) = session.try_lock() {
        s.last_used = Instant::now();
    }
    let _admitted = admit(shared, "run a turn", shared.config.limits.turn_reserve())?;
    let out = lock(&session).execute(text)?;
    let kind = out["kind"].as_str().unwrap_or("");
    let counter = match kind {
        "code" | "tool_call" => &shared.stats.actions,
        "format_error" => &shared.stats.format_errors,
        "answer" => &shared.stats.answers,
        "quota" => &shared.stats.refused,
        _ => &shared.stats.budget_notices,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    Ok(out)
}

fn close(shared: &Shared, p: &Params) -> Result<Value, RpcError> {
    let id = str_param(p, "session")?;
    let removed = lock(&shared.sessions).remove(id);
    match removed {
        Some(s) => {
            let turns = lock(&s).turn_count();
            release_session(shared, s);
            Ok(json!({"session": id, "closed": true, "turns": turns}))
        }
        None => Err(RpcError::new("unknown_session", format!("no open session `{id}`"))),
    }
}

fn weights(shared: &Shared, p: &Params) -> Result<RewardWeights, RpcError> {
    let Some(overrides) = p.get("weights") else { return Ok(shared.config.weights.clone()) };
    let Value::Object(o) = overrides else { return Err(RpcError::bad_request("`weights` must be an object")) };
    let mut base = serde_json::to_value(&shared.config.weights).map_err(|e| RpcError::new("internal", e.to_string()))?;
    if let Value::Object(b) = &mut base {
        for (k, v) in o {
            b.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(base).map_err(|e| RpcError::bad_request(format!("bad `weights`: {e}")))
}

fn truth(p: &Params) -> Result<RewardTruth, RpcError> {
    let Some(Value::Object(t)) = p.get("truth") else { return Err(RpcError::bad_request("missing `truth` object ({\"label\": ..., \"bbox\"?: [x1,y1,x2,y2], \"mask\"?: path})")) };
    let word = str_param(t, "label")?;
    let label = VerdictLabel::parse(word).ok_or_else(|| RpcError::bad_request(format!("unknown label `{word}` (authentic, synthetic, tampered, real, fake)")))?;
    let bbox = match t.get("bbox") {
        None | Some(Value::Null) => None,
        Some(v) => Some(serde_json::from_value::<BBox>(v.clone()).map_err(|e| RpcError::bad_request(format!("`truth.bbox` must be [x1, y1, x2, y2] integers: {e}")))?),
    };
    let bbox = match (bbox, t.get("mask").and_then(Value::as_str)) {
        (Some(b), _) => Some(b),
        (None, Some(mask)) => mask_bbox(mask)?,
        (None, None) => None,
    };
    Ok(RewardTruth { label, bbox })
}

/// The box (x2/y2 exclusive) around a mask's pixels above 127; `None` when empty.
/// The mask is read and decoded under the default input limits (a regular file
/// of at most 256 MiB, at most 64 MP, checked before decoding).
fn mask_bbox(path: &str) -> Result<Option<BBox>, RpcError> {
    let m = trutheye_core::image::open_gray(std::path::Path::new(path), trutheye_core::DecodeOptions::default())
        .map_err(|e| RpcError::new("bad_image", format!("truth mask {e}")))?;
    let mut b: Option<BBox> = None;
    for (x, y, px) in m.enumerate_pixels() {
        if px.0[0] > 127 {
            b = Some(match b {
                None => [x, y, x + 1, y + 1],
                Some([x1, y1, x2, y2]) => [x1.min(x), y1.min(y), x2.max(x + 1), y2.max(y + 1)],
            });
        }
    }
    Ok(b)
}

/// The trajectory to score: `trajectory` (a recorded one), `session` (an open
/// session's turns so far) or `replay` (assistant texts re-executed in a
/// throw-away session: `{"image"|"images", "strategy", "turns": [text, ...]}`).
fn trajectory(shared: &Shared, p: &Params) -> Result<Trajectory, RpcError> {
    if let Some(t) = p.get("trajectory") {
        return serde_json::from_value(t.clone()).map_err(|e| RpcError::bad_request(format!("`trajectory` is not a trajectory (docs/trajectory.md): {e}")));
    }
    if p.contains_key("session") {
        let session = get_session(shared, p)?;
        let t = lock(&session).trajectory("served");
        return Ok(t);
    }
    if let Some(Value::Object(r)) = p.get("replay") {
        let turns: Vec<&str> = match r.get("turns") {
            Some(Value::Array(a)) => a.iter().map(|v| v.as_str().ok_or_else(|| RpcError::bad_request("`replay.turns` must be strings"))).collect::<Result<_, _>>()?,
            _ => return Err(RpcError::bad_request("`replay.turns` must be a list of assistant texts")),
        };
        let _admitted = admit(shared, "replay a trajectory", shared.config.limits.turn_reserve())?;
        let mut session = new_session(shared, r)?;
        session.set_image_dir(shared.image_root.join(format!("{}-replay", session.id)));
        let mut run = || -> Result<(), RpcError> {
            for text in &turns {
                if session.done() {
                    break;
                }
                session.execute(text)?;
            }
            Ok(())
        };
        let ran = run();
        let t = session.trajectory("replay");
        end_session(shared, session);
        ran?;
        return Ok(t);
    }
    Err(RpcError::bad_request("give one of `trajectory`, `session` or `replay`"))
}

fn reward(shared: &Shared, p: &Params) -> Result<Value, RpcError> {
    let w = weights(shared, p)?;
    let truth = truth(p)?;
    let kind = p.get("kind").and_then(Value::as_str).unwrap_or("forenagent");
    let t = trajectory(shared, p)?;
    let r = score(&t, &truth, &w);
    let total = match kind {
        "forenagent" => r.forenagent,
        "trutheye2" => r.trutheye2,
        other => return Err(RpcError::bad_request(format!("unknown reward `kind` `{other}` (forenagent, trutheye2)"))),
    };
    Ok(json!({"kind": kind, "total": total, "forenagent": r.forenagent, "trutheye2": r.trutheye2, "components": r, "turns": t.turns.len(), "verdict": t.verdict}))
}

fn stats(shared: &Shared) -> Value {
    let s = &shared.stats;
    let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let open_now = lock(&shared.sessions).len();
    json!({
        "requests": get(&s.requests), "errors": get(&s.errors), "connections": get(&s.connections),
        "sessions_open": open_now, "sessions_opened": get(&s.sessions_opened),
        "actions": get(&s.actions), "format_errors": get(&s.format_errors), "answers": get(&s.answers), "budget_notices": get(&s.budget_notices),
        "refused": get(&s.refused), "sessions_expired": get(&s.sessions_expired),
        "memory_bytes": shared.memory.used(), "memory_budget_bytes": shared.config.limits.memory_budget, "worker_cgroup_bytes": worker_cgroup_bytes(shared),
        "uptime_s": shared.started.elapsed().as_secs_f64(),
    })
}

fn shutdown(shared: &Shared) -> Result<Value, RpcError> {
    if !shared.config.allow_shutdown {
        return Err(RpcError::new("not_allowed", "shutdown is disabled (start the server with --allow-shutdown)"));
    }
    tracing::info!("shutdown requested by a client");
    shared.stop.store(true, Ordering::SeqCst);
    Ok(json!({"stopping": true}))
}

/// Session ids → sessions.
pub type SessionMap = HashMap<String, Arc<Mutex<Session>>>;

/// Time helper for callers that log request latency.
pub fn elapsed_ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}
