import type { z } from 'zod';

/** A zod error as `{ "path.to.field": message }`, the `details.fields` of an `InvalidRequest`. */
export function issueFields(error: z.ZodError): Record<string, string> {
  return Object.fromEntries(error.issues.map((i) => [i.path.join('.') || '(root)', i.message]));
}
