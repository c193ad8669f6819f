"""`get_secret_value(name)`: the secret's value from Blockflow's secret store, asked of the parent process."""
import os
import sys
from typing import Optional

from blockflow_runtime.context import ask_parent, current


def get_secret_value(name: str, repo_name: Optional[str] = None, suppress_warning: bool = False,
                     **kwargs) -> Optional[str]:
    if current() is not None:
        response = ask_parent('secret_request', {'name': name})
        if response is not None and response.get('error'):
            raise RuntimeError(f'Secret {name} could not be read: {response["error"]}')
        value = None if response is None else response.get('value')
    else:
        # Run outside a Blockflow worker (e.g. `python block.py`): the environment is the only secret store.
        value = os.environ.get(name)
    if value is None and not suppress_warning:
        print(f'WARNING: Could not find secret value for secret {name}', file=sys.stderr)
    return value
