# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The project doctor: what would break on AWS, found in the packaged templates before anything is uploaded.

Packaging succeeds for many projects that cannot work once deployed per tenant: Lambda code in a bucket the
stack creates empty, physical names every tenant of a region would share, names AWS refuses as too long,
templates over CloudFormation's limits, a ``frameworkVersion`` the packager refuses. ``examine`` reads the
packaged templates of every region of the run and returns every finding at once, each naming the service,
its file and the fix; a finding seen in several regions is listed once with its regions. Pure but for reading
the templates and configs it is given; nothing here talks to AWS.

Names and limits are AWS's, from the CloudFormation resource reference and each service's quotas page (the
table ``PHYSICAL_NAMES``). They are the collection's own copy: the local AWS enforces its own table, so a test
catches the two disagreeing.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

try:
    from re import _parser as regex_parser  # Python 3.11+: sre_parse is deprecated
except ImportError:  # pragma: no cover - older controllers
    import sre_parse as regex_parser  # type: ignore[no-redef]

from ansible_collections.multiregion.serverless.plugins.module_utils.packaging import sources
from ansible_collections.multiregion.serverless.plugins.module_utils.sls_template import read_template
from ansible_collections.multiregion.serverless.plugins.module_utils.product_template import ProductError, load_product, tenant_parameter

# CloudFormation's template quotas (Quotas page of the CloudFormation user guide): a template given by URL, as
# Service Catalog gives nested templates, may be 1 MB; a stack may hold 500 resources.
TEMPLATE_URL_BYTES = 1024 * 1024
TEMPLATE_RESOURCES = 500

# Scope of a physical name: two tenants of a region collide on a "region" name; an "account" name (IAM) is
# shared by every region of the account and a "global" one (S3 buckets) by every account, so those must also
# differ per region for a tenant deployed to several regions.
REGION, ACCOUNT, GLOBAL = "region", "account", "global"


@dataclass(frozen=True)
class PhysicalName:
    """A property that names a resource: unique within ``scope``, at most ``limit`` characters."""

    prop: str
    limit: Optional[int]
    scope: str


PHYSICAL_NAMES: Dict[str, PhysicalName] = {
    "AWS::IAM::Role": PhysicalName("RoleName", 64, ACCOUNT),
    "AWS::IAM::ManagedPolicy": PhysicalName("ManagedPolicyName", 128, ACCOUNT),
    "AWS::IAM::InstanceProfile": PhysicalName("InstanceProfileName", 128, ACCOUNT),
    "AWS::IAM::User": PhysicalName("UserName", 64, ACCOUNT),
    "AWS::IAM::Group": PhysicalName("GroupName", 128, ACCOUNT),
    "AWS::Lambda::Function": PhysicalName("FunctionName", 64, REGION),
    "AWS::DynamoDB::Table": PhysicalName("TableName", 255, REGION),
    "AWS::SNS::Topic": PhysicalName("TopicName", 256, REGION),
    "AWS::SQS::Queue": PhysicalName("QueueName", 80, REGION),
    "AWS::S3::Bucket": PhysicalName("BucketName", 63, GLOBAL),
    "AWS::Logs::LogGroup": PhysicalName("LogGroupName", 512, REGION),
    "AWS::Events::Rule": PhysicalName("Name", 64, REGION),
    "AWS::Events::EventBus": PhysicalName("Name", 256, REGION),
    "AWS::StepFunctions::StateMachine": PhysicalName("StateMachineName", 80, REGION),
    "AWS::Kinesis::Stream": PhysicalName("Name", 128, REGION),
    "AWS::KinesisFirehose::DeliveryStream": PhysicalName("DeliveryStreamName", 64, REGION),
    "AWS::SecretsManager::Secret": PhysicalName("Name", 512, REGION),
    "AWS::SSM::Parameter": PhysicalName("Name", 1011, REGION),
    "AWS::KMS::Alias": PhysicalName("AliasName", 256, REGION),
    "AWS::ECR::Repository": PhysicalName("RepositoryName", 256, REGION),
    "AWS::CloudWatch::Alarm": PhysicalName("AlarmName", 255, REGION),
}
# Outputs' Export.Name: unique per account and region.
EXPORT = PhysicalName("Export.Name", 255, REGION)

# Where a resource type keeps the S3 location of its code.
CODE_LOCATIONS = {"AWS::Lambda::Function": "Code", "AWS::Lambda::LayerVersion": "Content"}

