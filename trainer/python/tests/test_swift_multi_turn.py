"""The plugin driven by ms-swift's own multi-turn machinery against the real ``trutheye serve``.

Needs ms-swift 4.x (skipped without it; the venv that trainer/python/grpo_cpu_step.sh
builds has it):

    target/swift-venv/bin/python -m unittest discover -s trainer/python/tests -v

What GRPO does with ``--multi_turn_scheduler`` in colocate mode (also with
``--use_vllm false``), with scripted assistant turns instead of a model:
``swift.rollout.agent_loop.run_multi_turn`` over ``RolloutInferRequest``s with the
scheduler from ms-swift's ``multi_turns`` registry (given the fixture tokenizer, as
the trainer gives its own), ``OnPolicySample.apply_rollout_output`` merging the
rollouts back, ``swift.rl_core.grpo_algorithm.compute_rewards_per_func`` calling
both ORMs from ms-swift's ``orms`` registry, and ``encode_sample`` encoding the
multi-turn sample with the Qwen2.5-VL template as the trainer does before the loss.
"""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from test_plugin import ServerFixture  # noqa: E402
from trutheye_swift import TruthEyeClient, swift_plugin  # noqa: E402

HAVE_SWIFT = swift_plugin.HAVE_SWIFT
FIXTURE = os.path.join(ROOT, "model", "fixtures", "qwen25vl", "tiny-deep")

SAMPLE = os.path.join(ROOT, "samples", "authentic-dev-000.jpg")
CROP = "<think>zoom in</think><code>c = image.crop((10, 20, 74, 52))\nresult = c</code>"
ANSWER_TAMPERED = '<answer>{"label": "tampered", "bbox": [0, 0, 64, 64]}</answer>'


