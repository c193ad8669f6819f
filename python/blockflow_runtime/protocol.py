"""The worker's side of the JSON-lines protocol with the parent process.

Parent -> worker: `{"type":"run","id","request":{...}}`, `{"type":"ping","id"}`, `{"type":"shutdown"}`, and
answers to the worker's questions: `{"type":"secret_response","id","seq","value"}`,
`{"type":"yaml_response","id","seq","value"|"error"}`.
Worker -> parent: `{"type":"ready","pid","python"}`, `{"type":"log","id","level","message","timestamp"}`,
`{"type":"secret_request","id","seq","name"}`, `{"type":"yaml_request","id","seq","text"}`,
`{"type":"result","id","result"}`, `{"type":"pong","id"}`.
"""
import json
import threading
from typing import Any, BinaryIO, Dict, Optional


class Channel:
    def __init__(self, inp: BinaryIO, out: BinaryIO):
        self._inp = inp
        self._out = out
        self._write_lock = threading.Lock()
        self._ask_lock = threading.Lock()
        self._seq = 0

    def send(self, message: Dict[str, Any]) -> None:
        data = json.dumps(message, separators=(',', ':'), ensure_ascii=False, default=str)
        encoded = (data + '\n').encode('utf-8', 'replace')
        with self._write_lock:
            self._out.write(encoded)
            self._out.flush()

    def receive(self) -> Optional[Dict[str, Any]]:
        """The next message, or None when the parent closed stdin."""
        while True:
            line = self._inp.readline()
            if not line:
                return None
            line = line.strip()
            if line:
                return json.loads(line)

    def ask(self, request_id: str, request_type: str, fields: Dict[str, Any]) -> Dict[str, Any]:
        """Sends `<kind>_request` and blocks until the matching `<kind>_response` arrives."""
        response_type = request_type.replace('_request', '_response')
        with self._ask_lock:
            self._seq += 1
            seq = self._seq
            self.send({'type': request_type, 'id': request_id, 'seq': seq, **fields})
            while True:
                message = self.receive()
                if message is None:
                    raise EOFError('The parent process closed the connection while the block waited for it')
                if message.get('type') == response_type and message.get('seq') == seq:
                    return message
