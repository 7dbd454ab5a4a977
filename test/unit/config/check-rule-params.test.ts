import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { checkRuleParams } from '../../../src/config/check-rule-params.js';
import type { AnyPlaybook } from '../../../src/engine/playbook.js';

function playbook(paramsSchema: z.ZodType<any>, paramsFromLabels: AnyPlaybook['paramsFromLabels']): AnyPlaybook {
  return {
    name: 'p',
    description: 'test',
    destructive: false,
    paramsSchema,
    paramsFromLabels,
    target: () => 'node/x',
    run: async () => ({ result: 'noop', reason: 'test' }),
  };
}

const nodeSchema = z
  .strictObject({ node: z.string().regex(/^[a-z0-9.-]+$/, 'must be a node name'), limit: z.int().default(1), max: z.int().default(5) })
  .refine((p) => p.limit <= p.max, { message: 'limit must not exceed max', path: ['limit'] });

describe('checkRuleParams', () => {
  it('fills alert-derived keys from the playbook mapping, so object refinements still run', () => {
    const p = playbook(nodeSchema, (labels) => (labels.node ? { node: labels.node } : {}));
    expect(checkRuleParams(p, { limit: 9 }, ['node'], ['rules', 0, 'params'])).toEqual([
      { path: 'rules[0].params.limit', message: 'limit must not exceed max' },
    ]);
    expect(checkRuleParams(p, { limit: 2 }, ['node'], ['rules', 0, 'params'])).toEqual([]);
  });

  it('drops issues of derived keys the synthetic alert cannot fill', () => {
    // This playbook reads a label no shipped playbook uses; the key is still treated as present.
    const p = playbook(nodeSchema, (labels) => (labels.exotic_node ? { node: labels.exotic_node } : {}));
    expect(checkRuleParams(p, {}, ['node'], [])).toEqual([]);
  });

  it('survives a paramsFromLabels that throws', () => {
    const p = playbook(nodeSchema, () => {
      throw new Error('boom');
    });
    expect(checkRuleParams(p, { limit: 1 }, ['node'], [])).toEqual([]);
  });

  it('checks a derived key the rule sets itself', () => {
    const p = playbook(nodeSchema, (labels) => ({ node: labels.node }));
    expect(checkRuleParams(p, { node: 'Bad Node' }, ['node'], ['params'])).toEqual([{ path: 'params.node', message: 'must be a node name' }]);
  });

  it('reports keys that are not derived as Required, and unknown keys one by one', () => {
    const p = playbook(nodeSchema, () => ({}));
    expect(checkRuleParams(p, { limt: 2, other: 1 }, [], ['params'])).toEqual([
      { path: 'params.node', message: 'Required' },
      { path: 'params.limt', message: 'unknown key' },
      { path: 'params.other', message: 'unknown key' },
    ]);
  });

  it('does not let placeholders for derived keys leak into keys that are not declared derived', () => {
    // paramsFromLabels fills node, but node is not in alertKeys: the rule must set it.
    const p = playbook(nodeSchema, (labels) => ({ node: labels.node }));
    expect(checkRuleParams(p, {}, [], [])).toEqual([{ path: 'node', message: 'Required' }]);
  });
});
