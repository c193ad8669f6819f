"""Block outputs on disk in Mage's layout (see docs/architecture.md, "Block outputs on disk").

`<block_dir>/output_<N>/` holds one of (type.json names the kind, as Mage's VariableType):
- a DataFrame, Series or polars DataFrame (`dataframe`, `series_pandas`, `polars_dataframe`): data.parquet,
  sample_data.parquet, data_column_types.json;
- a value JSON holds exactly (no type.json): data.json and sample_data.json;
- anything else, pickled as Mage does with joblib (plain pickle where joblib is not installed; joblib.load reads
  both): `model_sklearn` in model.joblib; in object.joblib `dictionary_complex` and `list_complex` (a dict or
  list/tuple/set holding such values), `iterable` (a tuple or set of plain values) and `custom_object` (numpy
  arrays, datetimes, Decimals, class instances). Beside the pickle, data.json and sample_data.json hold a JSON
  rendering for the API and for TypeScript and SQL blocks, which cannot read a pickle.
A value that can be stored none of these ways fails the block with UnserializableOutput; nothing is stored as its
repr. Mage's legacy `<block_dir>/output_<N>.json` file is read too.
"""
import json
import os
import pickle
import re
import shutil
import uuid
from typing import Any, List, Optional

from .serialize import is_json_exact, sample, to_json_value

SAMPLE_ROWS = 1000
SAMPLE_COLUMNS = 1000
_OUTPUT_NAME = re.compile(r'^output_(\d+)(\.json)?$')

JOBLIB_FILE = 'model.joblib'
JOBLIB_OBJECT_FILE = 'object.joblib'
# Kinds whose value is in a pickle, and the file Mage names it by.
PICKLED_KINDS = {'model_sklearn': JOBLIB_FILE, 'custom_object': JOBLIB_OBJECT_FILE,
                 'dictionary_complex': JOBLIB_OBJECT_FILE, 'list_complex': JOBLIB_OBJECT_FILE,
                 'iterable': JOBLIB_OBJECT_FILE}
# Parquet key-value metadata recording what parquet cannot: a Series' own name (None, or not a string).
_SERIES_NAME_KEY = b'blockflow.series_name'


class UnserializableOutput(Exception):
    """A block output that no storage form holds; the message names the output and its type."""


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


def _variable_kind(folder: str) -> Optional[str]:
    type_file = os.path.join(folder, 'type.json')
    if not os.path.exists(type_file):
        return None
    with open(type_file, encoding='utf-8') as f:
        kind = (json.load(f) or {}).get('type')
    return kind if isinstance(kind, str) else None


def _load_pickle(path: str) -> Any:
    # joblib.load also reads a plain pickle, which is what we write where joblib is not installed.
    try:
        import joblib
    except ImportError:
        with open(path, 'rb') as f:
            return pickle.load(f)
    return joblib.load(path)


def _read_series(parquet: str) -> Any:
    import pyarrow.parquet as pq
    table = pq.read_table(parquet)
    series = table.to_pandas().iloc[:, 0]
    recorded = (table.schema.metadata or {}).get(_SERIES_NAME_KEY)
    if recorded is not None:
        series.name = json.loads(recorded)
    return series


def read_variable(block_dir: str, name: str) -> Any:
    """Loads one variable as the block returned it (see the module docstring for the forms)."""
    folder = os.path.join(block_dir, name)
    if os.path.isdir(folder):
        kind = _variable_kind(folder)
        if kind in PICKLED_KINDS:
            for file_name in (PICKLED_KINDS[kind], JOBLIB_OBJECT_FILE, JOBLIB_FILE):
                path = os.path.join(folder, file_name)
                if os.path.exists(path):
                    return _load_pickle(path)
            # Mage keeps dictionary_complex, list_complex and iterable as JSON only: read below.
        parquet = os.path.join(folder, 'data.parquet')
        if os.path.exists(parquet):
            if kind == 'polars_dataframe':
                import polars
                return polars.read_parquet(parquet)
            if kind == 'series_pandas':
                return _read_series(parquet)
            import pyarrow.parquet as pq
            return pq.read_table(parquet).to_pandas()
        data_json = os.path.join(folder, 'data.json')
        if os.path.exists(data_json):
            if kind in ('custom_object', 'model_sklearn', 'model_xgboost'):
                # data.json of an object is only its rendering: handing that on would change the value's type.
                raise FileNotFoundError(f'Variable {name} in {block_dir} is a {kind} without its '
                                        f'{PICKLED_KINDS.get(kind, "model")} file')
            with open(data_json, encoding='utf-8') as f:
                data = json.load(f)
            if kind in ('dictionary_complex', 'list_complex'):
                return _mage_complex(folder, data)
            return data
        raise FileNotFoundError(f'Variable {name} in {block_dir} has neither data.parquet nor data.json')
    legacy = folder + '.json'
    if os.path.exists(legacy):
        with open(legacy, encoding='utf-8') as f:
            return json.load(f)
    raise FileNotFoundError(f'Variable {name} not found in {block_dir}')


