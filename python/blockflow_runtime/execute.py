"""Runs one block request: executes the block file in fresh globals, calls the function for the mode with
Mage's calling convention, persists the outputs, runs the @test functions and builds the result."""
import datetime
import inspect
import logging
import os
import sys
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import context
from .serialize import to_json_value
from .variables import upstream_input, write_outputs

RUN_KINDS = ('data_loader', 'transformer', 'data_exporter', 'custom', 'sensor')
DATETIME_KWARGS = ('execution_date', 'interval_start_datetime', 'interval_end_datetime',
                   'interval_start_datetime_previous')
DEFAULT_POKE_INTERVAL = 60.0

Collected = List[Tuple[str, Callable, Any]]


class BlockFailure(Exception):
    """A failure with a result type other than block_execution_failed, or raised by our own checks."""

    def __init__(self, error_type: str, exception: str, message: str, traceback_lines: Optional[List[str]] = None):
        super().__init__(message)
        self.error_type = error_type
        self.exception = exception
        self.message = message
        self.traceback_lines = traceback_lines or []


class _FrameFilter:
    """Keeps the frames of the block file and of the project's own modules; drops the runtime's and libraries'."""

    def __init__(self, block_file: str, project_root: str):
        self._block_file = os.path.realpath(block_file)
        self._root = os.path.realpath(project_root) + os.sep

    def __call__(self, filename: str) -> bool:
        path = os.path.realpath(filename)
        if path == self._block_file:
            return True
        return path.startswith(self._root) and 'site-packages' not in path


def block_traceback(exc: BaseException, keep: Callable[[str], bool]) -> List[str]:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if keep(f.filename)]
    lines: List[str] = []
    if frames:
        lines.append('Traceback (most recent call last):')
        for entry in traceback.format_list(frames):
            lines.extend(entry.rstrip('\n').split('\n'))
    for entry in traceback.format_exception_only(type(exc), exc):
        lines.extend(entry.rstrip('\n').split('\n'))
    return lines


def _error(error_type: str, exception: str, message: str, lines: List[str]) -> Dict[str, Any]:
    return {'ok': False, 'error': {'type': error_type, 'exception': exception, 'message': message,
                                   'traceback': lines}}


def _accepts_var_kwargs(function: Callable) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind == inspect.Parameter.VAR_KEYWORD for p in parameters)


def call_block_function(function: Callable, args: List[Any], kwargs: Dict[str, Any]) -> Any:
    """Mage's convention: positional inputs always; kwargs only when the function declares **kwargs."""
    if kwargs and _accepts_var_kwargs(function):
        return function(*args, **kwargs)
    return function(*args)


