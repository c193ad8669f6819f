"""Shared constants of Mage's io classes."""
from enum import Enum

QUERY_ROW_LIMIT = 10_000_000


class ExportWritePolicy(str, Enum):
    APPEND = 'append'
    FAIL = 'fail'
    REPLACE = 'replace'


class DataSource(str, Enum):
    API = 'api'
    FILE = 'file'
    POSTGRES = 'postgres'
