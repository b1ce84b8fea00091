// Words the Runs panel shows for tasks, statuses and domain columns.
import type { Task } from '../../proactive/records.ts';

export const TASK_LABELS: Record<Task, { long: string; short: string }> = {
  planning: { long: 'Target planning', short: 'Planning' },
  guidance: { long: 'Dialogue guidance', short: 'Guidance' },
};
