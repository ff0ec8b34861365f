"""ms-swift plugin for trutheye: reward functions and a multi-turn scheduler.

Pinned to **ms-swift 4.x** (written against ms-swift 4.6.0). Version 4 moved
the plugin registries: ORMs now live in ``swift.rewards.orm`` (``ORM``,
``orms``) and schedulers in ``swift.rollout.multi_turn`` (``MultiTurnScheduler``,
``multi_turns``); the 3.x paths (``swift.plugin``, ``swift.plugin.multi_turn``)
are not used. Without ms-swift installed (unit tests) the two base classes are
replaced by minimal stand-ins so the module still imports.

Run for real by ``trainer/python/grpo_cpu_step.sh``: ``swift rlhf --rlhf_type grpo
--use_vllm false`` on the CPU with this scheduler and both rewards (ms-swift 4.6.0
drives multi-turn rollouts without vLLM too: ``swift.rollout.agent_loop.run_multi_turn``
over its ``TransformersEngine``); ``tests/test_swift_multi_turn.py`` drives it
through ms-swift's own classes.

Usage (see serve/README.md)::

    trutheye serve --socket /tmp/trutheye.sock &
    swift rollout ... --external_plugins trainer/python/trutheye_swift/swift_plugin.py \
        --multi_turn_scheduler trutheye_scheduler --max_turns 8
    swift rlhf --rlhf_type grpo ... --external_plugins trainer/python/trutheye_swift/swift_plugin.py \
        --reward_funcs trutheye_forenagent    # or trutheye_trutheye2

Environment: ``TRUTHEYE_SOCKET`` (default ``/tmp/trutheye.sock``) or
``TRUTHEYE_TCP`` (``host:port``); ``TRUTHEYE_STRATEGY`` (``pvr``, ``registry``,
``hybrid``; default ``pvr``; a dataset column ``strategy`` wins);
``TRUTHEYE_REWARD_WEIGHTS`` (JSON object overriding reward weights).
"""

import base64
import io
import json
import os
import sys
import threading

try:  # the package directory may be passed as a bare file to --external_plugins
    from .client import TruthEyeClient, TruthEyeError, observation_png
except ImportError:  # pragma: no cover - loaded by path, not as a package
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from trutheye_swift.client import TruthEyeClient, TruthEyeError, observation_png

MS_SWIFT_PINNED = "4.6.0"  # major version 4: swift.rewards.orm / swift.rollout.multi_turn

try:
    from swift.rewards.orm import ORM, orms
    from swift.rollout.multi_turn import MultiTurnScheduler, multi_turns

    HAVE_SWIFT = True
except ImportError:
    HAVE_SWIFT = False
    orms = {}
    multi_turns = {}

    class ORM:  # stand-in for swift.rewards.orm.ORM
        def __call__(self, completions, **kwargs):
            raise NotImplementedError

    class MultiTurnScheduler:  # stand-in for swift.rollout.multi_turn.MultiTurnScheduler
        def __init__(self, infer_engine=None, max_turns=None, *args, **kwargs):
            self.infer_engine = infer_engine
            self.max_turns = max_turns

        def check_finished(self, infer_request, response_choice, current_turn):
            if getattr(response_choice, "finish_reason", None) == "length":
                return True
            return bool(self.max_turns and current_turn >= self.max_turns)


_local = threading.local()


def client():
    """One connection per thread, opened on first use (``TruthEyeClient.from_env``) and
    reopened when ``TRUTHEYE_TCP``/``TRUTHEYE_SOCKET`` names another server."""
    target = (os.environ.get("TRUTHEYE_TCP"), os.environ.get("TRUTHEYE_SOCKET"))
    c = getattr(_local, "client", None)
    if c is None or getattr(_local, "target", None) != target:
        if c is not None:
            try:
                c.close_connection()
            except OSError:
                pass
        c = _local.client = TruthEyeClient.from_env()
        _local.target = target
    return c


def _get(obj, name, default=None):
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _image_spec(img):
    """An ms-swift image (path, URL-less base64, {'bytes'|'path'}, bytes, PIL) -> what ``open`` accepts."""
    if isinstance(img, dict):
        img = img.get("bytes") or img.get("path")
    if isinstance(img, (bytes, bytearray, str)) or isinstance(img, os.PathLike):
        return img
    if hasattr(img, "save"):  # PIL.Image
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        return buf.getvalue()
    raise TypeError(f"cannot send an image of type {type(img).__name__} to trutheye")


