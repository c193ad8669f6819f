"""Mage's block decorators.

Outside a run they only return the function. While the Blockflow worker executes a block file they also
record the function, so a file that imports them unconditionally still runs (the worker additionally injects
them into the block's globals, which is what Mage's `if 'data_loader' not in globals():` pattern expects).
"""
from blockflow_runtime.context import collect


def data_loader(function):
    return collect('data_loader', function)


def transformer(function):
    return collect('transformer', function)


def data_exporter(function):
    return collect('data_exporter', function)


def custom(function):
    return collect('custom', function)


def sensor(function):
    return collect('sensor', function)


def test(function):
    return collect('test', function)


def condition(function):
    return collect('condition', function)


def on_success(function):
    return collect('on_success', function)


def on_failure(function):
    return collect('on_failure', function)


def preprocesser(function):
    return collect('preprocesser', function)


def extension(function):
    return collect('extension', function)


def configuration(function):
    return collect('configuration', function)


def callback(*args, **kwargs):
    """`@callback('success')`, `@callback('failure')`, `@callback(status=...)`, or bare `@callback` (success)."""
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return collect('callback', args[0], 'success')
    status = args[0] if args else kwargs.get('status', 'success')

    def inner(function):
        return collect('callback', function, status)

    return inner


collecting_decorators = {
    'data_loader': data_loader,
    'transformer': transformer,
    'data_exporter': data_exporter,
    'custom': custom,
    'sensor': sensor,
    'test': test,
    'condition': condition,
    'on_success': on_success,
    'on_failure': on_failure,
    'preprocesser': preprocesser,
    'extension': extension,
    'configuration': configuration,
    'callback': callback,
}
