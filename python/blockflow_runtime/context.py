"""State shared by the worker and the mage_ai compatibility package while a block runs.

The worker runs one block at a time, so module-level state is enough. Outside the worker (a block file run
directly with python) nothing is set and the compatibility package falls back to environment variables.
"""
import os
from typing import Any, Callable, Dict, Optional


class RequestContext:
    """What the compatibility package needs to know about the block being run."""

    def __init__(self, request_id: str, project_root: str, data_dir: str, pipeline_uuid: str, block_uuid: str):
        self.request_id = request_id
        self.project_root = project_root
        self.data_dir = data_dir
        self.pipeline_uuid = pipeline_uuid
        self.block_uuid = block_uuid


_current: Optional[RequestContext] = None
# Asks the parent process something and waits for the answer: (request_type, fields) -> response dict.
_ask: Optional[Callable[[str, Dict[str, Any]], Dict[str, Any]]] = None
# Receives (decorator_name, function, decorator_argument) while a block file is being executed.
_collector: Optional[Callable[[str, Callable, Any], None]] = None


def current() -> Optional[RequestContext]:
    return _current


def set_current(ctx: Optional[RequestContext]) -> None:
    global _current
    _current = ctx


def set_parent_channel(ask: Optional[Callable[[str, Dict[str, Any]], Dict[str, Any]]]) -> None:
    global _ask
    _ask = ask


def ask_parent(request_type: str, fields: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """Sends a request to the parent and returns its response, or None when not running in a worker."""
    if _ask is None or _current is None:
        return None
    return _ask(request_type, fields)


def set_collector(collector: Optional[Callable[[str, Callable, Any], None]]) -> None:
    global _collector
    _collector = collector


def collect(kind: str, function: Callable, argument: Any = None) -> Callable:
    if _collector is not None:
        _collector(kind, function, argument)
    return function


def project_root() -> str:
    if _current is not None:
        return _current.project_root
    return os.environ.get('MAGE_REPO_PATH') or os.environ.get('BLOCKFLOW_PROJECT_ROOT') or os.getcwd()


def data_dir() -> str:
    if _current is not None:
        return _current.data_dir
    return os.environ.get('MAGE_DATA_DIR') or os.path.join(project_root(), 'mage_data')
