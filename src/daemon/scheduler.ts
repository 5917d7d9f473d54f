import { createTask } from 'node-cron';
import type { Clock, TimerHandle } from '../shared/clock.ts';
import type { CycleTrigger } from '../shared/probe-result.ts';
import { settlesWithin } from '../shared/timeout.ts';

/** Fires at each occurrence of a schedule; node-cron in production, a manual source in tests. */
export interface TickSource {
  /** Calls `onTick` with the planned time and the gap to the next occurrence. */
  every(expression: string, onTick: (plannedAtMs: number, intervalMs: number) => void): TickHandle;
}

/** A running schedule. */
export interface TickHandle {
  stop(): void;
  /** When the next occurrence is planned (epoch ms). */
  nextRunAtMs(): number | undefined;
}

/** Something the scheduler runs on a schedule: one target's probe cycle. */
export interface ScheduledJob {
  readonly name: string;
  readonly schedule: string;
  run(trigger: CycleTrigger): Promise<void>;
}

/** What the scheduler reports, for metrics and logs. */
export interface SchedulerObserver {
  /** A run started `latenessMs` after its planned (staggered) time. */
  onRunStarted?(job: string, latenessMs: number): void;
  /** A run was due while the previous one was still in flight. */
  onRunSkipped?(job: string): void;
  onRunError?(job: string, error: unknown): void;
}

export interface Scheduler {
  add(job: ScheduledJob): void;
  remove(name: string): Promise<void>;
  /** Runs a job now unless it is already running; resolves when that run ends. */
  trigger(name: string, trigger: CycleTrigger): Promise<void>;
  start(): void;
  /** Stops scheduling and waits up to `graceMs` for runs in flight; resolves false if some did not end. */
  stop(graceMs: number): Promise<boolean>;
  /** True while every schedule has ticked recently: a wedged scheduler fails liveness. */
  isLive(): boolean;
  readonly running: boolean;
  /** Runs still in progress: tests wait for it to know a tick's cycles have all ended. */
  inFlight(): number;
}

interface JobState {
  readonly job: ScheduledJob;
  current?: Promise<void> | undefined;
  staggerTimer?: TimerHandle | undefined;
}

interface ScheduleGroup {
  readonly jobs: Map<string, JobState>;
  handle?: TickHandle | undefined;
  /** When the next tick should arrive; liveness fails once it is well overdue. */
  expectedNextAtMs: number;
  intervalMs: number;
}

/** A tick overdue by more than two intervals plus this slack means the scheduler is wedged. */
const LIVENESS_SLACK_MS = 5_000;

/** Stable fraction in [0, 1) from a name (FNV-1a), so a target keeps its slot across restarts. */
export function staggerFraction(name: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < name.length; index++) {
    hash ^= name.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) / 0x1_0000_0000;
}

