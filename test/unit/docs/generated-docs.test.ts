/**
 * docs/configuration.md and docs/playbooks.md are generated from the code; these tests fail
 * while a checked-in file differs from what its generator produces now.
 * Regenerate both with: node --import tsx scripts/gen-reference-docs.ts
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { configKeys, configReference } from '../../../src/config/config-reference.js';
import { playbookReference } from '../../../src/config/playbook-reference.js';
import { playbooks } from '../../../playbooks/index.js';

const REGENERATE = 'out of date: run node --import tsx scripts/gen-reference-docs.ts';
const doc = (name: string) => readFileSync(new URL(`../../../docs/${name}`, import.meta.url), 'utf8');

describe('generated reference docs', () => {
  it('docs/configuration.md is what the config schema generates', () => {
    expect(doc('configuration.md'), `docs/configuration.md is ${REGENERATE}`).toBe(configReference());
  });

  it('docs/configuration.md lists every config key with a type and a description', () => {
    const text = doc('configuration.md');
    const keys = configKeys();
    expect(keys).toEqual(expect.arrayContaining(['server.port', 'guards.maxUnschedulableNodes', 'rules[].escalate.afterRepeats.count', 'notifications[].secretFile']));
    for (const key of keys) {
      const row = text.split('\n').find((line) => line.startsWith(`| \`${key}\` |`));
      expect(row, `config key ${key} in docs/configuration.md`).toBeDefined();
      const [, , type, , description] = row!.split(/(?<!\\)\|/).map((c) => c.trim());
      expect(type, `${key}: type`).not.toBe('');
      expect(description, `${key}: description`).not.toBe('');
    }
  });

  it('docs/playbooks.md is what the registered playbooks generate', () => {
    expect(doc('playbooks.md'), `docs/playbooks.md is ${REGENERATE}`).toBe(playbookReference(playbooks));
  });

  it('docs/playbooks.md has a section for every registered playbook, with every param', () => {
    const text = doc('playbooks.md');
    for (const p of playbooks) {
      const section = text.split(/^## /m).find((s) => s.startsWith(`${p.name}\n`));
      expect(section, `playbook ${p.name} in docs/playbooks.md`).toBeDefined();
      const params = Object.keys((z.toJSONSchema(p.paramsSchema, { io: 'input', unrepresentable: 'any' }) as { properties?: object }).properties ?? {});
      expect(params.length, `${p.name} has params`).toBeGreaterThan(0);
      for (const param of params) {
        expect(section, `${p.name} param ${param}`).toContain(`| \`${param}\` |`);
      }
    }
  });
});
