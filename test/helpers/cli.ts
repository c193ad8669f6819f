/** Runs `blockflow run` from src/ under tsx in a child process, as a user would from a terminal. */
import { spawn } from 'node:child_process';

const REPO = new URL('../..', import.meta.url).pathname;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `blockflow run <args>` with the test's environment, CI=1 (no live redraws) and SQLite in the project's data dir;
 * `env` overrides (e.g. MAGE_DATA_DIR, ENV).
 */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', ...args], {
      cwd: REPO,
      env: { ...process.env, CI: '1', MAGE_DATA_DIR: '', MAGE_DATABASE_CONNECTION_URL: '', DATABASE_URL: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
