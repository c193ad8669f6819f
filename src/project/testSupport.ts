/** Helpers shared by this module's tests: a throwaway copy of the hand-built Mage fixture project. */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURE_DIR = fileURLToPath(new URL('../../test/fixtures/mage_project', import.meta.url));

/** Real Python with PyYAML, used to check our YAML against the reference implementation. */
export const PYTHON = '/root/.pyenv/versions/3.11.7/bin/python3';

export interface TempProject {
  root: string;
  cleanup(): void;
}

/** A fresh temp folder holding a copy of the fixture project (under a folder named `mage_project`). */
export function copyFixture(): TempProject {
  const base = mkdtempSync(join(tmpdir(), 'bf-project-'));
  const root = join(base, 'mage_project');
  cpSync(FIXTURE_DIR, root, { recursive: true });
  return { root, cleanup: () => rmSync(base, { recursive: true, force: true }) };
}

/** An empty temp folder. */
export function tempDir(): TempProject {
  const root = mkdtempSync(join(tmpdir(), 'bf-project-'));
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}
