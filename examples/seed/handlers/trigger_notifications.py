"""TriggerNotifications: the seed pipeline's second stage, as a Lambda handler.

Input: {"Payload": <CheckEventsForRuleMatch's output>}. Sends one notification per channel
named in the CHANNELS environment variable (comma-separated, default "log"). A channel whose
name starts with "broken" fails to deliver (a stand-in for an unreachable webhook). When every
channel fails the handler raises AllNotificationsFailedException, which the state machine's
Catch routes to its Fail state.
"""

import json
import os


class AllNotificationsFailedException(Exception):
    pass


def deliver(channel, notification):
    if channel.startswith("broken"):
        raise ConnectionError(f"channel {channel} is unreachable")
    print(f"notify {channel}: {json.dumps(notification)}")


def handler(event, context):
    match = event.get("Payload", event)
    notification = {
        "rules": match.get("matched_rule_ids", []),
        "event": match.get("event"),
        "request_id": context.aws_request_id,
    }
    channels = [c for c in os.environ.get("CHANNELS", "log").split(",") if c]
    sent, failures = 0, []
    for channel in channels:
        try:
            deliver(channel, notification)
            sent += 1
        except Exception as error:
            failures.append(f"{channel}: {error}")
    if sent == 0:
        raise AllNotificationsFailedException("; ".join(failures) or "no channels")
    return {"notifications_sent": sent, "failed_channels": failures}