@unittest.skipUnless(HAVE_SWIFT, "ms-swift is not installed (see trainer/python/grpo_cpu_step.sh)")
class SwiftMultiTurnTest(ServerFixture, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        from transformers import AutoTokenizer

        super().setUpClass()
        cls.tokenizer = AutoTokenizer.from_pretrained(FIXTURE)

    @classmethod
    def tearDownClass(cls):
        # The plugin's per-thread client holds a connection; close it first so
        # the server can shut down.
        c = getattr(swift_plugin._local, "client", None)
        if c is not None:
            c.close_connection()
            swift_plugin._local.client = None
        super().tearDownClass()

    def _response(self, text):
        from swift.infer_engine.protocol import ChatCompletionResponse, ChatCompletionResponseChoice, ChatMessage, UsageInfo

        ids = self.tokenizer.encode(text, add_special_tokens=False)
        choice = ChatCompletionResponseChoice(0, ChatMessage("assistant", text), "stop", token_ids=ids)
        return ChatCompletionResponse("scripted", [choice], UsageInfo(0, len(ids), len(ids)))

    def test_run_multi_turn_rewards_and_encode(self):
        from swift.infer_engine.protocol import RequestConfig, RolloutInferRequest, RolloutOutput
        from swift.rewards.orm import orms
        from swift.rl_core.data import OnPolicySample
        from swift.rl_core.grpo_algorithm import compute_rewards_per_func
        from swift.rollout.agent_loop import run_multi_turn
        from swift.rollout.multi_turn import multi_turns

        self.assertIs(multi_turns["trutheye_scheduler"], swift_plugin.TruthEyeScheduler)
        scheduler = multi_turns["trutheye_scheduler"](max_turns=4, tokenizer=self.tokenizer, template=None)

        scripts = {
            "a": [CROP, "not an action", ANSWER_TAMPERED, "never sent"],  # crop, format error, answer
            "b": ["<answer>authentic</answer>"],  # answers at once
        }
        truth = {"a": ("tampered", [0, 0, 32, 64]), "b": ("authentic", None)}
        rows = []
        for key in scripts:
            rows.append({
                "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "<image>Is it edited?"}],
                "images": [SAMPLE],
                "request_id": key,
                "solution": truth[key][0],
                "bbox": truth[key][1],
            })
        samples = [OnPolicySample.from_row(r) for r in rows]
        requests = [s.to_infer_request(include_extra=True) for s in samples]
        self.assertIsInstance(requests[0], RolloutInferRequest)
        self.assertEqual(requests[0].data_dict["solution"], "tampered")

        cursor = {key: 0 for key in scripts}

        def rollout_fn(reqs, _config):
            out = []
            for req in reqs:
                text = scripts[req.uuid][cursor[req.uuid]]
                cursor[req.uuid] += 1
                out.append(RolloutOutput(response=self._response(text)))
            return out

        first = rollout_fn(requests, None)
        outputs = run_multi_turn(requests, first, scheduler, rollout_fn, RequestConfig(), max_turns=4)
        self.assertEqual(cursor, {"a": 3, "b": 1}, "the answer ends each rollout, no further turn is asked for")

        done = []
        for sample, output in zip(samples, outputs):
            sample.apply_rollout_output(rollout_output=output)
            done.append(sample)
        a, b = done
        self.assertEqual(a.rollout_infos["num_turns"], 3)
        self.assertEqual(b.rollout_infos["num_turns"], 1)
        self.assertTrue(b.rollout_infos["trutheye_session"], "on_turn_end reports the session of an immediate answer")
        self.assertEqual(a.rollout_infos["trutheye_turns"], [CROP, "not an action", ANSWER_TAMPERED])
        roles = [m["role"] for m in a.messages]
        self.assertEqual(roles, ["system", "user", "assistant", "user", "assistant", "user", "assistant"])
        self.assertTrue(a.messages[5]["content"].startswith("Format error:"))
        # The crop came back as a data URL and reached the training sample through rollout_infos['images'].
        self.assertEqual(len(a.images), 2)
        self.assertTrue(a.images[1].startswith("data:image/png;base64,"))
        tags = sum(m["content"].count("<image>") for m in a.messages if isinstance(m["content"], str))
        self.assertEqual(tags, len(a.images))
        self.assertEqual(a.messages[-1]["content"], ANSWER_TAMPERED)
        self.assertEqual(len(a.response_token_ids), 3, "one token-id list per assistant turn")

        # ms-swift's reward path: kwargs built from OnPolicySample.to_reward_row.
        funcs = [orms["trutheye_forenagent"](), orms["trutheye_trutheye2"]()]
        import torch

        rewards = compute_rewards_per_func(done, funcs, None, device=torch.device("cpu"))
        fa = 1 + 0.2 * 2 / 3 + 0.4 * 0.5  # acc, format 2/3, tool (crop ok, logic) .5
        te2 = 1 + 0.2 * 2 / 3 + 0.25  # loc IoU([0,0,32,64], [0,0,64,64]) = .5
        self.assertAlmostEqual(rewards[0, 0].item(), fa, places=5)
        self.assertAlmostEqual(rewards[0, 1].item(), te2, places=5)
        self.assertGreater(rewards[1, 0].item(), 1.0, "b answered right")
        # Scoring closed the rollouts' sessions (both kinds scored at once), so
        # a long run does not pile them up until --session-ttl.
        with TruthEyeClient(self.sock) as c:
            self.assertEqual(c.stats()["sessions_open"], 0)
        # The same reward by replay once the session is gone (and forgotten here).
        swift_plugin._scored.clear()
        again = compute_rewards_per_func([a], funcs, None, device=torch.device("cpu"))
        self.assertAlmostEqual(again[0, 0].item(), fa, places=5)

        # The trainer encodes the multi-turn sample (assistant turns as token ids,
        # observation images included) with the model's template before the loss.
        os.environ["TRUTHEYE_SWIFT_MODEL_DIR"] = FIXTURE
        import tiny_fixture_swift_plugin  # noqa: F401  (media token ids of the tiny tokenizer)
        from swift.model import get_processor
        from swift.rlhf_trainers.utils import encode_sample
        from swift.template import get_template

        processor = get_processor(FIXTURE, model_type="qwen2_5_vl", download_model=False)
        template = get_template(processor, template_type="qwen2_5_vl", max_length=32768, loss_scale="default")
        template.set_mode("train")
        encoded = encode_sample(a, template)
        self.assertEqual(encoded["image_grid_thw"].shape[0], 2, "prompt image + the crop")
        image_pad = self.tokenizer.convert_tokens_to_ids("<|image_pad|>")
        merge = processor.image_processor.merge_size ** 2
        self.assertEqual(encoded["input_ids"].count(image_pad), int(encoded["image_grid_thw"].prod(-1).sum()) // merge)
        trained = [t for t, label in zip(encoded["input_ids"], encoded["labels"]) if label != -100]
        # Loss on the three assistant turns only (the observations, the format-error
        # feedback and the crop's image tokens are masked); the last turn has no
        # <|im_end|> (GRPO's add_eos is off after a rollout).
        self.assertEqual(self.tokenizer.decode(trained), f"{CROP}<|im_end|>\nnot an action<|im_end|>\n{ANSWER_TAMPERED}")

if __name__ == "__main__":
    unittest.main()
