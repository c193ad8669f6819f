/**
 * The managed virtual environment for Python blocks: created on first use at `<dataDir>/.venv` (or
 * `BLOCKFLOW_VENV_DIR`), with the base packages the worker needs plus the project's requirements.txt.
 * The install is skipped when a hash of (base packages + requirements) matches the stamp file written after the
 * last successful install.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { resolveSystemPython, venvPython } from './interpreter.js';

/**
 * Packages every worker needs: pandas and pyarrow for DataFrame outputs, psycopg2-binary for
 * `mage_ai.io.postgres`, PyYAML, which Mage itself brings and block code imports freely, and joblib, which writes
 * object outputs (`object.joblib`, `model.joblib`) as Mage does so Mage can read them too.
 */
export const BASE_PACKAGES: readonly string[] = ['pandas', 'pyarrow', 'psycopg2-binary', 'pyyaml', 'joblib'];

const STAMP_FILE = '.blockflow-requirements.sha256';
const FILTERED_REQUIREMENTS_FILE = '.blockflow-requirements.txt';

export interface VenvProgress {
  /** `create`: running `python -m venv`; `install`: pip is running; `ready`: the venv can be used. */
  phase: 'create' | 'install' | 'ready';
  /** One line of output of the running command; absent on phase changes. */
  line?: string;
}

export interface EnsureVenvOptions {
  /** The project's data dir; the venv defaults to `<dataDir>/.venv`. */
  dataDir: string;
  /** The venv folder. Default: `BLOCKFLOW_VENV_DIR`, else `<dataDir>/.venv`. */
  venvDir?: string;
  /** The project root; its `requirements.txt` is installed when present. */
  projectRoot?: string;
  /** An explicit requirements file, instead of `<projectRoot>/requirements.txt`. */
  requirementsFile?: string;
  /** Packages installed before the requirements. Default: {@link BASE_PACKAGES}. */
  basePackages?: readonly string[];
  /** The interpreter that creates the venv. Default: the system `python3`, resolved to its real path. */
  basePython?: string;
  /** Receives phase changes and every output line of venv creation and pip. */
  onProgress?: (progress: VenvProgress) => void;
  /** Environment read for `BLOCKFLOW_SKIP_VENV`, `BLOCKFLOW_VENV_DIR`, `BLOCKFLOW_PYTHON`. Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
}

export interface ManagedPython {
  /** The interpreter to spawn workers with. */
  python: string;
  /** The venv folder, or null when `BLOCKFLOW_SKIP_VENV=1` selected the system interpreter. */
  venvDir: string | null;
  /** True when this call ran pip. */
  installed: boolean;
}

/** Mage projects often list mage-ai itself; our compatibility package stands in for it, so it is not installed. */
function withoutMageAi(requirements: string): string {
  return requirements
    .split(/\r?\n/)
    .filter((line) => !/^\s*mage[-_]ai\b/i.test(line))
    .join('\n');
}

function runStreaming(command: string, args: string[], onLine: (line: string) => void, cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd });
    const tail: string[] = [];
    const take = (line: string): void => {
      tail.push(line);
      if (tail.length > 30) tail.shift();
      onLine(line);
    };
    createInterface({ input: child.stdout }).on('line', take);
    createInterface({ input: child.stderr }).on('line', take);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit code ${code}`}):\n${tail.join('\n')}`));
    });
  });
}

const inFlight = new Map<string, Promise<ManagedPython>>();

/** Creates or updates the managed venv and returns its interpreter. Concurrent calls for one venv share the work. */
export function ensureVenv(options: EnsureVenvOptions): Promise<ManagedPython> {
  const env = options.env ?? process.env;
  if (env.BLOCKFLOW_SKIP_VENV === '1') {
    const explicit = env.BLOCKFLOW_PYTHON?.trim();
    return explicit
      ? Promise.resolve({ python: explicit, venvDir: null, installed: false })
      : resolveSystemPython().then((python) => ({ python, venvDir: null, installed: false }));
  }
  const venvDir = options.venvDir ?? env.BLOCKFLOW_VENV_DIR ?? join(options.dataDir, '.venv');
  let pending = inFlight.get(venvDir);
  if (!pending) {
    pending = prepare(venvDir, options).finally(() => inFlight.delete(venvDir));
    inFlight.set(venvDir, pending);
  }
  return pending;
}

async function prepare(venvDir: string, options: EnsureVenvOptions): Promise<ManagedPython> {
  const progress = options.onProgress ?? (() => {});
  const basePackages = options.basePackages ?? BASE_PACKAGES;
  const requirementsPath =
    options.requirementsFile ?? (options.projectRoot ? join(options.projectRoot, 'requirements.txt') : undefined);
  const requirements =
    requirementsPath && existsSync(requirementsPath) ? withoutMageAi(await readFile(requirementsPath, 'utf8')) : '';
  const hash = createHash('sha256')
    .update(JSON.stringify({ basePackages, requirements }))
    .digest('hex');
  const python = venvPython(venvDir);
  const stampPath = join(venvDir, STAMP_FILE);

  if (existsSync(python)) {
    const stamp = await readFile(stampPath, 'utf8').catch(() => '');
    if (stamp.trim() === hash) {
      progress({ phase: 'ready' });
      return { python, venvDir, installed: false };
    }
  } else {
    progress({ phase: 'create' });
    const basePython = options.basePython ?? (await resolveSystemPython());
    await mkdir(join(venvDir, '..'), { recursive: true });
    try {
      await runStreaming(basePython, ['-m', 'venv', venvDir], (line) => progress({ phase: 'create', line }));
    } catch (error) {
      await rm(venvDir, { recursive: true, force: true });
      throw error;
    }
  }

  if (basePackages.length === 0 && !requirements.trim()) {
    await writeStamp(stampPath, hash);
    progress({ phase: 'ready' });
    return { python, venvDir, installed: false };
  }
  progress({ phase: 'install' });
  const args = ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--progress-bar', 'off', ...basePackages];
  if (requirements.trim()) {
    const filtered = join(venvDir, FILTERED_REQUIREMENTS_FILE);
    await writeFile(filtered, requirements);
    args.push('-r', filtered);
  }
  // pip resolves relative paths in requirements (`-e ./lib`) against its working directory: the project root.
  await runStreaming(python, args, (line) => progress({ phase: 'install', line }), options.projectRoot);
  await writeStamp(stampPath, hash);
  progress({ phase: 'ready' });
  return { python, venvDir, installed: true };
}

async function writeStamp(stampPath: string, hash: string): Promise<void> {
  const temp = `${stampPath}.tmp-${process.pid}`;
  await writeFile(temp, `${hash}\n`);
  await rename(temp, stampPath);
}