# Pseudo parameters with a value that is the same for every tenant of a region (their length is known), and the
# ones unique per stack.
STACK_UNIQUE = {"AWS::StackName", "AWS::StackId"}
ACCOUNT_ID_LENGTH = 12


@dataclass
class Finding:
    """One problem: ``check`` (its kind), where (``unit``, ``file``, ``resource``), and the line people read."""

    check: str
    unit: str
    file: str
    resource: str
    message: str
    regions: List[str] = field(default_factory=list)
    excess: int = 0

    def key(self) -> Tuple[str, str, str, str]:
        return (self.check, self.unit, self.file, self.resource)

    def line(self) -> str:
        where = f" [{', '.join(self.regions)}]" if self.regions else ""
        return f"{self.file}: {self.message}{where}"


@dataclass(frozen=True)
class Tenancy:
    """The tenant parameter of the products that nest a stack, and its longest value."""

    products: Tuple[str, ...]
    parameter: str
    max_length: Optional[int]


@dataclass(frozen=True)
class Unit:
    """A packaged service or init stack of one region, as the doctor sees it."""

    name: str
    kind: str
    file: str
    template_path: str
    stage: str
    region: str
    bucket: str
    tenancy: Optional[Tenancy]

    def bucket_setting(self) -> str:
        """The stage's bucket as a ``deploymentBucket.name`` that works for every region and stage."""
        setting = self.bucket.replace(self.region, "${aws:region}")
        return re.sub(rf"(^|-){re.escape(self.stage)}(-|$)", r"\1${sls:stage}\2", setting, count=1)


# ---------------------------------------------------------------------------------------------- name expressions


@dataclass(frozen=True)
class NameValue:
    """What a name expression evaluates to, as far as it can be known before deployment.

    ``text`` is a readable rendering (``payments-dev-${TenantId}``); ``per_tenant``: it differs between two tenants
    of a product (it holds the tenant parameter or something unique per stack); ``per_region``: it holds the region;
    ``max_length``: its longest value, None when unknown; ``known``: False when a function could not be followed.
    """

    text: str
    per_tenant: bool
    per_region: bool
    max_length: Optional[int]
    known: bool = True


def _literal(text: str) -> NameValue:
    return NameValue(text, False, False, len(text))


UNKNOWN = NameValue("?", False, False, None, known=False)


def _concat(parts: Sequence[NameValue], delimiter: str = "") -> NameValue:
    lengths = [part.max_length for part in parts]
    total = None if any(length is None for length in lengths) else sum(lengths) + len(delimiter) * max(len(parts) - 1, 0)
    return NameValue(
        delimiter.join(part.text for part in parts),
        any(part.per_tenant for part in parts),
        any(part.per_region for part in parts),
        total,
        all(part.known for part in parts),
    )


def parameter_max_length(declaration: Any) -> Optional[int]:
    """The longest value a CloudFormation String parameter accepts: MaxLength, AllowedValues or a bounded
    AllowedPattern (the shortest of those that say); None when nothing bounds it."""
    if not isinstance(declaration, Mapping):
        return None
    bounds = []
    if isinstance(declaration.get("MaxLength"), (int, str)) and str(declaration["MaxLength"]).isdigit():
        bounds.append(int(declaration["MaxLength"]))
    allowed = declaration.get("AllowedValues")
    if isinstance(allowed, list) and allowed:
        bounds.append(max(len(str(value)) for value in allowed))
    pattern = declaration.get("AllowedPattern")
    if isinstance(pattern, str):
        try:
            longest = regex_parser.parse(pattern).getwidth()[1]
        except re.error:
            longest = None
        if longest is not None and longest < regex_parser.MAXREPEAT:
            bounds.append(int(longest))
    return min(bounds) if bounds else None


