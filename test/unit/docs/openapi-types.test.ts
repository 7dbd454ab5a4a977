/**
 * The OpenAPI schemas (src/http/openapi-schemas.ts) against the domain types they describe: this
 * file does not type-check (`npx tsc --noEmit`) when a field is added, removed or retyped on one
 * side only. Fix the schema (and docs/http-api.md or docs/audit-log.md) when it fails.
 */
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import type { AlertRef, } from '../../../src/domain/alert.js';
import type { RunWithSeen, RunApproval, RunHealth, RunPrecheck, RunStep, RunTrigger, RunVerification, RuleSnapshot } from '../../../src/domain/run.js';
import type * as Audit from '../../../src/audit/audit-entry.js';
import type { UnreadableAuditEntry } from '../../../src/audit/decode-audit-entry.js';
import type { AuditChainReport } from '../../../src/audit/verify-audit-chain.js';
import type { AuditPage } from '../../../src/audit/audit-query.js';
import type { AlertDecision, IntakeResult } from '../../../src/engine/alert-intake.js';
import type { AlertSimulator } from '../../../src/engine/alert-simulator.js';
import type { AlertInbox } from '../../../src/engine/alert-inbox.js';
import type * as S from '../../../src/http/openapi-schemas.js';

/** True only when A and B are the same type (not merely assignable). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
/** Drops the index signature a loose object's type carries, keeping the named fields. */
type Known<T> = { [K in keyof T as string extends K ? never : K]: T[K] };
type Out<T extends z.ZodType> = z.output<T>;
function assert<T extends true>(): T | undefined {
  return undefined;
}

// ---- runs ----
assert<Equal<Out<typeof S.AlertRef>, AlertRef>>();
assert<Equal<Out<typeof S.RuleSnapshot>, RuleSnapshot>>();
assert<Equal<Out<typeof S.RunTrigger>, RunTrigger>>();
assert<Equal<Out<typeof S.RunStep>, RunStep>>();
assert<Equal<Out<typeof S.RunApproval>, RunApproval>>();
assert<Equal<Out<typeof S.RunPrecheck>, RunPrecheck>>();
assert<Equal<Out<typeof S.RunHealth>, RunHealth>>();
assert<Equal<Out<typeof S.RunVerification>, RunVerification>>();
assert<Equal<Out<typeof S.Run>, RunWithSeen>>();

// ---- webhook answer ----
assert<Equal<Out<typeof S.AlertDecision>, AlertDecision>>();
assert<Equal<Out<typeof S.IntakeResult>, IntakeResult>>();
assert<Equal<Out<typeof S.SimulationResult>, Awaited<ReturnType<AlertSimulator['simulate']>>>>();

// ---- audit ----
/**
 * The escalator writes `run_created` with `source: 'escalation'` (src/engine/run-escalator.ts)
 * while the interface still says alert | manual; the description documents what is written.
 */
type RunCreatedAsWritten = Omit<Audit.RunCreatedEntry, 'source'> & { source: Audit.RunCreatedEntry['source'] | 'escalation' };
assert<Equal<Known<Out<typeof S.RunCreatedEntry>>, { [K in keyof RunCreatedAsWritten]: RunCreatedAsWritten[K] }>>();
assert<Equal<Known<Out<typeof S.GuardBlockedEntry>>, Audit.GuardBlockedEntry>>();
assert<Equal<Known<Out<typeof S.RunStatusEntry>>, Audit.RunStatusEntry>>();
assert<Equal<Known<Out<typeof S.KubeMutationEntry>>, Audit.KubeMutationEntry>>();
assert<Equal<Known<Out<typeof S.OperatorActionEntry>>, Audit.OperatorActionEntry>>();
assert<Equal<Known<Out<typeof S.AuthFailedEntry>>, Audit.AuthFailedEntry>>();
assert<Equal<Known<Out<typeof S.AlertResolvedEntry>>, Audit.AlertResolvedEntry>>();
assert<Equal<Known<Out<typeof S.AlertDecisionEntry>>, Audit.AlertDecisionEntry>>();
assert<Equal<Out<typeof S.InboxPage>, Awaited<ReturnType<AlertInbox['list']>>>>();
assert<Equal<Known<Out<typeof S.AuditTrimmedEntry>>, Audit.AuditTrimmedEntry>>();
assert<Equal<Known<Out<typeof S.HealthCheckEntry>>, Audit.HealthCheckEntry>>();
assert<Equal<Known<Out<typeof S.PrecheckEntry>>, Audit.PrecheckEntry>>();
assert<Equal<Known<Out<typeof S.VerificationEntry>>, Audit.VerificationEntry>>();
assert<Equal<Known<Out<typeof S.EscalationEntry>>, Audit.EscalationEntry>>();
assert<Equal<Known<Out<typeof S.NotificationDeadLetterEntry>>, Audit.NotificationDeadLetterEntry>>();
assert<Equal<Known<Out<typeof S.UnreadableEntry>>, UnreadableAuditEntry>>();
/** Every entry type has its schema (AUDIT_ENTRY_SCHEMAS is keyed by type). */
assert<Equal<keyof typeof S.AUDIT_ENTRY_SCHEMAS, Audit.AuditEntryType>>();
assert<Equal<Out<typeof S.AuditChainReport>, AuditChainReport>>();
assert<Equal<keyof Out<typeof S.AuditPage>, keyof AuditPage>>();

describe('OpenAPI schemas and the domain types', () => {
  it('agree (checked by the type checker; this file fails to compile when they drift)', () => {
    expect(assert<true>()).toBeUndefined();
  });
});
