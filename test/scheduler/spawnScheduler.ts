/** Starts test/scheduler/schedulerProcess.ts as a child process and collects the events it prints. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./schedulerProcess.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface SchedulerProc {
  child: ChildProcess;
  /** Every JSON line the process printed, in order (`ready`, `leader`, `standby`, `feed`, `started`). */
  events: Array<Record<string, unknown>>;
}

/** `tuning`: SchedulerService options (timings, lock options), passed as JSON. */
export function spawnScheduler(projectDir: string, url: string, instanceId: string, tuning: Record<string, unknown>): SchedulerProc {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, projectDir, url, instanceId, JSON.stringify(tuning)], {
    cwd: ROOT,
    env: { ...process.env, BLOCKFLOW_WARM_RUNTIMES: '0', MAGE_DATA_DIR: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const events: Array<Record<string, unknown>> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      events.push(JSON.parse(line));
    } catch {
      // Not one of ours.
    }
  });
  return { child, events };
}
