"""ms-swift plugin for the *tiny* Qwen2.5-VL test fixture only (grpo_cpu_step.sh).

ms-swift 4.6.0's Qwen2-VL templates hard-code the real Qwen2 vocabulary's media
token ids (``Qwen2VLTemplate.image_token_id = 151655``, ``video_token_id =
151656`` in ``swift/template/templates/qwen.py``) and expand only those ids into
one pad token per image patch. The fixture's 734-token tokenizer has
``<|image_pad|>``/``<|video_pad|>`` at 732/733, so without this patch the prompt
keeps one pad token per image and the model stops with ``ValueError: Image
features and image tokens do not match, tokens: 2, features: 96``.

This reads ``image_token_id``/``video_token_id`` from the model directory's
``config.json`` (``TRUTHEYE_SWIFT_MODEL_DIR``) and sets them on the template
class. A real Qwen2.5-VL checkpoint needs no patch (the ids already agree):
do not load this plugin with one.
"""

import json
import os

from swift.template.templates.qwen import Qwen2VLTemplate

_model_dir = os.environ.get("TRUTHEYE_SWIFT_MODEL_DIR")
if not _model_dir:
    raise RuntimeError("tiny_fixture_swift_plugin: set TRUTHEYE_SWIFT_MODEL_DIR to the fixture model directory")
with open(os.path.join(_model_dir, "config.json")) as f:
    _config = json.load(f)
Qwen2VLTemplate.image_token_id = int(_config["image_token_id"])
Qwen2VLTemplate.video_token_id = int(_config["video_token_id"])
