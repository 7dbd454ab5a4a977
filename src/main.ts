import { Command, Option } from 'commander';
import { ValidationError, RemediatorError } from './domain/errors.js';
import { VERSION } from './version.js';
import { registerClientVerbs } from './cli/client/register-client-verbs.js';
import { registerAuditVerbs } from './cli/client/audit-verbs.js';

// Server verbs load their modules on demand, so client verbs start in well under a second.
const server = {
  config: () => import('./config/load-config.js'),
  playbooks: async () => {
    const { playbooks } = await import('../playbooks/index.js');
    return { list: playbooks, map: new Map(playbooks.map((p) => [p.name, p])) };
  },
};

/** Exit codes (docs/cli.md): 2 usage or validation error. */
function fail(err: unknown): never {
  if (err instanceof ValidationError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  if (err instanceof RemediatorError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(2);
  }
  // An operating-system error (a port in use, a file not found) is the user's to fix: its message says enough.
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (err instanceof Error && typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
}

const program = new Command('remediator')
  .description('Alert-driven, guarded auto-remediation for Kubernetes GPU clusters')
  .version(VERSION)
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

program
  .command('serve')
  .description('run the service (api, worker or both)')
  .option('-c, --config <file>', 'config file (else REMEDIATOR_CONFIG, else ./remediator.yaml)')
  .addOption(new Option('--role <role>', 'which part to run').choices(['all', 'api', 'worker']).default('all'))
  .action(async (opts: { config?: string; role: 'all' | 'api' | 'worker' }) => {
    const { serveCommand } = await import('./cli/serve-command.js');
    await serveCommand(opts).catch(fail);
  });

program
  .command('validate')
  .description('check the config file and exit (0 ok, 2 problems)')
  .option('-c, --config <file>', 'config file')
  .action(async (opts: { config?: string }) => {
    try {
      const { loadConfig } = await server.config();
      const loadOpts: Parameters<typeof loadConfig>[0] = { playbooks: (await server.playbooks()).map };
      if (opts.config) loadOpts.path = opts.config;
      const config = loadConfig({ ...loadOpts, unresolvedSecrets: 'warn' });
      // What this machine cannot resolve (secret files, variables, credentials) does not make the
      // file wrong, but `serve` would refuse to start: say so, and still exit 0.
      const warnings = [...(config.warnings ?? [])];
      const { assertServeReady } = await import('./config/assert-serve-ready.js');
      try {
        assertServeReady(config);
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        warnings.push(...err.details);
      }
      process.stdout.write(`${config.source}: ok (${config.rules.length} rules, ${config.auth.tokens.length} tokens${config.dryRun ? ', dryRun' : ''})\n`);
      for (const w of warnings) process.stderr.write(`warning: ${w.path}: ${w.message} (serve refuses to start until this is resolved)\n`);
    } catch (err) {
      fail(err);
    }
  });

program
  .command('schema')
  .description('print the JSON Schema of remediator.yaml')
  .action(async () => {
    const { configJsonSchema } = await import('./config/config-json-schema.js');
    process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  });

program
  .command('demo')
  .description('run everything on embedded defaults against the simulated cluster and replay captured alerts')
  .option('--once', 'exit when the runs are done')
  .action(async (opts: { once?: boolean }) => {
    const { demoCommand } = await import('./cli/demo-command.js');
    await demoCommand({ once: opts.once ?? false }).catch(fail);
    // Everything the demo started is stopped; a connection that outlived its bound must not keep it running.
    process.exit(process.exitCode ?? 0);
  });

program
  .command('sim')
  .description('serve the simulated Kubernetes cluster alone')
  .option('--seed <file>', 'seed file describing the cluster')
  .option('--port <n>', 'port', (v) => Number(v))
  .option('--host <host>', 'host', '127.0.0.1')
  .action(async (opts: { seed?: string; port?: number; host: string }) => {
    const { runSimCommand } = await import('./sim/run-sim-command.js');
    const simOpts: Parameters<typeof runSimCommand>[0] = { host: opts.host };
    if (opts.seed) simOpts.seedFile = opts.seed;
    if (opts.port !== undefined) simOpts.port = opts.port;
    await runSimCommand(simOpts).catch(fail);
  });

program
  .command('playbooks')
  .description('list the playbooks')
  .action(async () => {
    for (const p of (await server.playbooks()).list) process.stdout.write(`${p.name.padEnd(18)} ${p.destructive ? 'destructive' : '           '}  ${p.description}\n`);
  });

// Client verbs (docs/cli.md): talk to the HTTP API only; exit codes 0–5.
registerClientVerbs(program, { version: VERSION });

// audit [filters] [--follow] [-o table|json|ndjson] and audit verify (docs/cli.md): over the HTTP API only.
registerAuditVerbs(program, { version: VERSION });

await program.parseAsync(process.argv);
