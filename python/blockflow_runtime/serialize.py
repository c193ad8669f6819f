"""Conversion of block values to plain JSON values (NaN -> null, timestamps -> ISO 8601), as Mage's
simplejson encoder with ignore_nan does.

to_json_value is a *rendering*: what data.json, sample_data.json and inline results show. Whether that rendering
is the value itself (and so may be stored as plain JSON) is is_json_exact's question; values it refuses are stored
with pickle (see variables.py)."""
import datetime
import decimal
import math
import uuid
from typing import Any, List

SAMPLE_ITEMS = 20


def _is_pandas_missing(value: Any) -> bool:
    try:
        import pandas as pd
    except ImportError:
        return False
    return value is pd.NaT or value is pd.NA


def to_json_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if _is_pandas_missing(value):
        return None
    if isinstance(value, dict):
        return {(k if isinstance(k, str) else str(to_json_value(k))): to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json_value(v) for v in value]
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return to_json_value(float(value)) if value != value.to_integral_value() else int(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode('utf-8', 'replace')
    module = type(value).__module__ or ''
    if module.startswith('pandas'):
        import pandas as pd
        if isinstance(value, pd.DataFrame):
            return dataframe_records(value)
        if isinstance(value, (pd.Series, pd.Index)):
            return [to_json_value(v) for v in value.tolist()]
        if isinstance(value, pd.Timedelta):
            return str(value)
    if module.startswith('numpy'):
        import numpy as np
        if isinstance(value, np.ndarray):
            return [to_json_value(v) for v in value.tolist()]
        if isinstance(value, np.generic):
            if isinstance(value, np.datetime64):
                import pandas as pd
                return to_json_value(pd.Timestamp(value))
            return to_json_value(value.item())
    if module.startswith('polars') and hasattr(value, 'to_dicts'):
        return [to_json_value(row) for row in value.to_dicts()]
    if module.startswith('polars') and hasattr(value, 'to_list'):
        return [to_json_value(v) for v in value.to_list()]
    if hasattr(value, 'to_dict'):
        try:
            return to_json_value(value.to_dict())
        except Exception:
            pass
    return object_summary(value)


def object_summary(value: Any) -> str:
    """The text shown for an object JSON has no form for (a model, a client): its type, as Mage's object_to_uuid.
    Only ever a display: the object itself is stored with pickle, or the block fails."""
    kind = type(value)
    return f'<{kind.__module__}.{kind.__qualname__} object>'


def is_json_exact(value: Any) -> bool:
    """True when JSON holds `value` as it is: None, bool, int, float, str, and lists and str-keyed dicts of them.
    A tuple, set, numpy number, datetime or Decimal is not (JSON would hand back a list, an int or a str).
    Iterative, so a deeply nested value cannot overflow the stack here."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if item is None or kind in (bool, int, float, str):
            continue
        if kind is list:
            stack.extend(item)
        elif kind is dict:
            for key, child in item.items():
                if type(key) is not str:
                    return False
                stack.append(child)
        else:
            return False
    return True


def dataframe_records(df: Any) -> List[Any]:
    """A DataFrame as Mage's records list: one dict per row."""
    return [to_json_value(row) for row in df.to_dict('records')]


def sample(value: Any, items: int = SAMPLE_ITEMS) -> Any:
    """Lists cut to `items` elements per level, as Mage's sample_data.json."""
    if isinstance(value, list):
        return [sample(v, items) for v in value[:items]]
    if isinstance(value, dict):
        return {k: sample(v, items) for k, v in value.items()}
    return value
