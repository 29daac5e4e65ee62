"""moto's EventBridge as the matcher of tests/event_patterns.rs.

Reads {"rules": {name: event pattern}, "events": {name: event}} on stdin. In moto's mocked
AWS (nothing leaves the process), creates each rule on the default event bus with an SQS
queue as its target, sends each event with PutEvents, reads which queues received it, and
prints {rule name: [names of the events the rule delivered]} as one JSON line.
"""

import json
import sys

import boto3
from moto import mock_aws


def main() -> None:
    spec = json.load(sys.stdin)
    with mock_aws():
        events = boto3.client("events", region_name="us-west-2")
        sqs = boto3.client("sqs", region_name="us-west-2")
        queues = {}
        for i, (name, pattern) in enumerate(sorted(spec["rules"].items())):
            url = sqs.create_queue(QueueName=f"rule-{i}")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            events.put_rule(Name=f"rule-{i}", EventPattern=json.dumps(pattern), State="ENABLED")
            events.put_targets(Rule=f"rule-{i}", Targets=[{"Id": "queue", "Arn": arn}])
            queues[name] = url
        matched = {name: [] for name in queues}
        for event_name, event in sorted(spec["events"].items()):
            result = events.put_events(
                Entries=[
                    {
                        "Source": event["source"],
                        "DetailType": event["detail-type"],
                        "Detail": json.dumps(event["detail"]),
                        "Resources": event.get("resources", []),
                        "Time": event["time"],
                    }
                ]
            )
            if result["FailedEntryCount"]:
                sys.exit(f"PutEvents refused {event_name}: {result}")
            for name, url in queues.items():
                for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
                    "Messages", []
                ):
                    delivered = json.loads(message["Body"])
                    for field in ("source", "detail-type", "detail"):
                        if delivered[field] != event[field]:
                            sys.exit(f"{name} delivered a different {field} for {event_name}")
                    matched[name].append(event_name)
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        print(json.dumps(matched))


if __name__ == "__main__":
    main()
