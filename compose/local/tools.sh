#!/usr/bin/env bash
# Install the tools some tests drive, from Debian's packages (idempotent; nothing is started):
#   graphviz                 `dot` renders erd.dot (tests/test_report.py)
#   chromium chromium-driver the HTML report opened in a real headless browser (tests/test_report_browser.py)
#   fonts-liberation         a text font for the screenshots (chromium only recommends it)
# Planning needs none of them: docs/index.html draws its SVG diagrams in Python.
set -euo pipefail
STORE=tools
source "$(dirname "$0")/lib.sh"
apt_install graphviz chromium chromium-driver fonts-liberation
say "dot $(dot -V 2>&1 | sed 's/.*version //'), $(chromedriver --version | cut -d' ' -f1-2)"
