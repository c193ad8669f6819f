"""Constants of Mage's io_config module that block code may import."""
from mage_ai.io.base import DataSource  # noqa: F401
from mage_ai.io.config import DEFAULT_PROFILE, ConfigKey  # noqa: F401
