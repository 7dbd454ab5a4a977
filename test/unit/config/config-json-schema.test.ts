import { describe, expect, it } from 'vitest';
import { configJsonSchema } from '../../../src/config/config-json-schema.js';

type Schema = { type?: string; properties?: Record<string, Schema>; required?: string[]; additionalProperties?: unknown; default?: unknown; items?: Schema; pattern?: string };

describe('configJsonSchema', () => {
  const schema = configJsonSchema() as Schema;
  const props = schema.properties!;

  it('describes every top-level key of remediator.yaml, and only those', () => {
    expect(Object.keys(props).sort()).toEqual(
      ['alertmanager', 'audit', 'auth', 'dryRun', 'guards', 'kubernetes', 'notifications', 'prometheus', 'redis', 'rules', 'runs', 'server', 'ui'].sort(),
    );
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required ?? []).toEqual([]);
  });

  it('is strict at nested levels too', () => {
    expect(props.guards!.additionalProperties).toBe(false);
    expect(props.rules!.items!.additionalProperties).toBe(false);
  });

  it('carries the defaults and requires what has none', () => {
    expect(props.server!.properties!.port!.default).toBe(8080);
    expect(props.guards!.properties!.maxQueueAge!.default).toBe('15m');
    expect(props.guards!.properties!.namespaces!.default).toEqual({ deny: ['kube-system'] });
    expect(props.rules!.items!.required!.sort()).toEqual(['matchers', 'name', 'playbook']);
  });

  it('spells durations as a pattern editors can check', () => {
    const pattern = new RegExp(props.guards!.properties!.maxQueueAge!.pattern!);
    expect(pattern.test('15m')).toBe(true);
    expect(pattern.test('15x')).toBe(false);
  });

  it('is plain JSON', () => {
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
  });
});
