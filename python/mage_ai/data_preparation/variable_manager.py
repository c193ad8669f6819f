"""Reading block outputs stored by earlier runs, as Mage's variable_manager.get_variable."""
import os
from typing import Any, Optional

from blockflow_runtime.context import data_dir
from blockflow_runtime.variables import read_variable


def _block_dir(pipeline_uuid: str, block_uuid: str, partition: Optional[str]) -> str:
    parts = [data_dir(), 'pipelines', pipeline_uuid, '.variables']
    if partition:
        parts.append(partition)
    parts.append(block_uuid)
    return os.path.join(*parts)


def get_variable(pipeline_uuid: str, block_uuid: str, variable_name: str, partition: Optional[str] = None,
                 **kwargs) -> Any:
    """The stored value of `variable_name` (e.g. `output_0`) of a block; None when it was never stored."""
    try:
        return read_variable(_block_dir(pipeline_uuid, block_uuid, partition), variable_name)
    except FileNotFoundError:
        return None


class VariableManager:
    """The subset of Mage's VariableManager that block code reaches for."""

    def __init__(self, *args, **kwargs):
        pass

    @classmethod
    def get_manager(cls, *args, **kwargs) -> 'VariableManager':
        return cls()

    def get_variable(self, pipeline_uuid: str, block_uuid: str, variable_uuid: str,
                     partition: Optional[str] = None, **kwargs) -> Any:
        return get_variable(pipeline_uuid, block_uuid, variable_uuid, partition)
