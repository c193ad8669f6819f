"""Blockflow's warm Python worker: runs Mage Python blocks, one request at a time, for the parent process.

Started as `python -u python/blockflow_worker.py` with this folder on PYTHONPATH. It speaks JSON lines on the
stdin/stdout it was started with (see blockflow_runtime/protocol.py). Block code never sees those: fd 0
is pointed at /dev/null and sys.stdout/sys.stderr become log streams whose lines
reach the parent as `log` messages tagged with the request id. Descriptors 1 and 2 are pipes read by threads
(blockflow_runtime/fdcapture.py), so output of C code and subprocesses becomes log lines of the request too.
"""
import os
import signal
import sys
import threading
import time

PARENT_POLL_SECONDS = 0.5


def _die_with_parent() -> None:
    """The parent that would record the result is gone: end now, without finishing the block. The worker leads
    its own process group (the parent spawns it detached), so the block's subprocesses are killed with it."""
    try:
        if os.getpgid(0) == os.getpid():
            os.killpg(os.getpid(), signal.SIGKILL)
    finally:
        os._exit(70)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def watch_parent() -> None:
    """Exits the worker once its parent process is gone, even in the middle of a block.

    Between requests the closed stdin already ends the loop, but a running block never reads it; a killed parent
    shows as a changed parent pid (the worker is re-parented to init or a subreaper). BLOCKFLOW_PARENT_PID, set by
    the pool, catches a parent that died before this check started."""
    parent = os.getppid()
    expected = os.environ.pop('BLOCKFLOW_PARENT_PID', '')
    if expected.isdigit() and int(expected) != parent and not _pid_alive(int(expected)):
        _die_with_parent()

    def poll() -> None:
        while True:
            if os.getppid() != parent:
                _die_with_parent()
            time.sleep(PARENT_POLL_SECONDS)

    threading.Thread(target=poll, name='blockflow-parent-watch', daemon=True).start()


def main() -> int:
    watch_parent()
    protocol_in = os.fdopen(os.dup(0), 'rb')
    protocol_out = os.fdopen(os.dup(1), 'wb')
    real_stderr = os.fdopen(os.dup(2), 'w', buffering=1, encoding='utf-8', errors='replace')
    null_fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null_fd, 0)
    os.close(null_fd)

    # Project modules are re-imported for every block; no __pycache__ is written into the user's project.
    sys.dont_write_bytecode = True

    import faulthandler
    faulthandler.enable(file=real_stderr)

    import io

    import pandas  # noqa: F401  imported once here so no block pays for it
    import pyarrow  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import mage_ai.data_preparation.decorators  # noqa: F401
    import mage_ai.data_preparation.shared.secrets  # noqa: F401
    import mage_ai.data_preparation.variable_manager  # noqa: F401
    import mage_ai.io.config  # noqa: F401
    import mage_ai.io.file  # noqa: F401
    import mage_ai.settings.repo  # noqa: F401
    from blockflow_runtime import context
    from blockflow_runtime.execute import ProjectEnvironment, execute
    from blockflow_runtime.fdcapture import FdCapture
    from blockflow_runtime.logs import LogSink, LogStream, block_logger
    from blockflow_runtime.protocol import Channel

    channel = Channel(protocol_in, protocol_out)
    sink = LogSink(real_stderr.write)
    stdout_stream = LogStream(sink, 'INFO')
    stderr_stream = LogStream(sink, 'WARNING')
    fd_out = FdCapture(1, lambda line: sink.emit('INFO', line))
    fd_err = FdCapture(2, lambda line: sink.emit('WARNING', line))
    sys.stdin = io.StringIO('')
    sys.stdout = stdout_stream
    sys.stderr = stderr_stream
    logger = block_logger(sink)
    environment = ProjectEnvironment()

    channel.send({'type': 'ready', 'pid': os.getpid(), 'python': sys.version.split()[0]})
    while True:
        message = channel.receive()
        if message is None or message.get('type') == 'shutdown':
            return 0
        kind = message.get('type')
        request_id = message.get('id')
        if kind == 'ping':
            channel.send({'type': 'pong', 'id': request_id})
            continue
        if kind != 'run':
            real_stderr.write(f'blockflow worker: ignoring message of type {kind!r}\n')
            continue
        request = message.get('request') or {}
        sink.attach(lambda level, text, ts, rid=request_id: channel.send(
            {'type': 'log', 'id': rid, 'level': level, 'message': text, 'timestamp': ts}))
        context.set_parent_channel(lambda request_type, fields, rid=request_id: channel.ask(rid, request_type, fields))
        context.set_current(context.RequestContext(
            request_id, request.get('projectRoot') or os.getcwd(), request.get('dataDir') or '',
            request.get('pipelineUuid') or '', request.get('blockUuid') or ''))
        leave = environment.enter(request)
        try:
            result = execute(request, logger)
        finally:
            stdout_stream.flush_pending()
            stderr_stream.flush_pending()
            fd_out.sync()
            fd_err.sync()
            leave()
            context.set_current(None)
        try:
            channel.send({'type': 'result', 'id': request_id, 'result': result})
        except (TypeError, ValueError, RecursionError) as exc:
            # RecursionError: a result nested deeper than the encoder can walk; the block fails, the worker lives.
            channel.send({'type': 'result', 'id': request_id, 'result': {'ok': False, 'error': {
                'type': 'block_execution_failed', 'exception': type(exc).__name__,
                'message': f'The block result could not be sent as JSON: {exc}', 'traceback': []}}})
        finally:
            sink.attach(None)


if __name__ == '__main__':
    sys.exit(main())
