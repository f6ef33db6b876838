/**
 * Execution timers. Two, as in AWS IoT Jobs: the job's in-progress timeout (`timeouts.inProgressS`,
 * started when the device starts the execution, never reset) and the step timer (`stepTimeoutS`,
 * which the device sets on start-next or any update, and may restart with each update). The
 * execution times out at the earlier of the two; the sweep in ticker.ts finds them by this deadline.
 */
import type { ExecutionRecord } from './model.js';

export function deadlineOf(e: Pick<ExecutionRecord, 'stepDeadline' | 'inProgressDeadline'>): number | null {
  const { stepDeadline: step, inProgressDeadline: total } = e;
  if (step === null) return total;
  if (total === null) return step;
  return Math.min(step, total);
}
