import { expect, test } from 'vitest';
import { auditKeys } from '../../../src/audit/audit-keys.js';

test('all audit keys share the {prefix} hash tag', () => {
  expect(auditKeys('remediator')).toEqual({
    stream: '{remediator}:audit',
    seals: '{remediator}:audit:seals',
    sealed: '{remediator}:audit:sealed',
    anchor: '{remediator}:audit:anchor',
    sealerLock: '{remediator}:audit:sealer',
    verified: '{remediator}:audit:verified',
  });
});
