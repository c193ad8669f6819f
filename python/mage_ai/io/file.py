"""Mage's FileIO: CSV, JSON and Parquet files through pandas."""
import os
from typing import Any, Optional

FORMATS = ('csv', 'json', 'parquet')


def _format_of(filepath: str, format: Optional[Any]) -> str:
    if format is not None:
        name = getattr(format, 'value', format)
    else:
        name = os.path.splitext(os.fspath(filepath))[1].lstrip('.').lower()
    if name not in FORMATS:
        raise ValueError(f'Unsupported file format "{name}" for {filepath}: use one of {", ".join(FORMATS)}')
    return name


class FileIO:
    def __init__(self, verbose: bool = False, **kwargs):
        self.verbose = verbose

    @classmethod
    def with_config(cls, config: Any = None, **kwargs) -> 'FileIO':
        return cls(**kwargs)

    def load(self, filepath: str, format: Optional[Any] = None, limit: Optional[int] = None, **kwargs) -> Any:
        import pandas as pd
        kind = _format_of(filepath, format)
        if kind == 'csv':
            df = pd.read_csv(filepath, **kwargs)
        elif kind == 'json':
            df = pd.read_json(filepath, **kwargs)
        else:
            df = pd.read_parquet(filepath, **kwargs)
        return df.head(limit) if limit is not None else df

    def export(self, df: Any, filepath: str, format: Optional[Any] = None, **kwargs) -> None:
        kind = _format_of(filepath, format)
        directory = os.path.dirname(os.path.abspath(filepath))
        os.makedirs(directory, exist_ok=True)
        if kind == 'csv':
            df.to_csv(filepath, **{'index': False, **kwargs})
        elif kind == 'json':
            df.to_json(filepath, **{'orient': 'records', **kwargs})
        else:
            df.to_parquet(filepath, **kwargs)