def _observation_image(entry):
    """An observation image (``{"png_base64": ...}`` inline, or ``{"path": ...}`` for
    large ones, which the server deletes with the session: read it now) as a
    ``data:image/png;base64,`` URL: ms-swift's ``RolloutInferRequest.images`` is a
    list of strings (path, URL or base64; ``swift.template.vision_utils.load_image``
    decodes data URLs), which also keeps the request JSON-serialisable for
    ``swift rollout`` (server mode)."""
    return "data:image/png;base64," + base64.b64encode(observation_png(entry)).decode("ascii")


def _strategy(data=None):
    s = _get(data, "strategy") if data is not None else None
    return s or os.environ.get("TRUTHEYE_STRATEGY", "pvr")


class TruthEyeScheduler(MultiTurnScheduler):
    """Sends each assistant turn to ``trutheye serve`` and appends the observation.

    The episode ends on a final ``<answer>``, when the server says the episode is
    done (budget, repeated format errors), or on ms-swift's own limits
    (``--max_turns``, a truncated completion). ``rollout_infos`` carries
    ``trutheye_session`` (so the reward scores the live session),
    ``trutheye_turn``/``trutheye_kind`` of the last turn, ``trutheye_turns`` (the
    assistant texts sent, for a replay if the session is gone) and, once an
    observation added images, ``images`` (the request's whole image list: ms-swift
    copies ``rollout_infos['images']`` onto the training sample, without it the
    sample would keep only the prompt's image and the observation ``<image>`` tags
    would not match).

    ms-swift 4 calls ``on_turn_end`` (async) before ``check_finished`` in both
    colocate mode (``swift.rollout.agent_loop.run_multi_turn``, which GRPO uses
    with ``--use_vllm false`` too) and server mode (``MultiTurnScheduler.run``):
    the turn is executed there, so every rollout reports its session, even one
    that answers at once. A driver that calls only ``check_finished``/``step``
    (3.x, the tests) gets the turn executed in ``check_finished``.
    """

    def __init__(self, infer_engine=None, max_turns=None, *args, **kwargs):
        super().__init__(infer_engine, max_turns, *args, **kwargs)
        self._sessions = {}
        self._pending = {}  # key -> (current_turn, execute result)
        self._turns = {}  # key -> assistant texts sent so far
        self._lock = threading.Lock()

    @staticmethod
    def _key(infer_request):
        return _get(infer_request, "uuid") or id(infer_request)

    def _session(self, infer_request):
        key = self._key(infer_request)
        with self._lock:
            sid = self._sessions.get(key)
        if sid is None:
            images = _get(infer_request, "images") or []
            if not images:
                raise ValueError("trutheye scheduler: the rollout request carries no image")
            data = _get(infer_request, "data_dict")
            sid = client().open(_image_spec(images[0]), strategy=_strategy(data))["session"]
            with self._lock:
                self._sessions[key] = sid
                self._turns[key] = []
        return key, sid

    def _execute(self, infer_request, response_choice, current_turn):
        """Runs this turn on the server once (cached by turn number); returns (key, sid, result)."""
        key, sid = self._session(infer_request)
        with self._lock:
            pending = self._pending.get(key)
        if pending is not None and pending[0] == current_turn:
            return key, sid, pending[1]
        text = _get(response_choice.message, "content") or ""
        if not isinstance(text, str):
            raise TypeError(f"trutheye scheduler: the completion is {type(text).__name__}, not text")
        result = client().execute(sid, text)
        with self._lock:
            self._pending[key] = (current_turn, result)
            self._turns.setdefault(key, []).append(text)
        return key, sid, result

    def _infos(self, key, sid, result):
        with self._lock:
            turns = list(self._turns.get(key, []))
        return {"trutheye_session": sid, "trutheye_turn": result["turn"], "trutheye_kind": result["kind"], "trutheye_turns": turns}

    async def on_turn_end(self, infer_request, response_choice, current_turn):
        key, sid, result = self._execute(infer_request, response_choice, current_turn)
        return {"rollout_infos": self._infos(key, sid, result)}

    def check_finished(self, infer_request, response_choice, current_turn):
        key, _sid, result = self._execute(infer_request, response_choice, current_turn)
        if result["done"] or super().check_finished(infer_request, response_choice, current_turn):
            with self._lock:
                self._pending.pop(key, None)
                self._sessions.pop(key, None)
                self._turns.pop(key, None)
            return True
        return False

    def step(self, infer_request, response_choice, current_turn):
        key = self._key(infer_request)
        with self._lock:
            _turn, result = self._pending.pop(key)
            sid = self._sessions.get(key)
        obs = result["observation"] or {}
        messages = _get(infer_request, "messages")
        messages.append({"role": obs.get("role", "user"), "content": obs.get("content", "")})
        images = _get(infer_request, "images")
        added = obs.get("images", [])
        for im in added:
            images.append(_observation_image(im))
        infos = self._infos(key, sid, result)
        if added:
            infos["images"] = list(images)
        return {"infer_request": infer_request, "rollout_infos": infos}