class NameEvaluator:
    """Evaluates a name property of one template in one region (Ref, Fn::Join, Fn::Sub; the rest is unknown)."""

    def __init__(self, template: Mapping[str, Any], region: str, tenancy: Optional[Tenancy]) -> None:
        self.parameters = template.get("Parameters") or {}
        self.resources = template.get("Resources") or {}
        self.region = region
        self.tenancy = tenancy

    def ref(self, name: str) -> NameValue:
        if self.tenancy and name == self.tenancy.parameter:
            return NameValue("${" + name + "}", True, False, self.tenancy.max_length if self.tenancy else None)
        if name in self.parameters:
            return NameValue("${" + name + "}", False, False, parameter_max_length(self.parameters[name]))
        if name == "AWS::Region":
            return NameValue(self.region, False, True, len(self.region))
        if name == "AWS::AccountId":
            return NameValue("${AWS::AccountId}", False, False, ACCOUNT_ID_LENGTH)
        if name in STACK_UNIQUE or name in self.resources:
            # Unique per stack (a stack's name, or a name CloudFormation generated); its length is not known.
            return NameValue("${" + name + "}", True, True, None)
        if name in ("AWS::Partition", "AWS::URLSuffix"):
            return NameValue("${" + name + "}", False, False, len("amazonaws.com.cn"))
        return UNKNOWN

    def evaluate(self, node: Any) -> NameValue:
        if isinstance(node, str):
            return _literal(node)
        if isinstance(node, (int, float)) and not isinstance(node, bool):
            return _literal(str(node))
        if not isinstance(node, Mapping) or len(node) != 1:
            return UNKNOWN
        function, argument = next(iter(node.items()))
        if function == "Ref" and isinstance(argument, str):
            return self.ref(argument)
        if function == "Fn::GetAtt":
            return NameValue("${" + str(argument) + "}", True, True, None)
        if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], list):
            delimiter = argument[0] if isinstance(argument[0], str) else ""
            return _concat([self.evaluate(item) for item in argument[1]], delimiter)
        if function == "Fn::Sub":
            return self.substitute(argument)
        return UNKNOWN

    def substitute(self, argument: Any) -> NameValue:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1]) if (
            isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str) and isinstance(argument[1], Mapping)) else (None, {})
        if text is None:
            return UNKNOWN
        parts: List[NameValue] = []
        position = 0
        for match in re.finditer(r"\$\{([^}]*)\}", text):
            parts.append(_literal(text[position:match.start()]))
            variable = match.group(1).strip()
            if variable.startswith("!"):
                parts.append(_literal("${" + variable[1:] + "}"))
            elif variable in variables:
                parts.append(self.evaluate(variables[variable]))
            elif "." in variable:
                parts.append(NameValue("${" + variable + "}", True, True, None))
            else:
                parts.append(self.ref(variable))
            position = match.end()
        parts.append(_literal(text[position:]))
        return _concat(parts)


def _get(properties: Any, dotted: str) -> Any:
    node = properties
    for part in dotted.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


# ---------------------------------------------------------------------------------------------- the checks

SHARED_FIX = ("if every tenant should share it, move it to an init stack (deployed once per region, nested in no "
              "per-tenant product)")


