"""print(), stderr and logging inside a block, turned into log messages to the parent tagged with the request."""
import io
import logging
import time
from typing import Callable, Optional

LEVELS = {'DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'}


class LogSink:
    """Where log lines go: `emit(level, message)`; the worker points it at the running request."""

    def __init__(self, fallback: Callable[[str], None]):
        self._send: Optional[Callable[[str, str, float], None]] = None
        self._fallback = fallback

    def attach(self, send: Optional[Callable[[str, str, float], None]]) -> None:
        self._send = send

    def emit(self, level: str, message: str) -> None:
        send = self._send
        if send is None:
            self._fallback(f'[{level}] {message}\n')
        else:
            send(level, message, time.time())


class LogStream(io.TextIOBase):
    """A text stream that emits one log line per complete line written."""

    def __init__(self, sink: LogSink, level: str):
        super().__init__()
        self._sink = sink
        self._level = level
        self._pending = ''

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return 'utf-8'

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f'write() argument must be str, not {type(text).__name__}')
        data = self._pending + text
        if '\n' not in data:
            self._pending = data
            return len(text)
        *lines, self._pending = data.split('\n')
        for line in lines:
            self._sink.emit(self._level, line.rstrip('\r'))
        return len(text)

    def flush_pending(self) -> None:
        if self._pending:
            line, self._pending = self._pending, ''
            self._sink.emit(self._level, line)


class SinkHandler(logging.Handler):
    def __init__(self, sink: LogSink):
        super().__init__(logging.DEBUG)
        self._sink = sink
        self.setFormatter(logging.Formatter('%(message)s'))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = record.levelname if record.levelname in LEVELS else (
                'WARNING' if record.levelno == logging.WARNING else
                'ERROR' if record.levelno >= logging.ERROR else 'INFO')
            self._sink.emit(level, self.format(record))
        except Exception:
            self.handleError(record)


def block_logger(sink: LogSink) -> logging.Logger:
    """The `logger` kwarg: records stream to the parent and do not propagate to the root logger."""
    logger = logging.getLogger('blockflow.block')
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    if not any(isinstance(h, SinkHandler) for h in logger.handlers):
        logger.addHandler(SinkHandler(sink))
    return logger
