/** The `blockflow` command line: init, start, run, and the cloud control plane's commands. */
import { Command, InvalidArgumentError } from 'commander';
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { registerCloudCommands } from './cloud.js';

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number (0-65535).');
  return n;
}

function collectVar(value: string, previous: Record<string, string>): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got "${value}".`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

export function buildProgram(): Command {
  const program = new Command();
  program.name('blockflow').description('Blockflow: Mage-compatible data pipelines in TypeScript.').version('0.1.0');

  program
    .command('init')
    .description('Create a new project (Mage layout) with a demo pipeline mixing Python, SQL and TypeScript blocks.')
    .argument('<dir>', 'folder to create')
    .option('--if-missing', 'do nothing when the folder already holds a project')
    .action(async (dir: string, opts: { ifMissing?: boolean }) => {
      const { initProject } = await import('../project/init.js');
      const target = resolve(dir);
      if (opts.ifMissing && existsSync(resolve(target, 'metadata.yaml'))) {
        console.log(`Project already exists at ${target}`);
        return;
      }
      initProject(target, { ifMissing: opts.ifMissing });
      console.log(`Created project at ${target}`);
    });

  program
    .command('start')
    .description('Start the API server and the scheduler for a project.')
    .argument('[project]', 'project folder', '.')
    .option('-p, --port <port>', 'port to listen on', parsePort, 6789)
    .option('-H, --host <host>', 'address to bind (default: all interfaces; loopback when authentication is off)')
    .action(async (project: string, opts: { port: number; host?: string }) => {
      const { startServer } = await import('../server/server.js');
      const server = await startServer({ projectDir: resolve(project), port: opts.port, host: opts.host });
      console.log(`Blockflow is running at ${server.url} (project ${server.ctx.project.root})`);
      if (server.owner.created) {
        console.log(`Owner user created: ${server.owner.email} (username ${server.owner.username})`);
        if (server.owner.generatedPassword) {
          console.log(`Generated owner password (shown once): ${server.owner.generatedPassword}`);
        }
      }
      if (!server.ctx.settings.requireAuth) console.log('Authentication is OFF (REQUIRE_USER_AUTHENTICATION=0).');
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        console.log(`Received ${signal}, shutting down`);
        await server.close();
        process.exit(0);
      };
      process.on('SIGTERM', () => void stop('SIGTERM'));
      process.on('SIGINT', () => void stop('SIGINT'));
    });

  program
    .command('run')
    .description('Run a pipeline once in this terminal, with live progress per block; exits non-zero when it fails.')
    .argument('<project>', 'project folder')
    .argument('<pipeline>', 'pipeline uuid')
    .option('--var <key=value>', 'a runtime variable (repeatable)', collectVar, {})
    .action(async (project: string, pipeline: string, opts: { var: Record<string, string> }) => {
      const { runPipelineCommand } = await import('./run.js');
      process.exitCode = await runPipelineCommand(resolve(project), pipeline, opts.var);
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  registerCloudCommands(program);
  await program.parseAsync(argv);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main(process.argv);
}
