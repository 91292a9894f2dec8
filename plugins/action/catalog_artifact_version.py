# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The catalog_artifact_version module, in the controller's process for a local connection (plugin_utils/in_process.py says when)."""

from __future__ import annotations

from ansible_collections.multiregion.serverless.plugins.modules.catalog_artifact_version import MODULE_SPEC, run
from ansible_collections.multiregion.serverless.plugins.plugin_utils.in_process import in_process_action

ActionModule = in_process_action(MODULE_SPEC, run)
