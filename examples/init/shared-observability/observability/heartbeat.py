"""Puts one heartbeat metric per run; the tenant's alarms fire when it stops arriving."""
import os

import boto3

_CLOUDWATCH = boto3.client("cloudwatch")


def handler(event, context):
    _CLOUDWATCH.put_metric_data(
        Namespace=os.environ["METRIC_NAMESPACE"],
        MetricData=[{"MetricName": "Heartbeat", "Value": 1, "Unit": "Count"}],
    )
    return {"ok": True}
