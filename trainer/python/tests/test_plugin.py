"""The client and the ms-swift plugin against the real ``trutheye serve`` binary.

unittest only (no pytest); no ms-swift or GPU needed (the plugin's stand-ins are
used). Binary: $TRUTHEYE_BIN, default target/debug/trutheye from the repository root.

    python3 -m unittest discover -s trainer/python/tests -v
"""

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
from types import SimpleNamespace

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.dirname(HERE))

from trutheye_swift import TruthEyeClient, TruthEyeError  # noqa: E402
from trutheye_swift.client import observation_png  # noqa: E402
from trutheye_swift import swift_plugin  # noqa: E402

SAMPLE = os.path.join(ROOT, "samples", "authentic-dev-000.jpg")
CROP = "<think>zoom in</think><code>c = image.crop((10, 20, 74, 52))\nresult = c</code>"
ANSWER_TAMPERED = '<answer>{"label": "tampered", "bbox": [0, 0, 64, 64]}</answer>'


def start_server(tmp):
    binary = os.environ.get("TRUTHEYE_BIN", os.path.join(ROOT, "target", "debug", "trutheye"))
    sock = os.path.join(tmp, "te.sock")
    proc = subprocess.Popen(
        [binary, "serve", "--socket", sock, "--allow-shutdown", "--json", "--action-timeout", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError("trutheye serve did not start: " + proc.stderr.read())
    info = json.loads(line)
    assert info["event"] == "listening" and info["socket"] == sock, info
    return proc, sock


class Choice:
    def __init__(self, text, finish_reason="stop"):
        self.message = SimpleNamespace(content=text)
        self.finish_reason = finish_reason


def fake_rollout(scheduler, request, completions):
    """What MultiTurnScheduler.run does, with canned assistant texts for the model."""
    turn, infos = 1, {}
    for text in completions:
        request.messages.append({"role": "assistant", "content": text})
        if scheduler.check_finished(request, Choice(text), turn):
            return turn, infos
        ret = scheduler.step(request, Choice(text), turn)
        request = ret["infer_request"]
        infos.update(ret.get("rollout_infos") or {})
        turn += 1
    return turn - 1, infos


class ServerFixture:
    """One `trutheye serve` for a test class: started before its tests, asked
    to shut down after them (killed if it does not), its directory removed.
    Shared by this file's tests and the ms-swift multi-turn tests."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.proc, cls.sock = start_server(cls.tmp.name)
        os.environ["TRUTHEYE_SOCKET"] = cls.sock
        os.environ.pop("TRUTHEYE_TCP", None)

    @classmethod
    def tearDownClass(cls):
        try:
            with TruthEyeClient(cls.sock) as c:
                c.shutdown()
            cls.proc.wait(timeout=20)
        finally:
            if cls.proc.poll() is None:
                cls.proc.kill()
            cls.proc.stdout.close()
            cls.proc.stderr.close()
            cls.tmp.cleanup()


class PluginTest(ServerFixture, unittest.TestCase):
    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        assert not os.path.exists(cls.sock), "socket removed on exit"

    def test_client_round_trip(self):
        with TruthEyeClient(self.sock) as c:
            hello = c.hello()
            self.assertEqual(hello["protocol"], 1)
            self.assertIn("srm", hello["operators"])
            self.assertIn("pvr", hello["strategies"])
            with open(SAMPLE, "rb") as f:
                opened = c.open(f.read(), strategy="pvr")  # bytes travel as base64
            sid = opened["session"]
            self.assertEqual(opened["images"][0]["width"], 640)
            turn = c.execute(sid, CROP)
            self.assertEqual(turn["kind"], "code")
            self.assertFalse(turn["final"])
            obs = turn["observation"]
            self.assertEqual(obs["bbox_candidate"], [10, 20, 74, 52])
            png = base64.b64decode(obs["images"][0]["png_base64"])
            self.assertTrue(png.startswith(b"\x89PNG"))
            self.assertTrue(obs["content"].endswith("<image>"))
            final = c.execute(sid, "<answer>authentic</answer>")
            self.assertTrue(final["final"] and final["done"])
            self.assertEqual(c.close(sid)["turns"], 2)
            with self.assertRaises(TruthEyeError) as e:
                c.execute(sid, "<answer>real</answer>")
            self.assertEqual(e.exception.code, "unknown_session")
            bad = c.raw(b'{"v": 7, "id": 1, "method": "hello"}')
            self.assertEqual(bad["error"]["code"], "unsupported_version")
            # Images by path: a PNG in the session's directory, gone after close.
            sid = c.open(SAMPLE, strategy="pvr", images_by="path")["session"]
            entry = c.execute(sid, CROP)["observation"]["images"][0]
            self.assertNotIn("png_base64", entry)
            self.assertTrue(observation_png(entry).startswith(b"\x89PNG"))
            c.close(sid)
            self.assertFalse(os.path.exists(entry["path"]))
            self.assertGreaterEqual(c.stats()["requests"], 7)

    def test_scheduler_runs_turns_and_feeds_observations(self):
        sched = swift_plugin.TruthEyeScheduler(max_turns=6)
        request = SimpleNamespace(messages=[{"role": "system", "content": "s"}, {"role": "user", "content": "<image>?"}], images=[SAMPLE], uuid="r1")
        turns, infos = fake_rollout(sched, request, [CROP, "not an action", ANSWER_TAMPERED, "never sent"])
        self.assertEqual(turns, 3)
        roles = [m["role"] for m in request.messages]
        self.assertEqual(roles, ["system", "user", "assistant", "user", "assistant", "user", "assistant"])
        self.assertTrue(request.messages[3]["content"].endswith("<image>"))
        self.assertTrue(request.messages[5]["content"].startswith("Format error:"))
        self.assertEqual(len(request.images), 2, "the crop was appended as an image")
        self.assertIsNotNone(infos["trutheye_session"])

        # Rewards, by the live session (rollout_infos) and by replaying the messages.
        truth = {"solution": ["tampered"], "bbox": [[0, 0, 32, 64]]}
        fa = swift_plugin.orms["trutheye_forenagent"]()
        te2 = swift_plugin.orms["trutheye_trutheye2"]()
        by_session = fa([ANSWER_TAMPERED], rollout_infos=[infos], **truth)
        by_replay = fa([ANSWER_TAMPERED], messages=[request.messages], images=[[SAMPLE]], **truth)
        # crop ok, one format error of 3 turns: format 2/3, logic 1, crop 1 ->
        # tool .5, ForenAgent = 1 + .2*(2/3) + .4*.5 = 1.3333; loc IoU([0,0,32,64],[0,0,64,64]) = .5
        self.assertAlmostEqual(by_session[0], 1 + 0.2 * 2 / 3 + 0.2, places=9)
        self.assertAlmostEqual(by_replay[0], by_session[0], places=9)
        self.assertAlmostEqual(te2([ANSWER_TAMPERED], rollout_infos=[infos], **truth)[0], 1 + 0.2 * 2 / 3 + 0.25, places=9)
        wrong = fa([ANSWER_TAMPERED], messages=[request.messages], images=[[SAMPLE]], solution=["authentic"], bbox=[None])
        self.assertAlmostEqual(wrong[0], 0.2 * 2 / 3 + 0.4 * 0.5, places=9)

    def test_scheduler_registry_strategy_and_immediate_answer(self):
        os.environ["TRUTHEYE_STRATEGY"] = "registry"
        try:
            sched = swift_plugin.TruthEyeScheduler(max_turns=2)
            request = SimpleNamespace(messages=[], images=[SAMPLE], uuid="r2")
            call = '<tool_call>{"name": "srm", "arguments": {}}</tool_call>'
            turns, infos = fake_rollout(sched, request, [call, call, call])
            self.assertEqual(turns, 2, "ms-swift's max_turns stops the rollout")
            self.assertEqual(request.messages[1]["role"], "tool")
            self.assertTrue(request.messages[1]["content"].startswith("[srm on image_clue_0]"))
            immediate = SimpleNamespace(messages=[], images=[SAMPLE], uuid="r3")
            turns, infos = fake_rollout(sched, immediate, ["<answer>authentic</answer>"])
            self.assertEqual((turns, infos), (1, {}))
        finally:
            del os.environ["TRUTHEYE_STRATEGY"]


if __name__ == "__main__":
    unittest.main()
