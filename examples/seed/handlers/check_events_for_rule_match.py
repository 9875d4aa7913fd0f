"""CheckEventsForRuleMatch: the seed pipeline's first stage, as a Lambda handler.

Input: {"Payload": <an EDR detection event>} (the state's Parameters). Output: whether any
detection rule matches (`trigger_payload_exists`, which the next Choice state reads), the
matched rule ids, and the event to notify about.

Rules are data: a list of {"id", "min_severity", "technique_ids"} in the RULES environment
variable (JSON), or the built-in defaults below.
"""

import json
import os

DEFAULT_RULES = [
    {"id": "rule-17", "min_severity": 4, "technique_ids": ["T1003"]},
    {"id": "rule-23", "min_severity": 5, "technique_ids": []},
]


def rules():
    text = os.environ.get("RULES")
    return json.loads(text) if text else DEFAULT_RULES


def matches(rule, event):
    if event.get("severity", 0) < rule.get("min_severity", 0):
        return False
    techniques = rule.get("technique_ids") or []
    return not techniques or event.get("technique_id") in techniques


def handler(event, context):
    detection = event.get("Payload", event)
    matched = [rule["id"] for rule in rules() if matches(rule, detection)]
    print(json.dumps({"event_id": detection.get("event_id"), "matched_rule_ids": matched}))
    return {
        "trigger_payload_exists": bool(matched),
        "matched_rule_ids": matched,
        "event": {
            "event_id": detection.get("event_id"),
            "tenant_id": detection.get("tenant_id"),
            "severity": detection.get("severity"),
            "technique_id": detection.get("technique_id"),
            "hostname": (detection.get("device") or {}).get("hostname"),
        },
    }
