"""io_config.yaml profiles, with Mage's `{{ env_var('X') }}` and `{{ mage_secret_var('x') }}` templating."""
import os
import re
from enum import Enum
from typing import Any, Dict, Optional, Union

from blockflow_runtime.context import ask_parent, current, project_root

DEFAULT_PROFILE = 'default'
_TEMPLATE_CALL = re.compile(r"""\{\{\s*(env_var|mage_secret_var)\(\s*['"]([^'"]+)['"]\s*\)\s*\}\}""")


class ConfigKey(str, Enum):
    AWS_ACCESS_KEY_ID = 'AWS_ACCESS_KEY_ID'
    AWS_REGION = 'AWS_REGION'
    AWS_SECRET_ACCESS_KEY = 'AWS_SECRET_ACCESS_KEY'
    AWS_SESSION_TOKEN = 'AWS_SESSION_TOKEN'
    MYSQL_DATABASE = 'MYSQL_DATABASE'
    MYSQL_HOST = 'MYSQL_HOST'
    MYSQL_PASSWORD = 'MYSQL_PASSWORD'
    MYSQL_PORT = 'MYSQL_PORT'
    MYSQL_USER = 'MYSQL_USER'
    POSTGRES_CONNECT_TIMEOUT = 'POSTGRES_CONNECT_TIMEOUT'
    POSTGRES_CONNECTION_METHOD = 'POSTGRES_CONNECTION_METHOD'
    POSTGRES_DBNAME = 'POSTGRES_DBNAME'
    POSTGRES_HOST = 'POSTGRES_HOST'
    POSTGRES_PASSWORD = 'POSTGRES_PASSWORD'
    POSTGRES_PORT = 'POSTGRES_PORT'
    POSTGRES_SCHEMA = 'POSTGRES_SCHEMA'
    POSTGRES_USER = 'POSTGRES_USER'


def render_template(text: str) -> str:
    """Replaces env_var and mage_secret_var calls; a missing value renders as an empty string, as Jinja's None."""
    from mage_ai.data_preparation.shared.secrets import get_secret_value

    def replace(match: 're.Match[str]') -> str:
        function, name = match.group(1), match.group(2)
        value = os.environ.get(name) if function == 'env_var' else get_secret_value(name)
        return '' if value is None else str(value)

    return _TEMPLATE_CALL.sub(replace, text)


def parse_yaml(text: str, source: str) -> Any:
    try:
        import yaml
    except ImportError:
        yaml = None
    if yaml is not None:
        return yaml.safe_load(text)
    if current() is None:
        raise ImportError(f'Reading {source} needs PyYAML (pip install pyyaml)')
    response = ask_parent('yaml_request', {'text': text}) or {}
    if response.get('error'):
        raise ValueError(f'{source} is not valid YAML: {response["error"]}')
    return response.get('value')


def _key(key: Union[str, Enum]) -> str:
    return key.value if isinstance(key, Enum) else str(key)


class ConfigFileLoader:
    """One profile of io_config.yaml: `loader[ConfigKey.POSTGRES_HOST]` or `loader['POSTGRES_HOST']`."""

    def __init__(self, filepath: Optional[str] = None, profile: str = DEFAULT_PROFILE,
                 config: Optional[Dict[str, Any]] = None):
        if config is not None:
            self.config = dict(config)
            return
        if filepath is None:
            filepath = os.path.join(project_root(), 'io_config.yaml')
        filepath = os.fspath(filepath)
        with open(filepath, encoding='utf-8') as f:
            text = f.read()
        parsed = parse_yaml(render_template(text), filepath) or {}
        if not isinstance(parsed, dict) or profile not in parsed:
            raise ValueError(f'Profile "{profile}" is not defined in {filepath}')
        profile_config = parsed[profile] or {}
        if not isinstance(profile_config, dict):
            raise ValueError(f'Profile "{profile}" in {filepath} is not a mapping')
        self.config = profile_config

    def __contains__(self, key: Union[str, Enum]) -> bool:
        return _key(key) in self.config

    def __getitem__(self, key: Union[str, Enum]) -> Any:
        return self.config[_key(key)]

    def get(self, key: Union[str, Enum], default: Any = None) -> Any:
        return self.config.get(_key(key), default)
