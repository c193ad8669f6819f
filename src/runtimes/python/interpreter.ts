/**
 * Finding the Python interpreter to spawn. Never the pyenv shim on PATH: a shim costs a bash start per spawn,
 * so the real path is resolved once (`sys.executable`) and cached.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface FindInterpreterOptions {
  /** Environment read for `BLOCKFLOW_PYTHON`. Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** A managed virtual environment; its python is used when it exists. */
  venvDir?: string;
}

/** The python executable inside a virtual environment folder. */
export function venvPython(venvDir: string): string {
  return process.platform === 'win32' ? join(venvDir, 'Scripts', 'python.exe') : join(venvDir, 'bin', 'python');
}

const resolved = new Map<string, Promise<string>>();

/**
 * The real path of `command` (default `python3`) as the interpreter reports it in `sys.executable`.
 * Resolved once per command and cached for the life of the process.
 */
export function resolveSystemPython(command = 'python3'): Promise<string> {
  let pending = resolved.get(command);
  if (!pending) {
    pending = new Promise<string>((resolve, reject) => {
      execFile(command, ['-c', 'import sys; print(sys.executable)'], { timeout: 30_000 }, (error, stdout, stderr) => {
        const path = stdout.trim();
        if (error || !path) {
          reject(new Error(`Could not find a Python interpreter with "${command}": ${error?.message ?? stderr.trim() ?? 'no sys.executable'}`));
        } else {
          resolve(path);
        }
      });
    });
    pending.catch(() => resolved.delete(command));
    resolved.set(command, pending);
  }
  return pending;
}

/**
 * The interpreter for block workers: `BLOCKFLOW_PYTHON` when set, else the managed venv's python when it exists,
 * else the system `python3` resolved to its real path.
 */
export async function findPythonInterpreter(options: FindInterpreterOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const explicit = env.BLOCKFLOW_PYTHON?.trim();
  if (explicit) return explicit;
  if (options.venvDir) {
    const candidate = venvPython(options.venvDir);
    if (existsSync(candidate)) return candidate;
  }
  return resolveSystemPython();
}
