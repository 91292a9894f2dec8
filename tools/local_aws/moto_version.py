"""The moto release the local AWS is written against, and which of its modules lean on moto's internals.

``tests/unit/tools/local_aws/test_moto_version.py`` fails when the installed moto or the ``moto[server]==`` pin of
requirements.txt is not ``MOTO_VERSION``, and names what to review (``MOTO_DEPENDENT_MODULES``); it also fails when
a module of tools/local_aws imports moto without being listed here. After reviewing, bump ``MOTO_VERSION`` (and
"moto 5.2.1" in docs/local-aws.md).
"""
from __future__ import annotations

from typing import Dict

MOTO_VERSION = "5.2.1"

# tools/local_aws module -> what of moto it relies on (replaced, wrapped, subclassed or read).
MOTO_DEPENDENT_MODULES: Dict[str, str] = {
    "extension.py": "the import hook that patches moto modules when first imported; Service Catalog backends and url_paths; "
                    "CloudFormation's get_stack_from_s3_url, Stack.parse_template, Stack.get_cfn_attribute; botocore_stubber.process_request",
    "moto_indexes.py": "copies of moto methods, installed only while their source sha256 is MOTO_SOURCES (IAMBackend.create_role, "
                       "Role.delete_from_cloudformation_json, CloudFormationBackend.create_stack, ResourceMap.__get_resources_in_dependency_order, "
                       "resource_name_property_from_type); IAMBackend.roles and CloudFormationBackend.stacks dicts; get_role, get_role_by_arn, "
                       "get_stack, delete_stack",
    "aws_limits.py": "wrappers of IAMBackend.create_role/create_policy, Role/User/Group.put_policy, LambdaBackend.create_function, "
                     "DynamoDBBackend.create_table, CloudFormationBackend.create_stack/create_change_set, cloudformation.parsing."
                     "generate_resource_name, sqs Queue.create_from_cloudformation_json; the limits moto enforces itself (S3, SQS, SNS, Logs)",
    "apigateway_methods.py": "replaces apigateway Method.create_from_cloudformation_json (MOTO_SOURCES); wraps APIGatewayBackend."
                             "put_integration and create_deployment",
    "stack_updates.py": "replaces ResourceMap.update, Stack.update, Stack.update_from_cloudformation_json and wraps Stack.create_resources, "
                        "parsing.parse_and_create_resource (REPLACED_MOTO_SOURCES); ResourceMap internals (_template, _resource_json_map, "
                        "_parsed_resources, resolved_parameters, load_*, build_resource_diff, _delete_resource), Stack events and OutputMap",
    "parameter_constraints.py": "wraps cloudformation.parsing.ResourceMap.load_parameters (its _template and resolved_parameters); "
                                "moto.cloudformation.exceptions.ValidationError",
    "servicecatalog.py": "subclasses ServiceCatalogBackend and ServiceCatalogResponse; CloudFormation and STS backends",
    "templates.py": "moto's S3 backend (s3_backends.bucket_accounts, get_object); cloudformation.utils.yaml_tag_constructor",
    "s3_owner.py": "s3_backends.bucket_accounts",
    "server.py": "moto_server.werkzeug_app (DomainDispatcherApplication, create_backend_app); BackendDict.reset",
    "pytest_plugin.py": "mock_aws; BackendDict.reset",
}
