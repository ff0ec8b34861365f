"""trutheye <-> ms-swift bridge.

``client`` talks to ``trutheye serve`` (standard library only);
``swift_plugin`` is the file to pass to ``swift rlhf --external_plugins``
(ms-swift 4.x, pinned in that file).
"""

from .client import TruthEyeClient, TruthEyeError

__all__ = ["TruthEyeClient", "TruthEyeError"]
