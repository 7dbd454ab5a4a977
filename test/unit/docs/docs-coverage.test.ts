/**
 * What the product registers must be documented: every HTTP route (docs/http-api.md and the
 * OpenAPI description), every CLI verb and flag (docs/cli.md, walked from the real commander
 * program of src/main.ts), every metric with its labels and values (docs/metrics.md), every
 * audit entry type with its fields (docs/audit-log.md). Config keys and playbooks are checked in
 * generated-docs.test.ts. The docs refer to nothing outside this repository.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Command, type Option } from 'commander';
import { registeredRoutes } from '../../../src/http/openapi-routes.js';
import { openApiDocument } from '../../../src/http/openapi.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { AUDIT_ENTRY_TYPES } from '../../../src/audit/audit-query.js';
import { AUDIT_ENTRY_SCHEMAS } from '../../../src/http/openapi-schemas.js';
import { routeOnlyApp } from '../../helpers/route-only-app.js';

const root = new URL('../../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

/** The text under a heading, up to the next heading of the same or a higher level. */
function section(text: string, heading: string): string | undefined {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === heading);
  if (start < 0) return undefined;
  const level = heading.indexOf(' ');
  const end = lines.findIndex((l, i) => i > start && /^#+ /.test(l) && l.indexOf(' ') <= level);
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

describe('docs/http-api.md and the OpenAPI description', () => {
  it('list every route the app registers', () => {
    const routes = registeredRoutes(routeOnlyApp());
    expect(routes.length).toBeGreaterThan(20);
    const text = read('docs/http-api.md');
    const doc = openApiDocument() as { paths: Record<string, Record<string, unknown>> };
    for (const { method, path } of routes) {
      expect(text, `docs/http-api.md lists ${method.toUpperCase()} ${path}`).toContain(`\`${method.toUpperCase()} ${path}\``);
      expect(doc.paths[path]?.[method], `the OpenAPI description has ${method.toUpperCase()} ${path}`).toBeDefined();
    }
  });
});

describe('docs/cli.md', () => {
  let program: Command;
  beforeAll(async () => {
    // src/main.ts builds the program and parses argv at import; keep the program, parse nothing.
    const spy = vi.spyOn(Command.prototype, 'parseAsync').mockImplementation(function (this: Command) {
      program ??= this;
      return Promise.resolve(this);
    });
    await import('../../../src/main.js');
    spy.mockRestore();
    expect(program).toBeDefined();
  });
  afterAll(() => vi.restoreAllMocks());

  /** Every command, as `remediator runs list`, with its options. */
  function commands(cmd: Command, prefix: string): { path: string; options: readonly Option[] }[] {
    return cmd.commands.flatMap((c) => [{ path: `${prefix} ${c.name()}`, options: c.options }, ...commands(c, `${prefix} ${c.name()}`)]);
  }

  it('documents every verb the program registers, each under its own heading, with every flag', () => {
    const text = read('docs/cli.md');
    const shared = section(text, '## Client verbs: server, token, output');
    expect(shared, 'the section on the client options').toBeDefined();
    const all = commands(program, 'remediator');
    expect(all.map((c) => c.path)).toEqual(expect.arrayContaining(['remediator serve', 'remediator runs list', 'remediator audit verify', 'remediator approve']));
    for (const { path, options } of all) {
      const own = section(text, `### \`${path}\``);
      const parent = all.some((c) => c.path.startsWith(`${path} `));
      if (parent) {
        // A group (`runs`, `audit`, `contexts`): its subcommands have the headings; it is named in the text.
        expect(text, `${path} is mentioned`).toContain(`\`${path}`);
        continue;
      }
      expect(own, `docs/cli.md has a heading ### \`${path}\``).toBeDefined();
      for (const option of options) {
        const flag = option.long ?? option.short!;
        const where = ['--url', '--token', '--output'].includes(flag) ? shared! : own!;
        expect(where, `${path} ${flag} is documented`).toContain(flag);
      }
    }
  });

  it('documents the global options', () => {
    const text = read('docs/cli.md');
    for (const option of program.options) expect(text, option.flags).toContain(option.long ?? option.short!);
  });
});

describe('docs/metrics.md', () => {
  it('lists every metric with its type, its labels and the values of each closed label', async () => {
    const text = read('docs/metrics.md');
    const metrics = new Metrics({ version: 'v0', playbooks: ['pb'], rules: ['rl'], channels: ['ch'], defaultMetrics: false });
    const all = await metrics.registry.getMetricsAsJSON();
    expect(all.length).toBeGreaterThan(15);
    // Labels whose values are names from the config, the build, or open sets: their values are not listed.
    const open = new Set(['playbook', 'rule', 'channel', 'version', 'route', 'method', 'code', 'verb', 'resource']);
    for (const m of all) {
      const row = text.split('\n').find((l) => l.startsWith(`| \`${m.name}\` |`));
      expect(row, `docs/metrics.md has a row for ${m.name}`).toBeDefined();
      expect(row, `${m.name} type`).toContain(`| ${m.type} |`);
      const labelNames = (metrics.registry.getSingleMetric(m.name) as unknown as { labelNames: string[] }).labelNames;
      for (const label of labelNames) {
        expect(row, `${m.name} label ${label}`).toContain(`\`${label}\``);
        if (open.has(label)) continue;
        const values = new Set(m.values.map((v) => v.labels[label]).filter((v): v is string => typeof v === 'string' && v !== 'pb'));
        for (const value of values) expect(row, `${m.name} ${label}=${value}`).toMatch(new RegExp(`[ :,]${value}[ ,;(|]`));
      }
    }
  });
});

describe('docs/audit-log.md', () => {
  it('has a section for every entry type with each of its fields', () => {
    const text = read('docs/audit-log.md');
    const common = section(text, '## Fields every entry has')!;
    expect(common).toBeDefined();
    for (const type of AUDIT_ENTRY_TYPES) {
      const own = section(text, `### \`${type}\``);
      expect(own, `docs/audit-log.md has ### \`${type}\``).toBeDefined();
      for (const field of Object.keys(AUDIT_ENTRY_SCHEMAS[type].shape)) {
        expect(`${own}\n${common}`, `${type}.${field}`).toContain(`\`${field}\``);
      }
    }
  });
});

describe('the docs', () => {
  const files = readdirSync(new URL('docs/', root)).filter((f) => f.endsWith('.md'));

  it('link only to files of this repository that exist', () => {
    for (const file of [...files.map((f) => `docs/${f}`), 'README.md']) {
      const text = read(file);
      expect(text, `${file} refers to nothing outside the repository`).not.toMatch(/DESIGN\.md|\.\.\/shared|\/work\//);
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const resolved = new URL(target!, new URL(file, root));
        expect(resolved.href.startsWith(root.href), `${file} → ${target} stays in the repository`).toBe(true);
        expect(existsSync(resolved), `${file} → ${target} exists`).toBe(true);
      }
    }
  });

  it('are all listed in the README', () => {
    const readme = read('README.md');
    for (const f of files) expect(readme, `README links docs/${f}`).toContain(`(docs/${f})`);
  });
});
