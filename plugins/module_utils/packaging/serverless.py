# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``sls package --stage S --region R`` (serverless 3.x or osls), one service per run, as a ``Packager``."""

from __future__ import annotations

from typing import List

from ansible_collections.multiregion.serverless.plugins.module_utils.packaging import sources
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging.packager import Packager, framework_version, resolve_binary


class ServerlessPackager(Packager):
    """``sls package --stage S --region R`` writing into ``.serverless/``; the region is baked into the template."""

    name = "serverless"
    output_folder = ".serverless"
    config_names = sources.CONFIG_NAMES

    def __init__(self, binary: str) -> None:
        self.binary = resolve_binary(binary, "serverless")
        self.version = framework_version(self.binary)

    def check_config(self, name: str, source_dir: str, stage: str) -> str:
        return sources.check_config(name, source_dir, stage)

    def inputs(self, config: str) -> List[str]:
        return sources.referenced_files(config)

    def command(self, stage: str, region: str) -> List[str]:
        return [self.binary, "package", "--stage", stage, "--region", region]
