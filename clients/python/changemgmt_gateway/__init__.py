"""changemgmt_gateway: enforce changemgmt's signed gateway policy where the traffic flows.

from changemgmt_gateway import PolicyClient
client = PolicyClient("https://changes.example.com", token, public_key_pem,
                      gateway_id="gw-eu-1", cache_dir="/var/lib/gw").start()
decision = client.decide("support-assistant", tenant="t-1", user="u-9")
if not decision.ai_enabled: serve(decision.fallback)
"""

from .bucketing import bucket, in_slice
from .client import PolicyClient, PolicyUnavailable
from .decide import BASELINE, CANDIDATE, Decision, Snapshot
from .verify import PolicyRejected

__all__ = [
    "BASELINE",
    "CANDIDATE",
    "Decision",
    "PolicyClient",
    "PolicyRejected",
    "PolicyUnavailable",
    "Snapshot",
    "bucket",
    "in_slice",
]
__version__ = "0.1.0"
