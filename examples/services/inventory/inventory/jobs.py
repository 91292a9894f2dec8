"""Scheduled inventory jobs."""
import os

import boto3

_TABLE = None


def _table():
    global _TABLE
    if _TABLE is None:
        _TABLE = boto3.resource("dynamodb").Table(os.environ["STOCK_TABLE"])
    return _TABLE


def _all_items():
    kwargs = {}
    while True:
        page = _table().scan(**kwargs)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def reconcile(event, context):
    """Clamp negative stock (oversold items) to zero and flag them for review."""
    fixed = 0
    for item in _all_items():
        if item.get("quantity", 0) < 0:
            _table().update_item(
                Key={"sku": item["sku"]},
                UpdateExpression="SET quantity = :zero, needsReview = :yes",
                ExpressionAttributeValues={":zero": 0, ":yes": True},
            )
            fixed += 1
    return {"fixed": fixed}


def daily_summary(event, context):
    items = list(_all_items())
    return {
        "period": event.get("period", "day"),
        "skus": len(items),
        "outOfStock": sum(1 for item in items if item.get("quantity", 0) <= 0),
    }