def name_findings(unit: Unit, template: Mapping[str, Any]) -> List[Finding]:
    """Physical names two tenants would share, and names that can exceed AWS's limits."""
    evaluator = NameEvaluator(template, unit.region, unit.tenancy)
    named: List[Tuple[str, str, PhysicalName, Any]] = []
    for logical_id, resource in sorted((template.get("Resources") or {}).items()):
        if not isinstance(resource, Mapping):
            continue
        physical = PHYSICAL_NAMES.get(str(resource.get("Type")))
        value = _get(resource.get("Properties"), physical.prop) if physical else None
        if physical and value is not None:
            named.append((logical_id, str(resource.get("Type")), physical, value))
    for output_id, output in sorted((template.get("Outputs") or {}).items()):
        value = _get(output, "Export.Name") if isinstance(output, Mapping) else None
        if value is not None:
            named.append((f"Outputs.{output_id}", "Export", EXPORT, value))
    findings = []
    unbounded: List[str] = []
    for logical_id, type_name, physical, expression in named:
        value = evaluator.evaluate(expression)
        where = f"{logical_id} ({type_name}) {physical.prop}"
        if unit.tenancy and unit.tenancy.max_length is None and physical.limit and "${" + unit.tenancy.parameter + "}" in value.text:
            unbounded.append(logical_id)
        if physical.limit and value.max_length is not None and value.max_length > physical.limit:
            tenant_note = f" with {unit.tenancy.parameter} at its longest ({unit.tenancy.max_length})" if (
                unit.tenancy and unit.tenancy.max_length and unit.tenancy.parameter in value.text) else ""
            findings.append(Finding(
                "name-too-long", unit.name, unit.file, where,
                f"{unit.kind} {unit.name}: {where} '{value.text}' can be {value.max_length} characters{tenant_note}; AWS allows "
                f"{physical.limit}: shorten the fixed part" + (f" or lower the MaxLength of {unit.tenancy.parameter}" if tenant_note else ""),
                excess=value.max_length - physical.limit))
        if unit.tenancy is None or not value.known:
            continue
        products = ", ".join(unit.tenancy.products)
        if not value.per_tenant:
            findings.append(Finding(
                "shared-name", unit.name, unit.file, where,
                f"{unit.kind} {unit.name} (product {products}): {where} '{value.text}' is the same for every tenant, so the second "
                f"tenant of a region fails on a name collision: put {{Ref: {unit.tenancy.parameter}}} in it or leave the name out "
                f"(CloudFormation then generates one); {SHARED_FIX}"))
        elif physical.scope in (ACCOUNT, GLOBAL) and not value.per_region:
            scope = "account-wide (IAM)" if physical.scope == ACCOUNT else "global (S3)"
            findings.append(Finding(
                "shared-name", unit.name, unit.file, where,
                f"{unit.kind} {unit.name} (product {products}): {where} '{value.text}' is {scope} but does not hold the region, so "
                f"one tenant provisioned in two regions collides with itself: add {{Ref: AWS::Region}} to it"))
    if unbounded:
        products = ", ".join(unit.tenancy.products)
        findings.append(Finding(
            "name-unbounded", unit.name, unit.file, unit.tenancy.parameter,
            f"{unit.kind} {unit.name}: the names of {', '.join(unbounded)} are built from {unit.tenancy.parameter}, which nothing bounds in "
            f"product {products} (no MaxLength, bounded AllowedPattern or AllowedValues), so a long tenant id makes AWS refuse them: "
            f"set MaxLength on {unit.tenancy.parameter} in the product's parameters"))
    return findings


def code_findings(unit: Unit, template: Mapping[str, Any]) -> List[Finding]:
    """Lambda code (and layer content) that is not in the stage's artifact bucket of the region: one finding per bucket."""
    resources = template.get("Resources") or {}
    elsewhere: Dict[str, List[str]] = {}
    for logical_id, resource in sorted(resources.items()):
        location_key = CODE_LOCATIONS.get(str(resource.get("Type"))) if isinstance(resource, Mapping) else None
        location = _get(resource.get("Properties"), location_key) if location_key else None
        if not isinstance(location, Mapping) or "S3Bucket" not in location or location["S3Bucket"] == unit.bucket:
            continue  # inline code (ZipFile), an image, or the right bucket
        bucket = location["S3Bucket"]
        if isinstance(bucket, Mapping) and bucket.get("Ref") in resources:
            shown = f"{bucket['Ref']}, a bucket this stack would create empty (no provider.deploymentBucket)"
        else:
            shown = bucket if isinstance(bucket, str) else NameEvaluator(template, unit.region, None).evaluate(bucket).text
        elsewhere.setdefault(shown, []).append(logical_id)
    return [
        Finding("code-bucket", unit.name, unit.file, ", ".join(logical_ids),
                f"{unit.kind} {unit.name}: the code of {', '.join(logical_ids)} is in {shown}, not in the stage's artifact bucket "
                f"{unit.bucket}, so it could never run: set provider.deploymentBucket.name: {unit.bucket_setting()}")
        for shown, logical_ids in elsewhere.items()
    ]


def template_limit_findings(unit: Unit, template: Mapping[str, Any]) -> List[Finding]:
    findings = []
    size = os.path.getsize(unit.template_path)
    if size > TEMPLATE_URL_BYTES:
        findings.append(Finding(
            "template-size", unit.name, unit.file, "template",
            f"{unit.kind} {unit.name}: its template is {size} bytes; CloudFormation takes at most {TEMPLATE_URL_BYTES} by URL: split the "
            "service, or move shared resources to an init stack", excess=size - TEMPLATE_URL_BYTES))
    count = len(template.get("Resources") or {})
    if count > TEMPLATE_RESOURCES:
        findings.append(Finding(
            "template-resources", unit.name, unit.file, "template",
            f"{unit.kind} {unit.name}: its template has {count} resources; a CloudFormation stack holds at most {TEMPLATE_RESOURCES}: "
            "split the service (each function brings a role policy, log group, permissions ...)", excess=count - TEMPLATE_RESOURCES))
    return findings


