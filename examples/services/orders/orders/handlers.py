"""HTTP API handlers for tenant orders (payload format 2.0)."""
import json
import os
import uuid

import boto3

_TABLE = None


def _table():
    # Created on first use so a cold start without requests does not open a connection.
    global _TABLE
    if _TABLE is None:
        _TABLE = boto3.resource("dynamodb").Table(os.environ["ORDERS_TABLE"])
    return _TABLE


def _tenant(event):
    return event["requestContext"]["authorizer"]["lambda"]["tenantId"]


def create_order(event, context):
    body = json.loads(event.get("body") or "{}")
    order = {"orderId": str(uuid.uuid4()), "tenantId": _tenant(event), "items": body.get("items", [])}
    _table().put_item(Item=order)
    return {"statusCode": 201, "body": json.dumps(order)}


def get_order(event, context):
    item = _table().get_item(Key={"orderId": event["pathParameters"]["orderId"]}).get("Item")
    if item is None or item.get("tenantId") != _tenant(event):
        return {"statusCode": 404, "body": json.dumps({"message": "order not found"})}
    return {"statusCode": 200, "body": json.dumps(item, default=str)}