def _mage_complex(folder: str, data: Any) -> Any:
    """A dictionary_complex or list_complex as Mage writes it: data.json (a dict with its nested keys flattened
    to `a.b`) and data_column_types.json naming the type of each value by that key path. Values of the types
    below are rebuilt as Mage's deserialize_complex does; others stay as JSON (Mage would import and call an
    arbitrary class named in the file, which we do not do)."""
    types_file = os.path.join(folder, 'data_column_types.json')
    column_types: Any = {}
    if os.path.exists(types_file):
        with open(types_file, encoding='utf-8') as f:
            column_types = json.load(f) or {}
    if not isinstance(column_types, dict):
        column_types = {}

    def rebuild(value: Any, path: str) -> Any:
        info = column_types.get(path)
        name = info.get('name') if isinstance(info, dict) else None
        if name in ('list', 'tuple', 'set') and isinstance(value, list):
            items = [rebuild(v, f'{path}.{i}') for i, v in enumerate(value)]
            return tuple(items) if name == 'tuple' else set(items) if name == 'set' else items
        return _construct(name, value)

    if isinstance(data, dict):
        nested: dict = {}
        for key, value in data.items():
            target = nested
            parts = key.split('.')
            for part in parts[:-1]:
                child = target.get(part)
                if not isinstance(child, dict):
                    child = target[part] = {}
                target = child
            target[parts[-1]] = rebuild(value, key)
        return nested
    if isinstance(data, list):
        return [rebuild(v, str(i)) for i, v in enumerate(data)]
    return data


def _construct(name: Optional[str], value: Any) -> Any:
    if value is None or name is None:
        return value
    try:
        if name in ('Timestamp', 'datetime', 'DataFrame', 'Series'):
            import pandas as pd
            if name == 'Timestamp':
                return pd.Timestamp(value)
            if name == 'datetime':
                import datetime
                return datetime.datetime.fromisoformat(value)
            if isinstance(value, (dict, list)):
                return pd.DataFrame(value) if name == 'DataFrame' else pd.Series(value)
        elif name == 'ndarray':
            import numpy as np
            return np.array(value)
    except (TypeError, ValueError):
        pass
    return value


def read_outputs(block_dir: str) -> List[Any]:
    return [read_variable(block_dir, name) for name in output_names(block_dir)]


def upstream_argument(block_dir: str) -> Any:
    """Mage's positional argument for one upstream: output_0 alone when there is one output, else the list."""
    values = read_outputs(block_dir)
    return values[0] if len(values) == 1 else values


def upstream_input(upstream: dict) -> Any:
    """One positional input from an UpstreamInput (src/runtimes/types.ts): a block folder, one item of a dynamic
    upstream's item list (`item`), or the gathered outputs of a reduce (`gather`)."""
    gather = upstream.get('gather')
    if gather is not None:
        return _gathered(gather)
    item = upstream.get('item')
    if item is not None:
        return _item_of(read_outputs(upstream['variablesDir'])[0], int(item))
    return upstream_argument(upstream['variablesDir'])


def _item_of(items: Any, index: int) -> Any:
    kind = variable_kind(items)
    if kind in ('dataframe', 'series_pandas'):
        return items.iloc[index].to_dict() if kind == 'dataframe' else items.iloc[index]
    if kind == 'polars_dataframe':
        return items.row(index, named=True)
    return list(items)[index]


