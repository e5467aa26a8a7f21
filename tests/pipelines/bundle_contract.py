"""A bundle's preprocessing as the shipped bundles record it, for option tests that need one."""

from __future__ import annotations

from emotrace.schemas.config import AnalyzeConfig
from emotrace.schemas.preprocessing import Preprocessing

PRE = Preprocessing.of(AnalyzeConfig())
