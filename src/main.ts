import { Command, Option } from 'commander';
import { loadConfig } from './config/load-config.js';
import { configJsonSchema } from './config/config-json-schema.js';
import { ValidationError, RemediatorError } from './domain/errors.js';
import { playbookMap, VERSION } from './composition-root.js';
import { playbooks } from '../playbooks/index.js';
import { serveCommand } from './cli/serve-command.js';
import { demoCommand } from './cli/demo-command.js';
import { runSimCommand } from './sim/run-sim-command.js';

/** Exit codes (DESIGN §5): 2 usage or validation error. */
function fail(err: unknown): never {
  if (err instanceof ValidationError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  if (err instanceof RemediatorError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(2);
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
    await serveCommand(opts).catch(fail);
  });

program
  .command('validate')
  .description('check the config file and exit (0 ok, 2 problems)')
  .option('-c, --config <file>', 'config file')
  .action((opts: { config?: string }) => {
    try {
      const loadOpts: Parameters<typeof loadConfig>[0] = { playbooks: playbookMap(playbooks) };
      if (opts.config) loadOpts.path = opts.config;
      const config = loadConfig(loadOpts);
      process.stdout.write(`${config.source}: ok (${config.rules.length} rules, ${config.auth.tokens.length} tokens${config.dryRun ? ', dryRun' : ''})\n`);
    } catch (err) {
      fail(err);
    }
  });

program
  .command('schema')
  .description('print the JSON Schema of remediator.yaml')
  .action(() => {
    process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  });

program
  .command('demo')
  .description('run everything on embedded defaults against the simulated cluster and replay captured alerts')
  .option('--once', 'exit when the runs are done')
  .action(async (opts: { once?: boolean }) => {
    await demoCommand({ once: opts.once ?? false }).catch(fail);
  });

program
  .command('sim')
  .description('serve the simulated Kubernetes cluster alone')
  .option('--seed <file>', 'seed file describing the cluster')
  .option('--port <n>', 'port', (v) => Number(v))
  .option('--host <host>', 'host', '127.0.0.1')
  .action(async (opts: { seed?: string; port?: number; host: string }) => {
    const simOpts: Parameters<typeof runSimCommand>[0] = { host: opts.host };
    if (opts.seed) simOpts.seedFile = opts.seed;
    if (opts.port !== undefined) simOpts.port = opts.port;
    await runSimCommand(simOpts).catch(fail);
  });

program
  .command('playbooks')
  .description('list the playbooks')
  .action(() => {
    for (const p of playbooks) process.stdout.write(`${p.name.padEnd(18)} ${p.destructive ? 'destructive' : '           '}  ${p.description}\n`);
  });

await program.parseAsync(process.argv);