def call_callback(function: Callable, args: List[Any], kwargs: Dict[str, Any]) -> Any:
    """Callbacks also receive the keyword arguments they name (e.g. `parent_block_data`) without **kwargs."""
    if _accepts_var_kwargs(function):
        return function(*args, **kwargs)
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return function(*args)
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    named = {p.name: kwargs[p.name] for p in parameters[len(args):]
             if p.name in kwargs and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    if any(p.kind == p.VAR_POSITIONAL for p in parameters) or len(args) <= len(positional):
        return function(*args, **named)
    return function(*args[:len(positional)], **named)


def split_outputs(value: Any) -> List[Any]:
    """A tuple or list splits into output_0..N; None is no output; anything else is output_0. A generator is
    consumed first, as Mage does, and then counts as the list of what it yielded."""
    if inspect.isgenerator(value):
        value = list(value)
    if value is None:
        return []
    if isinstance(value, (tuple, list)):
        return list(value)
    return [value]


# Compiled block files by path, with the (mtime_ns, size, inode) they were compiled from: compiling costs more
# than running a small block, and a block file changes far less often than it runs.
_compiled: Dict[str, Tuple[Tuple[int, int, int], Any]] = {}
_COMPILED_MAX = 512


def _compiled_block(file_path: str) -> Any:
    st = os.stat(file_path)
    stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
    hit = _compiled.get(file_path)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    with open(file_path, encoding='utf-8') as f:
        source = f.read()
    code = compile(source, file_path, 'exec')
    if len(_compiled) >= _COMPILED_MAX:
        _compiled.pop(next(iter(_compiled)))
    _compiled[file_path] = (stamp, code)
    return code


def load_block(file_path: str, block_uuid: str) -> Collected:
    """Executes the file in a fresh globals dict and returns the decorated functions in file order."""
    from mage_ai.data_preparation.decorators import collecting_decorators
    code = _compiled_block(file_path)
    collected: Collected = []
    block_globals: Dict[str, Any] = {'__name__': f'mage_block_{block_uuid}', '__file__': file_path,
                                     '__builtins__': __builtins__}
    block_globals.update(collecting_decorators)
    context.set_collector(lambda kind, fn, arg: collected.append((kind, fn, arg)))
    try:
        exec(code, block_globals)
    finally:
        context.set_collector(None)
    return collected


def _parse_datetime(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return datetime.datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def build_kwargs(request: Dict[str, Any], logger: logging.Logger) -> Dict[str, Any]:
    kwargs = dict(request.get('kwargs') or {})
    for key in DATETIME_KWARGS:
        if key in kwargs:
            kwargs[key] = _parse_datetime(kwargs[key])
    kwargs.setdefault('configuration', request.get('configuration') or {})
    kwargs.setdefault('pipeline_uuid', request.get('pipelineUuid'))
    kwargs.setdefault('block_uuid', request.get('blockUuid'))
    kwargs.setdefault('repo_path', request.get('projectRoot'))
    kwargs.setdefault('context', {})
    kwargs['logger'] = logger
    return kwargs


def build_args(request: Dict[str, Any]) -> List[Any]:
    inline = request.get('inlineInputs')
    if inline is not None:
        return list(inline)
    return [upstream_input(u) for u in request.get('upstream') or []]


def _run_sensor(function: Callable, args: List[Any], kwargs: Dict[str, Any], configuration: Dict[str, Any],
                logger: logging.Logger) -> None:
    poke_interval = float(configuration.get('poke_interval') or DEFAULT_POKE_INTERVAL)
    timeout = configuration.get('timeout')
    started = time.monotonic()
    while not call_block_function(function, args, kwargs):
        if timeout is not None and time.monotonic() - started + poke_interval > float(timeout):
            raise BlockFailure('timeout', 'TimeoutError', f'Sensor condition was not met within {timeout} seconds')
        logger.info(f'Sensor condition not met; checking again in {poke_interval:g} seconds')
        time.sleep(poke_interval)


def _run_tests(tests: List[Callable], outputs: List[Any], kwargs: Dict[str, Any],
               keep: Callable[[str], bool], logger: logging.Logger) -> None:
    failures: List[Tuple[str, BaseException]] = []
    for test in tests:
        try:
            call_block_function(test, outputs, kwargs)
        except Exception as exc:
            failures.append((test.__name__, exc))
    passed = len(tests) - len(failures)
    if tests:
        logger.info(f'{passed}/{len(tests)} tests passed.')
    if failures:
        first = failures[0][1]
        summary = '; '.join(f'{name}: {type(exc).__name__}: {exc}' if str(exc) else f'{name}: {type(exc).__name__}'
                            for name, exc in failures)
        raise BlockFailure('test_failed', type(first).__name__,
                           f'{len(failures)} of {len(tests)} tests failed. {summary}', block_traceback(first, keep))


def _functions(collected: Collected, *kinds: str, argument: Any = None) -> List[Callable]:
    return [fn for kind, fn, arg in collected if kind in kinds and (argument is None or arg == argument)]


def execute(request: Dict[str, Any], logger: logging.Logger) -> Dict[str, Any]:
    """Runs the request; the caller has set the context, environment and working directory."""
    file_path = request['filePath']
    mode = request.get('mode', 'run')
    keep = _FrameFilter(file_path, request.get('projectRoot') or os.path.dirname(file_path))
    try:
        collected = load_block(file_path, request.get('blockUuid') or 'block')
        args = build_args(request)
        kwargs = build_kwargs(request, logger)
        if mode == 'condition':
            result = True
            for function in _functions(collected, 'condition'):
                result = result and bool(call_block_function(function, args, kwargs))
            return {'ok': True, 'outputCount': 0, 'conditionResult': bool(result)}
        if mode in ('on_success', 'on_failure'):
            status = 'success' if mode == 'on_success' else 'failure'
            for function in _functions(collected, mode) + _functions(collected, 'callback', argument=status):
                call_callback(function, args, kwargs)
            return {'ok': True, 'outputCount': 0}
        if mode != 'run':
            raise BlockFailure('block_execution_failed', 'ValueError', f'Unknown block mode {mode!r}')
        runnable = [(kind, fn) for kind, fn, _ in collected if kind in RUN_KINDS]
        if not runnable:
            raise BlockFailure('block_execution_failed', 'Exception',
                               f'Block {request.get("blockUuid")} does not have any decorated functions.')
        kind, function = runnable[0]
        if kind == 'sensor':
            _run_sensor(function, args, kwargs, request.get('configuration') or {}, logger)
            outputs: List[Any] = []
        else:
            outputs = split_outputs(call_block_function(function, args, kwargs))
        if request.get('outputDir'):
            write_outputs(request['outputDir'], outputs)
        if request.get('runTests'):
            _run_tests(_functions(collected, 'test'), outputs, kwargs, keep, logger)
        result: Dict[str, Any] = {'ok': True, 'outputCount': len(outputs)}
        if request.get('returnOutputs'):
            result['outputs'] = [to_json_value(v) for v in outputs]
        return result
    except BlockFailure as failure:
        return _error(failure.error_type, failure.exception, failure.message, failure.traceback_lines)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        return _error('block_execution_failed', type(exc).__name__, str(exc), block_traceback(exc, keep))


class ProjectEnvironment:
    """Per-request process state: env vars, working directory, sys.path, and fresh imports of project modules."""

    # Our own packages (blockflow_runtime, mage_ai) hold the worker's state: never evicted, even when a project
    # root happens to contain them.
    _OWN_DIR = os.path.realpath(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) + os.sep

    def __init__(self) -> None:
        self._roots: set = set()
        self._realpaths: Dict[str, str] = {}
        # Loaded modules known to be outside every project root (the interpreter's, site-packages, ours), by
        # name: the scan then looks only at modules loaded since.
        self._foreign: Dict[str, Any] = {}

    def enter(self, request: Dict[str, Any]) -> Callable[[], None]:
        root = request.get('projectRoot') or os.getcwd()
        real_root = os.path.realpath(root) + os.sep
        if real_root not in self._roots:
            self._roots.add(real_root)
            self._foreign.clear()
        self._evict_project_modules()
        # The request's project goes first, so that with several projects in one worker a module name both
        # define resolves to this request's.
        for entry in (os.path.dirname(root), root):
            while entry in sys.path:
                sys.path.remove(entry)
            sys.path.insert(0, entry)
        previous_cwd = os.getcwd()
        os.chdir(root)
        env = {str(k): str(v) for k, v in (request.get('env') or {}).items()}
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)

        def leave() -> None:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            try:
                os.chdir(previous_cwd)
            except OSError:
                pass
        return leave

    def _evict_project_modules(self) -> None:
        """Project helper modules are imported afresh by each block, so edits show up and state never leaks."""
        modules = sys.modules
        foreign = self._foreign
        # A name known as foreign may since have been bound to another module (removed and imported again).
        for name in [n for n, m in foreign.items() if modules.get(n) is not m]:
            del foreign[name]
        for name in modules.keys() - foreign.keys():
            module = modules.get(name)
            path = getattr(module, '__file__', None)
            # A namespace package (a folder without __init__.py) has no file, only search paths.
            paths = [path] if path else list(getattr(module, '__path__', None) or [])
            if not paths or any('site-packages' in p for p in paths):
                foreign[name] = module
            elif any(self._in_project(p) for p in paths):
                del modules[name]
            else:
                foreign[name] = module

    def _in_project(self, path: str) -> bool:
        # realpath of ~600 module files per request cost 3-7 ms; a module's file does not move.
        real = self._realpaths.get(path)
        if real is None:
            real = self._realpaths[path] = os.path.realpath(path)
        if real.startswith(self._OWN_DIR):
            return False
        return any((real + os.sep).startswith(root) for root in self._roots)
