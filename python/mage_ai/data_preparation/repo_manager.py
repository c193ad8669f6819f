"""Older Mage templates import get_repo_path from here."""
from mage_ai.settings.repo import get_repo_path  # noqa: F401
