# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Packaging services for one deploy target (stage and region); the logic behind ``sls_package``.

* ``packager`` - the ``Packager`` interface (command, output folder, version, name, output reader) and the
  errors; ``serverless`` and ``compose`` implement it. A SAM packager is one more implementation (and one
  entry in ``service.PACKAGERS``); nothing else changes.
* ``sources`` - discovery, config checks, the content cache key, working copies.
* ``output`` - a packager's output folder to the normalised template and ZIPs.
* ``runner`` - packaging with slots, serial services and the content cache.
* ``service`` - the one function the module calls.
"""

from __future__ import annotations