/** One scheduler owns cadence, stagger and overlap; jobs never know when they run. */
export function createScheduler(options: {
  tickSource: TickSource;
  clock: Clock;
  observer?: SchedulerObserver;
  /** Spread jobs that share a schedule across its interval (default on). */
  stagger?: boolean;
}): Scheduler {
  const { tickSource, clock, observer = {} } = options;
  const stagger = options.stagger ?? true;
  const groups = new Map<string, ScheduleGroup>();
  const jobs = new Map<string, JobState>();
  let running = false;

  const launch = (state: JobState, trigger: CycleTrigger, plannedAtMs?: number): Promise<void> => {
    if (state.current) {
      if (trigger === 'schedule') observer.onRunSkipped?.(state.job.name);
      return state.current;
    }
    if (plannedAtMs !== undefined) observer.onRunStarted?.(state.job.name, Math.max(0, clock.now() - plannedAtMs));
    // Never rejects: ticks fire and forget it, so a rejection here would be unhandled and end the process.
    const run = Promise.resolve()
      .then(() => state.job.run(trigger))
      .catch((error: unknown) => {
        try {
          observer.onRunError?.(state.job.name, error);
        } catch {
          // The observer failed reporting a crash; nothing is left to report it to.
        }
      })
      .finally(() => {
        state.current = undefined;
      });
    state.current = run;
    return run;
  };

  const onTick = (group: ScheduleGroup, plannedAtMs: number, intervalMs: number): void => {
    group.intervalMs = intervalMs;
    group.expectedNextAtMs = plannedAtMs + intervalMs;
    for (const state of group.jobs.values()) {
      const offsetMs = stagger ? Math.floor(staggerFraction(state.job.name) * intervalMs) : 0;
      if (offsetMs === 0) {
        void launch(state, 'schedule', plannedAtMs); // cannot reject: see launch
        continue;
      }
      if (state.staggerTimer) clock.clearTimeout(state.staggerTimer);
      state.staggerTimer = clock.setTimeout(
        () => {
          state.staggerTimer = undefined;
          void launch(state, 'schedule', plannedAtMs + offsetMs); // cannot reject: see launch
        },
        Math.max(0, plannedAtMs + offsetMs - clock.now()),
      );
      state.staggerTimer.unref?.();
    }
  };

  const startGroup = (expression: string, group: ScheduleGroup): void => {
    group.handle = tickSource.every(expression, (plannedAtMs, intervalMs) => onTick(group, plannedAtMs, intervalMs));
    const now = clock.now();
    group.expectedNextAtMs = group.handle.nextRunAtMs() ?? now;
    group.intervalMs = Math.max(0, group.expectedNextAtMs - now);
  };

  const stopGroup = (group: ScheduleGroup): void => {
    group.handle?.stop();
    group.handle = undefined;
  };

  return {
    get running() {
      return running;
    },
    add(job) {
      if (jobs.has(job.name)) throw new Error(`a job named ${job.name} is already scheduled`);
      const state: JobState = { job };
      jobs.set(job.name, state);
      let group = groups.get(job.schedule);
      if (!group) {
        group = { jobs: new Map(), expectedNextAtMs: clock.now(), intervalMs: 0 };
        groups.set(job.schedule, group);
        if (running) startGroup(job.schedule, group);
      }
      group.jobs.set(job.name, state);
    },
    async remove(name) {
      const state = jobs.get(name);
      if (!state) return;
      jobs.delete(name);
      if (state.staggerTimer) clock.clearTimeout(state.staggerTimer);
      const group = groups.get(state.job.schedule);
      group?.jobs.delete(name);
      if (group?.jobs.size === 0) {
        stopGroup(group);
        groups.delete(state.job.schedule);
      }
      await state.current;
    },
    trigger(name, trigger) {
      const state = jobs.get(name);
      return state ? launch(state, trigger) : Promise.resolve();
    },
    start() {
      if (running) return;
      running = true;
      for (const [expression, group] of groups) startGroup(expression, group);
    },
    async stop(graceMs) {
      running = false;
      for (const group of groups.values()) stopGroup(group);
      for (const state of jobs.values()) {
        if (state.staggerTimer) clock.clearTimeout(state.staggerTimer);
        state.staggerTimer = undefined;
      }
      const inFlight = [...jobs.values()].flatMap((state) => (state.current ? [state.current] : []));
      if (inFlight.length === 0) return true;
      return settlesWithin(Promise.all(inFlight), graceMs, clock);
    },
    isLive() {
      if (!running) return false;
      const now = clock.now();
      for (const group of groups.values()) {
        const overdueMs = now - group.expectedNextAtMs;
        if (overdueMs > 2 * Math.max(group.intervalMs, 1_000) + LIVENESS_SLACK_MS) return false;
      }
      return true;
    },
    inFlight() {
      let count = 0;
      for (const state of jobs.values()) if (state.current) count++;
      return count;
    },
  };
}

/** node-cron as a TickSource: one cron task per distinct schedule, not per target. */
export function cronTickSource(onWarning: (message: string) => void = () => undefined): TickSource {
  return {
    every(expression, onTick) {
      const task = createTask(
        expression,
        (context) => {
          const plannedAtMs = context.date.getTime();
          const next = task.getNextRun();
          onTick(plannedAtMs, next ? next.getTime() - plannedAtMs : 0);
        },
        {
          // Missed runs are visible as lateness and skipped cycles; keep node-cron's own chatter in our log.
          logger: {
            info: () => undefined,
            debug: () => undefined,
            warn: (message) => onWarning(message),
            error: (message) => onWarning(String(message)),
          },
        },
      );
      // A task given a function runs inline: start() and destroy() return nothing. Their Promise arm is
      // for tasks run in a child process, which this does not create.
      void task.start();
      return {
        stop: () => void task.destroy(),
        nextRunAtMs: () => task.getNextRun()?.getTime(),
      };
    },
  };
}