# Rewards of live sessions, scored once for every kind and then closed on the
# server, so a long GRPO run does not pile up sessions until `--session-ttl`
# (every rollout opens one; `--max-sessions` would refuse new rollouts). The
# second reward function of the same rollout reads its score from here.
REWARD_KINDS = ("forenagent", "trutheye2")
_SCORED_MAX = 4096
_scored = {}
_scored_lock = threading.Lock()


def _score_session(sid, truth, weights, kind):
    """The reward of live session ``sid`` (``None`` if the server no longer has it).

    The first call scores every kind in ``REWARD_KINDS`` and closes the session;
    later calls for the same session, truth and weights come from the cache."""
    key = (sid, json.dumps(truth, sort_keys=True), json.dumps(weights, sort_keys=True))
    with _scored_lock:
        hit = _scored.get(key)
    if hit is None:
        c = client()
        try:
            hit = {k: c.reward(truth, session=sid, weights=weights, kind=k) for k in REWARD_KINDS}
        except TruthEyeError as e:
            if e.code != "unknown_session":
                raise
            return None
        try:
            c.close(sid)
        except TruthEyeError as e:
            if e.code != "unknown_session":
                raise
        with _scored_lock:
            if len(_scored) >= _SCORED_MAX:
                _scored.pop(next(iter(_scored)))
            _scored[key] = hit
    return hit.get(kind)


class _TruthEyeReward(ORM):
    """Scores each completion with trutheye's reward (``kind``) against the dataset's
    ``solution`` (label) and optional ``bbox`` columns (as written by ``trutheye data grpo``)."""

    kind = "forenagent"

    def __call__(self, completions, solution=None, bbox=None, messages=None, images=None, rollout_infos=None, **kwargs):
        if solution is None:
            raise ValueError("trutheye reward: the dataset needs a `solution` column (the label)")
        weights = json.loads(os.environ["TRUTHEYE_REWARD_WEIGHTS"]) if os.environ.get("TRUTHEYE_REWARD_WEIGHTS") else None
        strategies = kwargs.get("strategy")
        out = []
        for i, completion in enumerate(completions):
            truth = {"label": solution[i], "bbox": bbox[i] if bbox is not None else None}
            info = rollout_infos[i] if rollout_infos is not None and i < len(rollout_infos) else None
            sid = _get(info, "trutheye_session") if info else None
            result = None
            if sid:
                result = _score_session(sid, truth, weights, self.kind)
            if result is None:
                # The scheduler's record of the texts it sent; else the assistant messages
                # (ms-swift 4 freezes earlier assistant turns to token-id lists: not text).
                turns = list(_get(info, "trutheye_turns") or []) if info else []
                if not turns:
                    turns = [m["content"] for m in (messages[i] if messages is not None else []) if m.get("role") == "assistant" and isinstance(m.get("content"), str) and m["content"]]
                if not turns or turns[-1] != completion:
                    turns.append(completion)
                imgs = images[i] if images is not None else None
                if not imgs:
                    raise ValueError("trutheye reward: no `images` for this sample and no live session to score")
                first = imgs[0] if isinstance(imgs, (list, tuple)) else imgs
                strategy = strategies[i] if strategies is not None else _strategy()
                replay = {"image": _image_spec(first), "strategy": strategy, "turns": turns}
                result = client().reward(truth, replay=replay, weights=weights, kind=self.kind)
            out.append(float(result["total"]))
        return out


class TruthEyeForenAgentReward(_TruthEyeReward):
    """ForenAgent's reward: accuracy + format + tool use (global, logic, crop, coherence)."""

    kind = "forenagent"


class TruthEyeTruthEye2Reward(_TruthEyeReward):
    """TruthEYE2's reward: accuracy + format + localization IoU."""

    kind = "trutheye2"


orms["trutheye_forenagent"] = TruthEyeForenAgentReward
orms["trutheye_trutheye2"] = TruthEyeTruthEye2Reward
multi_turns["trutheye_scheduler"] = TruthEyeScheduler
