"""Block outputs on disk in Mage's layout (see docs/architecture.md, "Block outputs on disk").

`<block_dir>/output_<N>/` holds either a DataFrame (type.json, data.parquet, sample_data.parquet,
data_column_types.json) or a JSON value (data.json, sample_data.json). Mage's legacy `<block_dir>/output_<N>.json`
file is read too.
"""
import json
import os
import re
import shutil
import uuid
from typing import Any, List

from .serialize import sample, to_json_value

SAMPLE_ROWS = 1000
SAMPLE_COLUMNS = 1000
_OUTPUT_NAME = re.compile(r'^output_(\d+)(\.json)?$')


def output_names(block_dir: str) -> List[str]:
    """The variable names present (`output_0`, `output_1`...), in numeric order."""
    try:
        entries = os.listdir(block_dir)
    except FileNotFoundError:
        return []
    numbers = set()
    for entry in entries:
        match = _OUTPUT_NAME.match(entry)
        if match:
            numbers.add(int(match.group(1)))
    return [f'output_{n}' for n in sorted(numbers)]


def read_variable(block_dir: str, name: str) -> Any:
    """Loads one variable: a DataFrame, a pandas Series, a polars DataFrame or a JSON value."""
    folder = os.path.join(block_dir, name)
    if os.path.isdir(folder):
        kind = None
        type_file = os.path.join(folder, 'type.json')
        if os.path.exists(type_file):
            with open(type_file, encoding='utf-8') as f:
                kind = (json.load(f) or {}).get('type')
        parquet = os.path.join(folder, 'data.parquet')
        if os.path.exists(parquet):
            if kind == 'polars_dataframe':
                import polars
                return polars.read_parquet(parquet)
            import pyarrow.parquet as pq
            frame = pq.read_table(parquet).to_pandas()
            if kind == 'series_pandas':
                return frame.iloc[:, 0]
            return frame
        data_json = os.path.join(folder, 'data.json')
        if os.path.exists(data_json):
            with open(data_json, encoding='utf-8') as f:
                return json.load(f)
        raise FileNotFoundError(f'Variable {name} in {block_dir} has neither data.parquet nor data.json')
    legacy = folder + '.json'
    if os.path.exists(legacy):
        with open(legacy, encoding='utf-8') as f:
            return json.load(f)
    raise FileNotFoundError(f'Variable {name} not found in {block_dir}')


def read_outputs(block_dir: str) -> List[Any]:
    return [read_variable(block_dir, name) for name in output_names(block_dir)]


def upstream_argument(block_dir: str) -> Any:
    """Mage's positional argument for one upstream: output_0 alone when there is one output, else the list."""
    values = read_outputs(block_dir)
    return values[0] if len(values) == 1 else values


def _arrow_table(df: Any) -> Any:
    import pyarrow as pa
    if not all(isinstance(c, str) for c in df.columns):
        df = df.rename(columns=str)
    try:
        return pa.Table.from_pandas(df)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        # Mixed-type object columns cannot become one Arrow type: store them as text, as Mage does.
        df = df.copy()
        for column in df.columns:
            if df[column].dtype == object:
                df[column] = df[column].map(_cell_as_text)
        return pa.Table.from_pandas(df)


def _cell_as_text(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(to_json_value(value))
    return str(value)


def _write_json(path: str, value: Any) -> None:
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(value, f, ensure_ascii=False, allow_nan=False)


def write_variable(folder: str, value: Any) -> None:
    os.makedirs(folder, exist_ok=True)
    module = type(value).__module__ or ''
    if module.startswith('pandas'):
        import pandas as pd
        if isinstance(value, (pd.DataFrame, pd.Series)):
            kind = 'dataframe'
            frame = value
            if isinstance(value, pd.Series):
                kind = 'series_pandas'
                frame = value.to_frame(name=str(value.name) if value.name is not None else '0')
            _write_dataframe(folder, frame, kind)
            return
    if module.startswith('polars') and hasattr(value, 'write_parquet') and hasattr(value, 'head'):
        value.write_parquet(os.path.join(folder, 'data.parquet'))
        value.head(SAMPLE_ROWS).write_parquet(os.path.join(folder, 'sample_data.parquet'))
        _write_json(os.path.join(folder, 'type.json'), {'type': 'polars_dataframe'})
        _write_json(os.path.join(folder, 'data_column_types.json'),
                    {str(k): str(v) for k, v in value.schema.items()})
        return
    data = to_json_value(value)
    _write_json(os.path.join(folder, 'data.json'), data)
    _write_json(os.path.join(folder, 'sample_data.json'), sample(data))


def _write_dataframe(folder: str, df: Any, kind: str) -> None:
    import pyarrow.parquet as pq
    table = _arrow_table(df)
    pq.write_table(table, os.path.join(folder, 'data.parquet'))
    sample_table = table.slice(0, SAMPLE_ROWS)
    if sample_table.num_columns > SAMPLE_COLUMNS:
        sample_table = sample_table.select(list(range(SAMPLE_COLUMNS)))
    pq.write_table(sample_table, os.path.join(folder, 'sample_data.parquet'))
    _write_json(os.path.join(folder, 'type.json'), {'type': kind})
    _write_json(os.path.join(folder, 'data_column_types.json'), {str(k): str(v) for k, v in df.dtypes.items()})


def write_outputs(block_dir: str, values: List[Any]) -> None:
    """Replaces `block_dir` with output_0..N-1: written into a temp folder beside it, then renamed into place."""
    block_dir = os.path.abspath(block_dir)
    parent = os.path.dirname(block_dir)
    os.makedirs(parent, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    staging = os.path.join(parent, f'.{os.path.basename(block_dir)}.tmp-{token}')
    try:
        os.makedirs(staging)
        for index, value in enumerate(values):
            write_variable(os.path.join(staging, f'output_{index}'), value)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    retired = None
    if os.path.lexists(block_dir):
        retired = os.path.join(parent, f'.{os.path.basename(block_dir)}.old-{token}')
        os.rename(block_dir, retired)
    os.rename(staging, block_dir)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)
