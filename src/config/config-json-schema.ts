import { z } from 'zod';
import { configSchema } from './config-schema.js';

/**
 * JSON Schema of `remediator.yaml` for `remediator schema` and editors. Input side: keys with
 * defaults are optional. Cross-entry checks (playbooks, params, unique names) are not expressible
 * here; `remediator validate` does those.
 */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(configSchema, { io: 'input' }),
    title: 'remediator.yaml',
  };
}
