import { ValidationError } from '../domain/errors.js';

/** Who acts through the API: the token's name and role. */
export interface Operator {
  name: string;
  role: 'alertmanager' | 'viewer' | 'operator' | 'admin';
}

export function requireReason(reason: unknown): asserts reason is string {
  if (typeof reason !== 'string' || reason.trim() === '') throw new ValidationError('a reason is required', [{ path: 'reason', message: 'a reason is required and audited' }]);
}
