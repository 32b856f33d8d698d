"""Shared pytest setup: make tests/ helpers importable (e.g. `import media`)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
