"""Recipes are scripts, not a package: make ``import transfer_learning`` etc. work in tests."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "recipes"))
