"""SQS batch handler: publish each notification to the tenant's topic, report failures per record."""
import json
import os

import boto3

_SNS = boto3.client("sns")


def handler(event, context):
    failures = []
    for record in event["Records"]:
        try:
            message = json.loads(record["body"])
            _SNS.publish(
                TopicArn=os.environ["TOPIC_ARN"],
                Subject=message.get("subject", "Notification")[:100],
                Message=json.dumps(message),
                MessageAttributes={"channel": {"DataType": "String", "StringValue": message.get("channel", "email")}},
            )
        except (ValueError, KeyError, boto3.exceptions.Boto3Error):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
