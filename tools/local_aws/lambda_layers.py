# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lambda layers in CloudFormation as AWS builds them, on moto's backend.

moto 5.2.1's ``AWS::Lambda::LayerVersion`` has no physical id, so ``{"Ref": "Layer"}`` resolves to moto's Python
object instead of the layer version's ARN (what the resource reference documents as its ``Ref``), and
``AWS::Lambda::Function`` drops its ``Layers`` on create; an update then fails with "'LayerVersion' object has no
attribute 'replace'". AWS SAM services reference their layers with ``!Ref``, so the first rollout of such a
service failed on the local AWS only.

* ``LayerVersion.physical_resource_id``: the layer version's ARN.
* ``LambdaFunction.create_from_cloudformation_json``: ``Layers`` passed to ``create_function`` like the other
  optional properties (an unknown layer version is refused there, as Lambda refuses it).
"""
from __future__ import annotations

from typing import Any

MODULES = ("moto.awslambda.models",)
_MARK = "local_aws_lambda_layers"


def patch_module(module: Any) -> None:
    if module.__name__ not in MODULES or getattr(module.LambdaFunction.create_from_cloudformation_json, _MARK, False):
        return
    module.LayerVersion.physical_resource_id = property(lambda self: self.arn)
    original = module.LambdaFunction.create_from_cloudformation_json.__func__

    def create_from_cloudformation_json(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str,
                                        **kwargs: Any) -> Any:
        function = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        layers = (cloudformation_json.get("Properties") or {}).get("Layers")
        if layers:
            function.update_configuration({"Layers": layers})
        return function

    setattr(create_from_cloudformation_json, _MARK, True)
    module.LambdaFunction.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)
