# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``python -m local_aws`` (with tools/ on the path): the local AWS server; ``tools/local-aws`` runs this."""
from __future__ import annotations

import sys

from local_aws.server import main

sys.exit(main())