def _gathered(block_dirs: List[str]) -> Any:
    """Mage's reduce_output: list outputs contribute their entries; a list of DataFrames alone is concatenated."""
    values: List[Any] = []
    for block_dir in block_dirs:
        for value in read_outputs(block_dir):
            if isinstance(value, list):
                values.extend(value)
            else:
                values.append(value)
    kinds = {variable_kind(v) for v in values}
    if values and kinds == {'dataframe'}:
        import pandas as pd
        return pd.concat(values, ignore_index=True)
    if values and kinds == {'polars_dataframe'}:
        import polars as pl
        return pl.concat(values)
    return values


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


def variable_kind(value: Any) -> Optional[str]:
    """Mage's VariableType for a value (None: plain JSON), as infer_variable_type decides it."""
    module = type(value).__module__ or ''
    if module.startswith('pandas'):
        import pandas as pd
        if isinstance(value, pd.DataFrame):
            return 'dataframe'
        if isinstance(value, pd.Series):
            return 'series_pandas'
    if module.startswith('polars') and hasattr(value, 'write_parquet') and hasattr(value, 'head'):
        return 'polars_dataframe'
    if is_json_exact(value):
        return None
    if _is_sklearn_model(value):
        return 'model_sklearn'
    if isinstance(value, dict):
        return 'dictionary_complex'
    if isinstance(value, (list, tuple, set, frozenset)):
        # Mage's `iterable` is a tuple or set of plain values; `list_complex` holds other objects.
        return 'iterable' if all(is_json_exact(item) for item in value) else 'list_complex'
    return 'custom_object'


def _is_sklearn_model(value: Any) -> bool:
    return any((base.__module__ or '').startswith('sklearn') for base in type(value).__mro__) \
        and hasattr(value, 'fit')


def _dump_pickle(value: Any, path: str) -> None:
    try:
        import joblib
    except ImportError:
        with open(path, 'wb') as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        return
    joblib.dump(value, path)


def write_variable(folder: str, value: Any) -> None:
    os.makedirs(folder, exist_ok=True)
    kind = variable_kind(value)
    if kind in ('dataframe', 'series_pandas'):
        frame = value
        series_name = None
        if kind == 'series_pandas':
            series_name = value.name
            frame = value.to_frame(name=str(series_name) if series_name is not None else '0')
        _write_dataframe(folder, frame, kind, series_name)
        return
    if kind == 'polars_dataframe':
        value.write_parquet(os.path.join(folder, 'data.parquet'))
        value.head(SAMPLE_ROWS).write_parquet(os.path.join(folder, 'sample_data.parquet'))
        _write_json(os.path.join(folder, 'type.json'), {'type': 'polars_dataframe'})
        _write_json(os.path.join(folder, 'data_column_types.json'),
                    {str(k): str(v) for k, v in value.schema.items()})
        return
    if kind is not None:
        try:
            _dump_pickle(value, os.path.join(folder, PICKLED_KINDS[kind]))
        except Exception as exc:
            raise UnserializableOutput(f'a {_type_name(value)} that cannot be stored: {_pickle_reason(exc)}') from exc
        _write_json(os.path.join(folder, 'type.json'), {'type': kind})
    data = to_json_value(value)
    _write_json(os.path.join(folder, 'data.json'), data)
    _write_json(os.path.join(folder, 'sample_data.json'), sample(data))


def _type_name(value: Any) -> str:
    kind = type(value)
    module = kind.__module__ or ''
    return kind.__qualname__ if module == 'builtins' else f'{module}.{kind.__qualname__}'


def _pickle_reason(exc: BaseException) -> str:
    text = f'{type(exc).__name__}: {exc}'
    if 'mage_block_' in str(exc):
        # Classes defined in a block file live in a module no other block can import.
        text += ' (a class defined in a block file cannot be loaded by another block: define it in a module ' \
                'of the project and import it)'
    return text


def _write_dataframe(folder: str, df: Any, kind: str, series_name: Any = None) -> None:
    import pyarrow.parquet as pq
    table = _arrow_table(df)
    if kind == 'series_pandas':
        name = series_name if is_json_exact(series_name) else str(series_name)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               _SERIES_NAME_KEY: json.dumps(name).encode('utf-8')})
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
            try:
                write_variable(os.path.join(staging, f'output_{index}'), value)
            except UnserializableOutput as exc:
                raise UnserializableOutput(f'Block output output_{index} is {exc}') from None
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
