"""Mage's Postgres io class over psycopg2 (or psycopg 3 when only that is installed)."""
import io
import json
from typing import Any, Dict, List, Optional

from mage_ai.io.base import QUERY_ROW_LIMIT, ExportWritePolicy
from mage_ai.io.config import ConfigKey


def _driver() -> Any:
    try:
        import psycopg2
        return psycopg2
    except ImportError:
        pass
    try:
        import psycopg
        return psycopg
    except ImportError:
        raise ImportError('mage_ai.io.postgres needs psycopg2 (pip install psycopg2-binary) or psycopg') from None


def _quote(identifier: str) -> str:
    return '"' + str(identifier).replace('"', '""') + '"'


def _column_type(series: Any) -> str:
    import pandas as pd
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return 'BOOLEAN'
    if pd.api.types.is_integer_dtype(dtype):
        return 'BIGINT'
    if pd.api.types.is_float_dtype(dtype):
        return 'DOUBLE PRECISION'
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return 'TIMESTAMPTZ' if getattr(dtype, 'tz', None) is not None else 'TIMESTAMP'
    non_null = series.dropna()
    if len(non_null) and isinstance(non_null.iloc[0], (dict, list)):
        return 'JSONB'
    return 'TEXT'


class Postgres:
    """`Postgres.with_config(ConfigFileLoader(...))`, usable as a context manager."""

    def __init__(self, dbname: str = 'postgres', user: str = 'postgres', password: Optional[str] = None,
                 host: str = 'localhost', port: Any = 5432, schema: Optional[str] = None,
                 connect_timeout: Optional[int] = None, verbose: bool = True, **kwargs):
        self.settings: Dict[str, Any] = dict(dbname=dbname, user=user, password=password, host=host,
                                             port=int(port) if port not in (None, '') else 5432)
        if connect_timeout:
            self.settings['connect_timeout'] = int(connect_timeout)
        self.default_schema = schema or 'public'
        self.verbose = verbose
        self._conn: Any = None

    @classmethod
    def with_config(cls, config: Any, **kwargs) -> 'Postgres':
        def get(key: ConfigKey) -> Any:
            return config.get(key) if hasattr(config, 'get') else None
        return cls(dbname=get(ConfigKey.POSTGRES_DBNAME) or 'postgres',
                   user=get(ConfigKey.POSTGRES_USER) or 'postgres',
                   password=get(ConfigKey.POSTGRES_PASSWORD),
                   host=get(ConfigKey.POSTGRES_HOST) or 'localhost',
                   port=get(ConfigKey.POSTGRES_PORT) or 5432,
                   schema=get(ConfigKey.POSTGRES_SCHEMA),
                   connect_timeout=get(ConfigKey.POSTGRES_CONNECT_TIMEOUT),
                   **kwargs)

    @property
    def conn(self) -> Any:
        if self._conn is None:
            self.open()
        return self._conn

    def open(self) -> None:
        if self._conn is None:
            settings = {k: v for k, v in self.settings.items() if v is not None}
            self._conn = _driver().connect(**settings)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def commit(self) -> None:
        self.conn.commit()

    def __enter__(self) -> 'Postgres':
        self.open()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._conn is not None:
            if exc_type is None:
                self._conn.commit()
            else:
                self._conn.rollback()
        self.close()

    def execute(self, query_string: str, **kwargs) -> None:
        with self.conn.cursor() as cur:
            cur.execute(query_string, kwargs or None)
        self.conn.commit()

    def load(self, query_string: str, limit: Optional[int] = None, display_query: Optional[str] = None,
             verbose: bool = True, **kwargs) -> Any:
        """Runs the query and returns its rows as a DataFrame (an empty one for statements without rows)."""
        import pandas as pd
        query = query_string.strip().rstrip(';')
        if limit is not None and limit != QUERY_ROW_LIMIT:
            query = f'SELECT * FROM ({query}) AS subquery LIMIT {int(limit)}'
        with self.conn.cursor() as cur:
            cur.execute(query, kwargs or None)
            if cur.description is None:
                self.conn.commit()
                return pd.DataFrame()
            columns = [d[0] for d in cur.description]
            rows = cur.fetchall()
        self.conn.commit()
        return pd.DataFrame(rows, columns=columns)

    def table_exists(self, schema_name: str, table_name: str) -> bool:
        with self.conn.cursor() as cur:
            cur.execute('SELECT to_regclass(%s) IS NOT NULL', (f'{_quote(schema_name)}.{_quote(table_name)}',))
            return bool(cur.fetchone()[0])

    def export(self, df: Any, schema_name: Optional[str] = None, table_name: Optional[str] = None,
               index: bool = False, if_exists: Any = ExportWritePolicy.APPEND, drop_table_on_replace: bool = True,
               **kwargs) -> None:
        """Writes the DataFrame into schema.table with COPY, creating the schema and table when missing."""
        import pandas as pd
        if table_name is None:
            raise ValueError('Postgres.export needs a table_name')
        schema = schema_name or self.default_schema
        policy = getattr(if_exists, 'value', if_exists)
        if policy not in ('append', 'replace', 'fail'):
            raise ValueError(f'if_exists must be append, replace or fail, not {policy!r}')
        if not isinstance(df, pd.DataFrame):
            df = pd.DataFrame(df if isinstance(df, list) else [df])
        if index:
            df = df.reset_index()
        target = f'{_quote(schema)}.{_quote(table_name)}'
        try:
            with self.conn.cursor() as cur:
                cur.execute(f'CREATE SCHEMA IF NOT EXISTS {_quote(schema)}')
                exists = self.table_exists(schema, table_name)
                if exists and policy == 'fail':
                    raise ValueError(f'Table {schema}.{table_name} already exists')
                if exists and policy == 'replace':
                    cur.execute(f'DROP TABLE {target}')
                    exists = False
                if not exists:
                    columns = ', '.join(f'{_quote(c)} {_column_type(df[c])}' for c in df.columns)
                    cur.execute(f'CREATE TABLE {target} ({columns})')
                self._copy(cur, target, df)
            self.conn.commit()
        except BaseException:
            self.conn.rollback()
            raise

    def _copy(self, cur: Any, target: str, df: Any) -> None:
        if len(df.columns) == 0 or len(df) == 0:
            return
        frame = df.copy()
        for column in frame.columns:
            if frame[column].dtype == object:
                frame[column] = frame[column].map(
                    lambda v: json.dumps(v, default=str) if isinstance(v, (dict, list)) else v)
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False, header=False, na_rep='\\N')
        columns = ', '.join(_quote(c) for c in frame.columns)
        sql = f"COPY {target} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
        buffer.seek(0)
        if hasattr(cur, 'copy_expert'):
            cur.copy_expert(sql, buffer)
        else:
            with cur.copy(sql) as copy:
                copy.write(buffer.getvalue())

    def columns(self, schema_name: str, table_name: str) -> List[str]:
        with self.conn.cursor() as cur:
            cur.execute('SELECT column_name FROM information_schema.columns WHERE table_schema = %s '
                        'AND table_name = %s ORDER BY ordinal_position', (schema_name, table_name))
            return [r[0] for r in cur.fetchall()]