CHECKS = (code_findings, name_findings, template_limit_findings)


def check_unit(unit: Unit) -> List[Finding]:
    """Every finding of one packaged template."""
    template = read_template(unit.template_path)
    findings: List[Finding] = []
    for check in CHECKS:
        findings.extend(check(unit, template))
    for finding in findings:
        finding.regions = [unit.region]
    return findings


def merge_regions(findings: Iterable[Finding]) -> List[Finding]:
    """One finding per problem: the regions it was seen in together, the message of the region where it is worst."""
    merged: Dict[Tuple[str, str, str, str], Finding] = {}
    for finding in findings:
        known = merged.get(finding.key())
        if known is None:
            merged[finding.key()] = finding
            continue
        regions = known.regions + [region for region in finding.regions if region not in known.regions]
        if finding.excess > known.excess:
            merged[finding.key()] = finding
        merged[finding.key()].regions = regions
    return sorted(merged.values(), key=lambda item: (item.file, item.check, item.resource))


# ---------------------------------------------------------------------------------------------- products and tenants


def product_tenancies(products: Mapping[str, Mapping[str, Any]], tenant_parameter_of: Any) -> Dict[Tuple[str, str], Tenancy]:
    """``(kind, name) -> Tenancy`` for every stack a product nests (a copy of it is made per tenant).

    ``products`` maps a product name to its loaded definition; ``tenant_parameter_of(definition)`` names its tenant
    parameter. A stack nested by several products gets the shortest bound of their tenant parameters' longest values.
    """
    found: Dict[Tuple[str, str], Tenancy] = {}
    for product, definition in sorted(products.items()):
        parameter = tenant_parameter_of(definition)
        declaration = (definition.get("parameters") or {}).get(parameter)
        max_length = parameter_max_length(declaration)
        for entry in definition.get("nested_stacks") or []:
            if not isinstance(entry, Mapping) or len(entry) != 1:
                continue
            kind, name = next(iter(entry.items()))
            known = found.get((kind, name))
            if known is None:
                found[(kind, name)] = Tenancy((product,), parameter, max_length)
            else:
                lengths = [length for length in (known.max_length, max_length) if length is not None]
                found[(kind, name)] = Tenancy(known.products + (product,), known.parameter, max(lengths) if lengths else None)
    return found


def tenant_parameter_findings(products: Mapping[str, Mapping[str, Any]], tenant_parameter_of: Any, files: Mapping[str, str]) -> List[Finding]:
    """A product without its tenant parameter: its tenants cannot get names of their own."""
    findings = []
    for product, definition in sorted(products.items()):
        parameter = tenant_parameter_of(definition)
        declaration = (definition.get("parameters") or {}).get(parameter)
        file = files.get(product, f"products/{product}.yml")
        if declaration is None:
            findings.append(Finding(
                "tenant-parameter", product, file, parameter,
                f"product {product} has no parameter {parameter}, so its tenants cannot get names of their own: declare it "
                f"under parameters (Type: String, MaxLength: ...), or name the product's tenant parameter with tenant_parameter:"))
    return findings


# ---------------------------------------------------------------------------------------------- frameworkVersion

_VERSION = re.compile(r"^v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:[-+].*)?$")
_COMPARATOR = re.compile(r"^(<=|>=|<|>|=|\^|~>?)?\s*(\S+)$")


def _partial(text: str) -> Optional[List[Optional[int]]]:
    match = _VERSION.match(text)
    if not match:
        return None
    return [int(part) if part is not None and part.isdigit() else None for part in match.groups()]


def _comparator_bounds(operator: str, parts: List[Optional[int]]) -> List[Tuple[str, Tuple[int, int, int]]]:
    """node-semver's desugaring of one comparator into (op, version) pairs on full versions."""
    known = [part for part in parts if part is not None]
    # Versions are compared on (major, minor, patch); a wildcard beyond the known parts widens the range.
    low = tuple(known + [0] * (3 - len(known)))
    if not known:
        return [] if operator in ("", "=", ">=", "<=", "^", "~", "~>") else [("<", (0, 0, 0))]

    def bump(index: int) -> Tuple[int, int, int]:
        bumped = known[: index + 1]
        bumped[index] += 1
        return tuple(bumped + [0] * (3 - len(bumped)))  # type: ignore[return-value]

    exact = len(known) == 3
    if operator in ("", "="):
        return [("=", low)] if exact else [(">=", low), ("<", bump(len(known) - 1))]
    if operator == "^":
        first_nonzero = next((index for index, part in enumerate(known) if part != 0), len(known) - 1)
        return [(">=", low), ("<", bump(min(first_nonzero, len(known) - 1)))]
    if operator in ("~", "~>"):
        return [(">=", low), ("<", bump(min(1, len(known) - 1)))]
    if operator == ">":
        return [(">", low)] if exact else [(">=", bump(len(known) - 1))]
    if operator == "<=":
        return [("<=", low)] if exact else [("<", bump(len(known) - 1))]
    return [(operator, low)]


