# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A stand-in for `sls package --stage S --region R` with a known duration; run it as `fake_sls package ...`.

Writes what serverless writes (.serverless/cloudformation-template-update-stack.json with a timestamped
S3Key per function, serverless-state.json, one deterministic ZIP of the service) and sleeps for:
  * the number in the service's `fake-sls-seconds` file, else
  * $FAKE_SLS_SECONDS, else 1 second,
counted from the process start (the fake_sls wrapper's and the interpreter's start-up included), so the run
takes that long in total.
A service folder holding a `fake-sls-fail` file makes it fail with that file's text on its output.
$FAKE_SLS_TRACE names a file that gets one `start|end <monotonic ns> <service> <region> <pid>` line per event,
so tests can count overlapping packagings without timing assertions.
$FAKE_SLS_TENANT_PARAMETER=TenantId makes the template tenant-safe like the example services (a `TenantId`
parameter, default `shared`, that ends every function name), so many tenants can provision it in one region.
A service folder holding `fake-sls-resources.json` (`{"Resources": {...}}`) gets those resources merged into the
template, as serverless merges a serverless.yml's `resources:` section (a table, a bucket).
"""
import json
import os
import re
import sys
import time
import zipfile


def option(name, default=None):
    args = sys.argv[1:]
    if f"--{name}" in args:
        index = args.index(f"--{name}")
        if index + 1 < len(args):
            return args[index + 1]
    return default


def trace(event, service, region):
    path = os.environ.get("FAKE_SLS_TRACE")
    if path:
        line = f"{event} {time.monotonic_ns()} {service} {region} {os.getpid()}\n".encode()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


def process_age():
    """Seconds since this process started (Linux /proc), 0 when unknown."""
    try:
        with open("/proc/self/stat", encoding="ascii") as handle:
            start_ticks = int(handle.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as handle:
            uptime = float(handle.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


def read_config():
    text = open("serverless.yml", encoding="utf-8").read()
    service = re.search(r"^service:\s*([A-Za-z0-9_-]+)", text, re.M)
    functions = []
    block = re.search(r"^functions:\s*\n((?:[ \t]+.*\n?|\s*\n)*)", text, re.M)
    if block:
        functions = re.findall(r"^  ([A-Za-z0-9_]+):", block.group(1), re.M)
    return (service.group(1) if service else os.path.basename(os.getcwd())), functions or ["main"]


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--version":
        print("Framework Core: 3.40.0 (fake-sls 1.0.0)")
        return 0
    if len(sys.argv) < 2 or sys.argv[1] != "package":
        print("fake_sls supports only: package --stage S --region R", file=sys.stderr)
        return 2
    stage, region = option("stage", "dev"), option("region", "us-east-1")
    if not os.path.isfile("serverless.yml"):
        print("Error: No serverless.yml in the current working directory")
        return 1
    service, functions = read_config()
    trace("start", service, region)
    try:
        if os.path.isfile("fake-sls-fail"):
            print(f"Packaging {service} for stage {stage} ({region})")
            print("Error:\n" + open("fake-sls-fail", encoding="utf-8").read().strip())
            return 1
        seconds = float(os.environ.get("FAKE_SLS_SECONDS", "1"))
        if os.path.isfile("fake-sls-seconds"):
            seconds = float(open("fake-sls-seconds", encoding="utf-8").read().strip())
        # The duration counts from the process start, so interpreter start-up is part of it, not added to it.
        time.sleep(max(0.0, seconds - process_age()))
        os.makedirs(".serverless", exist_ok=True)
        zip_name = f"{service}.zip"
        with zipfile.ZipFile(os.path.join(".serverless", zip_name), "w", zipfile.ZIP_DEFLATED) as archive:
            for directory, dirs, files in os.walk(".", followlinks=False):
                dirs[:] = sorted(d for d in dirs if d not in (".serverless", "node_modules"))
                for name in sorted(files):
                    path = os.path.relpath(os.path.join(directory, name), ".")
                    info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))  # reproducible, like serverless
                    info.external_attr = 0o644 << 16
                    archive.writestr(info, open(path, "rb").read())
        now = time.time()
        stamp = f"{int(now * 1000)}-{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(now))}.{int(now * 1000) % 1000:03d}Z"
        directory = f"serverless/{service}/{stage}/{stamp}"
        bucket = f"mrs-artifacts-{stage}-{region}"
        # Like serverless: one execution role per service stack (no RoleName: CloudFormation makes a unique one).
        resources = {"IamRoleLambdaExecution": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com"]}, "Action": ["sts:AssumeRole"]}]}}}}
        tenant_parameter = os.environ.get("FAKE_SLS_TENANT_PARAMETER", "")
        for function in functions:
            logical = function[:1].upper() + function[1:]
            function_name = f"{service}-{stage}-{function}"
            if tenant_parameter:
                function_name = {"Fn::Join": ["-", [function_name, {"Ref": tenant_parameter}]]}
            resources[f"{logical}LambdaFunction"] = {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Code": {"S3Bucket": bucket, "S3Key": f"{directory}/{zip_name}"},
                    "FunctionName": function_name,
                    "Handler": "handler.main",
                    "Runtime": "python3.11",
                    "Role": {"Fn::GetAtt": ["IamRoleLambdaExecution", "Arn"]},
                    "Environment": {"Variables": {"REGION": region}},
                },
            }
        if os.path.isfile("fake-sls-resources.json"):
            with open("fake-sls-resources.json", encoding="utf-8") as handle:
                resources.update(json.load(handle).get("Resources") or {})
        template = {"AWSTemplateFormatVersion": "2010-09-09", "Description": f"fake {service}", "Resources": resources}
        if tenant_parameter:
            template["Parameters"] = {tenant_parameter: {"Type": "String", "Default": "shared"}}
        with open(os.path.join(".serverless", "cloudformation-template-update-stack.json"), "w", encoding="utf-8") as handle:
            json.dump(template, handle, indent=2)
        with open(os.path.join(".serverless", "serverless-state.json"), "w", encoding="utf-8") as handle:
            json.dump({"service": {"service": service}, "package": {"artifactDirectoryName": directory, "artifact": zip_name}}, handle)
        print(f"Packaging {service} for stage {stage} ({region})")
        print("Service packaged")
        return 0
    finally:
        trace("end", service, region)


if __name__ == "__main__":
    sys.exit(main())
