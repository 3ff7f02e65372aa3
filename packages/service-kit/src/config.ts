import { z } from 'zod';

/**
 * Parses environment variables with a zod object schema and returns a frozen result. All problems
 * are reported at once, each naming its variable, so a misconfigured container fails at start-up
 * with a message that says what to fix.
 */
export function parseEnv<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv): Readonly<z.output<S>> {
  // Empty strings mean "unset": compose files often pass `VAR=${VAR:-}`.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const result = schema.safeParse(present);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`invalid configuration: ${problems.join('; ')}`);
  }
  return Object.freeze(result.data);
}

/** A TCP port (0 lets the OS choose, which tests use). */
export const port = () => z.coerce.number().int().min(0).max(65535);

/** A positive integer setting. */
export const positiveInt = () => z.coerce.number().int().positive();

/** A non-negative integer setting. */
export const nonNegativeInt = () => z.coerce.number().int().nonnegative();

/** A boolean setting written as true/false/1/0/yes/no. */
export const flag = () =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .transform((value) => value === 'true' || value === '1' || value === 'yes');

/** A pino log level. */
export const logLevel = () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
