/**
 * Header names shared by the gateway and the model servers, defined once. The gateway sets the
 * request-scoped ones; a model server answers with the `*_CAUSE` / timing ones so that the gateway
 * can tell a replica fault from a client's own oversized or queued work.
 */

/** The gateway's remaining deadline for this attempt, in milliseconds (relative, so clocks need not agree). */
export const DEADLINE_HEADER = 'x-modeldock-deadline-ms';

/**
 * The longest the gateway would wait for this request, in milliseconds, if the replica says it
 * needs longer than {@link DEADLINE_HEADER} for the work it admitted: a replica that takes more
 * answers `102 Processing` at once, and the gateway then waits up to this instead of the attempt's
 * deadline (a replica that answers nothing is still given up on at the attempt's deadline).
 */
export const DEADLINE_MAX_HEADER = 'x-modeldock-deadline-max-ms';

/**
 * On a model server's 503/504/429 answer: why the request was not computed in time.
 * `queue`: it waited behind other work of the same or other clients (fair queue, full queue);
 * the replica itself is healthy, so the gateway must not count it against the replica.
 */
export const TIMEOUT_CAUSE_HEADER = 'x-modeldock-timeout-cause';

/** On a model server's answer: milliseconds the request's rows spent queued before their first engine call. */
export const QUEUE_TIME_HEADER = 'x-modeldock-queue-ms';

/** An opaque id of the replica that answered, set by the gateway. */
export const SERVED_BY_HEADER = 'x-served-by';

/**
 * The backend (deployment) of a model: on a request, the one the client pins (gateway); on an
 * answer, the one that served it.
 */
export const BACKEND_HEADER = 'x-modeldock-backend';

/** On a request the gateway sends to a model's shadow backend: a copy of a request already answered. */
export const SHADOW_HEADER = 'x-modeldock-shadow';