def satisfies(version: str, version_range: str) -> Optional[bool]:
    """Whether ``version`` is in the npm semver range (``>=3 <5``, ``^3.38.0``, ``3.x``, ``2 || 3``, ``3.0 - 3.9``);
    None when the range is not one. The packagers judge ``frameworkVersion`` with node-semver's ``satisfies``."""
    target = _partial(version)
    if target is None or None in target:
        return None
    full = tuple(target)  # type: ignore[arg-type]
    operations = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "=": lambda a, b: a == b}
    for alternative in str(version_range).split("||"):
        text = alternative.strip()
        hyphen = re.match(r"^(\S+)\s+-\s+(\S+)$", text)
        if hyphen:
            comparators = [f">={hyphen.group(1)}", f"<={hyphen.group(2)}"]
        else:
            comparators = re.sub(r"(<=|>=|<|>|=|\^|~>?)\s+", r"\1", text).split() or ["*"]
        bounds = []
        for comparator in comparators:
            match = _COMPARATOR.match(comparator)
            parts = _partial(match.group(2)) if match else None
            if parts is None:
                return None
            bounds += _comparator_bounds(match.group(1) or "", parts)
        if all(operations[operator](full, bound) for operator, bound in bounds):
            return True
    return False


# The packagers known to judge frameworkVersion, by their package name: both with node-semver's satisfies
# (serverless 3 lib/classes/service.js; osls the same, on its version coerced).
FRAMEWORK_VERSION_JUDGES = ("serverless", "osls")


def framework_version_findings(units: Sequence[Tuple[str, str, str, Any]], packager: str) -> List[Finding]:
    """``frameworkVersion`` values the packager (``serverless@3.40.0``, ``osls@4.3.1``) refuses.

    ``units`` are ``(kind, name, file, frameworkVersion)``; a unit without one is not checked (the packagers skip it too),
    nor is any unit of a packager that is not known to judge it (a wrapper, a stand-in): its rule is its own.
    """
    package, version = packager.split("@", 1) if "@" in packager else (packager, "")
    if package not in FRAMEWORK_VERSION_JUDGES:
        return []
    findings = []
    for kind, name, file, wanted in units:
        if wanted in (None, ""):
            continue
        verdict = satisfies(version, str(wanted))
        if verdict is None:
            message = f"frameworkVersion {wanted!r} is not a semver range {package} can read: write one such as \">=3 <5\""
        elif verdict:
            continue
        else:
            message = (f"frameworkVersion {wanted!r} does not admit {package} {version}, so {package} refuses to package it: widen it "
                       f"(e.g. \">=3 <5\" admits serverless 3 and osls 4) or package with the other packager (package_sls_binary)")
        findings.append(Finding("framework-version", name, file, "frameworkVersion", f"{kind} {name}: {message}"))
    return findings


# ---------------------------------------------------------------------------------------------- the whole run


def report(findings: Sequence[Finding], checked: int, skipped: Sequence[str] = ()) -> Dict[str, Any]:
    """The doctor's result: findings as data and as lines, and one summary line."""
    lines = [finding.line() for finding in findings]
    summary = (f"project doctor: {len(findings)} problem(s) in {checked} packaged template(s)" if findings
               else f"project doctor: no problem in {checked} packaged template(s)")
    if skipped:
        summary += f"; not checked (no packaged template yet): {', '.join(skipped)}"
    return {
        "findings": [{"check": item.check, "unit": item.unit, "file": item.file, "resource": item.resource, "regions": item.regions,
                      "message": item.message} for item in findings],
        "lines": lines,
        "summary": summary,
        "checked": checked,
        "not_checked": list(skipped),
    }


def failure_message(result: Mapping[str, Any]) -> str:
    """What the run stops with: the summary, then one line per problem."""
    return result["summary"] + "; nothing was uploaded:\n" + "\n".join(f"- {line}" for line in result["lines"])


