/**
 * How fast a dead worker's run is picked up again, and what keeps a live one from being taken
 * over. Everything a running attempt holds — BullMQ's job lock, the target lock, its
 * concurrency slot — lives CLAIM_TTL_MS without renewal. The target lock and the slot are
 * renewed every CLAIM_RENEW_MS (the same tick looks for a cancel); BullMQ renews its job lock at
 * half its lifetime. BullMQ looks for jobs whose lock expired every STALL_CHECK_MS, so after a
 * worker dies (SIGKILL, OOM, node loss) another worker resumes its run within RECOVERY_BOUND_MS.
 *
 * A live worker loses its claims only if its event loop stalls for longer than about 2.5 s; the
 * stall test under CPU load on two cores checks that this does not happen in practice.
 */
export const CLAIM_TTL_MS = 5000;
export const CLAIM_RENEW_MS = 1000;
export const STALL_CHECK_MS = 2500;
/** Lock expiry, then at most two stall checks (one marks the job, the next moves it). */
export const RECOVERY_BOUND_MS = CLAIM_TTL_MS + 2 * STALL_CHECK_MS;
