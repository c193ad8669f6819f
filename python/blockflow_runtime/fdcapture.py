"""Output written straight to file descriptors 1 and 2 (C extensions, subprocesses, os.write) becomes log lines
of the running request. Each descriptor is pointed at a pipe read by a thread; `sync()` waits until everything
written so far has been emitted, so that output lands before the request's result and under its id."""
import os
import threading
import uuid
from typing import Callable, Dict


class FdCapture:
    def __init__(self, fd: int, emit: Callable[[str], None]):
        read_end, write_end = os.pipe()
        os.dup2(write_end, fd)
        os.close(write_end)
        self._fd = fd
        self._emit = emit
        self._reader = os.fdopen(read_end, 'rb', buffering=0)
        self._waiting: Dict[bytes, threading.Event] = {}
        self._lock = threading.Lock()
        self._pending = b''
        threading.Thread(target=self._run, name=f'blockflow-fd{fd}', daemon=True).start()

    def sync(self) -> None:
        marker = f'\x00blockflow-sync-{uuid.uuid4().hex}\n'.encode()
        event = threading.Event()
        with self._lock:
            self._waiting[marker] = event
        os.write(self._fd, marker)
        event.wait()

    def _run(self) -> None:
        while True:
            chunk = self._reader.read(65536)
            if not chunk:
                return
            data = self._pending + chunk
            self._pending = b''
            with self._lock:
                markers = [m for m in self._waiting if m in data]
            for marker in markers:
                before, _, data = data.partition(marker)
                self._emit_lines(before)
                with self._lock:
                    self._waiting.pop(marker).set()
            *lines, self._pending = data.split(b'\n')
            for line in lines:
                self._emit(line.decode('utf-8', 'replace').rstrip('\r'))

    def _emit_lines(self, data: bytes) -> None:
        """Everything before a sync marker, a trailing partial line included."""
        if not data:
            return
        if data.endswith(b'\n'):
            data = data[:-1]
        for line in data.split(b'\n'):
            self._emit(line.decode('utf-8', 'replace').rstrip('\r'))