def examine(units: Sequence[Unit], products: Mapping[str, Mapping[str, Any]], product_files: Mapping[str, str],
            tenant_parameter_of: Any) -> Dict[str, Any]:
    """Every finding of the packaged ``units`` (all regions of the run) and the ``products`` (loaded definitions)."""
    findings = tenant_parameter_findings(products, tenant_parameter_of, product_files)
    checked, skipped, seen = 0, [], set()
    for unit in units:
        if not unit.template_path or not os.path.isfile(unit.template_path):
            if unit.name not in seen:
                skipped.append(unit.name)
            seen.add(unit.name)
            continue
        checked += 1
        findings.extend(check_unit(unit))
    return report(merge_regions(findings), checked, skipped)


# ---------------------------------------------------------------------------------------------- the module's service


def _relative(path: Optional[str], project_dir: str) -> str:
    return os.path.relpath(path, project_dir) if path else "?"


def units_of_targets(params: Mapping[str, Any], tenancies: Mapping[Tuple[str, str], Tenancy]) -> List[Unit]:
    """The ``project_doctor`` options' targets as Units: each packaged service and init stack of each region."""
    project_dir = os.path.abspath(params["project_dir"])
    services_dir = params.get("services_dir") or os.path.join(project_dir, "services")
    units = []
    for target in params["targets"]:
        for package in target.get("packages") or []:
            kind, name = package.get("kind", "service"), package["name"]
            folder = os.path.join(services_dir, name) if kind == "service" else os.path.join(params.get("init_dir") or project_dir, name)
            units.append(Unit(
                name=name, kind=kind, file=_relative(sources.find_config(folder, sources.SERVICE_CONFIG_NAMES), project_dir) if os.path.isdir(folder) else name,
                template_path=package.get("template_path") or "", stage=params["stage"], region=target["region"],
                bucket=target["bucket"], tenancy=tenancies.get((kind, name)),
            ))
    return units


def run_doctor(params: Mapping[str, Any]) -> Dict[str, Any]:
    """The ``project_doctor`` module's result (``failed`` when there are findings and ``fail_on_findings``)."""
    project_dir = os.path.abspath(params["project_dir"])
    products = {name: load_product(path) for name, path in sorted((params.get("product_definitions") or {}).items())}
    files = {name: _relative(path, project_dir) for name, path in (params.get("product_definitions") or {}).items()}
    tenancies = product_tenancies(products, tenant_parameter)
    result = examine(units_of_targets(params, tenancies), products, files, tenant_parameter)
    result["failed"] = bool(result["findings"]) and params.get("fail_on_findings", True)
    if result["failed"]:
        result["msg"] = failure_message(result)
    return result


# The project_doctor module's options; its action plugin (which runs the doctor in-process) validates the same ones.
DOCTOR_ARGUMENT_SPEC: Dict[str, Dict[str, Any]] = dict(
    project_dir=dict(type="path", required=True),
    stage=dict(type="str", required=True),
    services_dir=dict(type="path"),
    init_dir=dict(type="path"),
    product_definitions=dict(type="dict", default={}),
    targets=dict(type="list", elements="dict", required=True),
    fail_on_findings=dict(type="bool", default=True),
)


def doctor_result(params: Mapping[str, Any]) -> Dict[str, Any]:
    """What the task returns: the doctor's result, or on findings (or unreadable input) ``failed`` with the message.

    On failure only the summary and counts come back beside ``msg``: the message already lists every finding once.
    """
    try:
        result = run_doctor(params)
    except (ProductError, OSError, ValueError, KeyError) as exc:
        return {"failed": True, "changed": False, "msg": f"project doctor could not read the packaged project: {exc}"}
    if result.pop("failed"):
        return {"failed": True, "changed": False, "msg": result["msg"], "summary": result["summary"], "checked": result["checked"],
                "not_checked": result["not_checked"]}
    return dict(result, changed=False)


def framework_findings_of(units: Sequence[Tuple[str, str, str]], packager: str, project_dir: str) -> List[Finding]:
    """``frameworkVersion`` findings of ``(kind, name, config file)`` units (read from their configs)."""
    wanted = [(kind, name, _relative(config, project_dir), sources.framework_version(config)) for kind, name, config in units]
    return framework_version_findings(wanted, packager)
