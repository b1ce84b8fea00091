// The Arena's state for the page's lifetime: the chosen scenario, model(s), user and judge; the
// plan and dialogue of each side; the person's turn when they play the user; cancel.
//
// Side by side, both models get the same scenario, goal and user. When the person plays the user,
// they type once per turn and the reply goes to both models (the turn waits until both have
// written). A simulated user answers each model on its own: it is the same person with the same
// attitude, but it reacts to what each model actually said, so its replies differ.
import { errorInfo, type ErrorInfo } from '../../engine/api.ts';
import { ChatAbortedError, isAbortError } from '../../llm/errors.ts';
import type { DomainKey, Tier } from '../../proactive/domains.ts';
import {
  humanUser,
  runDialogue,
  scoreDialogue,
  simulatedUser,
  type Agreeableness,
  type GuidanceSetup,
  type UserReplyRequest,
} from '../../proactive/guidance.ts';
import { runPlanning } from '../../proactive/planning.ts';
import type { Scenario } from '../../proactive/schema.ts';
import type { EngineClient } from '../engine-client.svelte.ts';
import { useEngine } from '../engine-context.ts';
import type { ModelCard } from '../../engine/api.ts';
import { DEMO_SCENARIOS, useProactive, type BackendKey, type ProactiveClient } from '../proactive-client.svelte.ts';
import { ArenaSide } from './arena-side.svelte.ts';

/** Who answers the model: the person, or a simulated user at an agreeableness level. */
export type UserMode = 'human' | Agreeableness;
export type GoalSource = 'reference' | 'plan';

export class ArenaState {
  domain = $state<DomainKey>('recommendation');
  tier = $state<Tier | 'all'>('fair');
  scenarioKey = $state<string | null>(null);
  sideBySide = $state(false);
  userMode = $state<UserMode>('human');
  goalSource = $state<GoalSource>('reference');
  /** The person's picks; undefined follows the defaults of the endpoint settings. */
  picks = $state<{ modelA?: BackendKey; modelB?: BackendKey; judge?: string | null; user?: string | null }>({});

  sides = $state.raw<ArenaSide[]>([]);
  /** The scenario the current sides play. */
  playing = $state.raw<Scenario | null>(null);
  /** Every side that is still talking has written its message and waits for the person's reply. */
  awaitingHuman = $state(false);
  /** The dialogue in progress is played by the person (the composer shows). */
  humanPlaying = $state(false);
  draft = $state('');
  error = $state.raw<ErrorInfo | null>(null);
  busy = $state(false);

  #controller: AbortController | null = null;
  /** The demo model the demo scenarios were last switched to for. */
  #followedDemo: ModelCard | null = null;
  /** Sides waiting for the person's reply, with the function that hands it over. */
  #pendingReplies = new Map<ArenaSide, (text: string | null) => void>();
  #talking = new Set<ArenaSide>();

  constructor(private readonly client: ProactiveClient) {}

  get modelA(): BackendKey | null {
    const options = this.client.modelOptions.map((o) => o.key);
    return this.picks.modelA && options.includes(this.picks.modelA) ? this.picks.modelA : this.client.defaultModel;
  }

  get modelB(): BackendKey | null {
    const options = this.client.modelOptions.map((o) => o.key);
    return this.picks.modelB && options.includes(this.picks.modelB) ? this.picks.modelB : (options.find((k) => k !== this.modelA) ?? null);
  }

  /** The judge's endpoint id (null: no judge, local checks only). */
  get judgeId(): string | null {
    const id = this.picks.judge === undefined ? this.client.roles.judge : this.picks.judge;
    return this.client.endpoint(id) ? id : null;
  }

  /** The simulated user's endpoint id. */
  get userId(): string | null {
    const id = this.picks.user === undefined ? this.client.roles.user : this.picks.user;
    return this.client.endpoint(id) ? id : null;
  }

  /** Scenarios of the chosen domain and tier. */
  get choices(): Scenario[] {
    return this.client.scenarios.filter((s) => s.domain === this.domain && (this.tier === 'all' || s.tier === this.tier));
  }

  get scenario(): Scenario | null {
    const choices = this.choices;
    return choices.find((s) => s.key === this.scenarioKey) ?? choices[0] ?? null;
  }

  get models(): BackendKey[] {
    const keys = [this.modelA, ...(this.sideBySide ? [this.modelB] : [])];
    return keys.filter((k): k is BackendKey => k !== null);
  }

  /** Why Plan / Start cannot run now, or null. */
  get blocker(): string | null {
    if (!this.scenario) return 'Pick a scenario.';
    if (this.models.length === 0) return 'Pick a model: load the student in Models, add an ONNX model here, or add an endpoint.';
    if (this.sideBySide && this.models.length < 2) return 'Pick a second model for the right side.';
    if (this.sideBySide && this.modelA === this.modelB) return 'Pick two different models to compare.';
    return null;
  }

  get startBlocker(): string | null {
    if (this.blocker) return this.blocker;
    if (this.userMode !== 'human' && !this.userId) return 'Choose an endpoint to play the simulated user, or play the user yourself.';
    return null;
  }

  /** Sides for the current choice: kept (with their plans) when scenario and models are unchanged. */
  #prepareSides(): ArenaSide[] {
    const scenario = this.scenario!;
    const keys = this.models;
    const same = this.playing?.key === scenario.key && this.playing.fingerprint === scenario.fingerprint && this.sides.length === keys.length && this.sides.every((s, i) => s.key === keys[i]);
    if (!same) {
      const labels = new Map(this.client.modelOptions.map((o) => [o.key, o.label]));
      this.sides = keys.map((k) => new ArenaSide(k, labels.get(k) ?? k));
      this.playing = scenario;
    }
    return this.sides;
  }

  #begin(): AbortController {
    this.#controller?.abort();
    const controller = new AbortController();
    this.#controller = controller;
    this.error = null;
    this.busy = true;
    return controller;
  }

  #end(controller: AbortController): void {
    if (this.#controller === controller) {
      this.#controller = null;
      this.busy = false;
    }
  }

  /** Each side's model plans a target; the judge (if any) compares it with the reference. */
  async planTargets(): Promise<void> {
    if (this.blocker || this.busy) return;
    const sides = this.#prepareSides();
    const scenario = this.playing!;
    const controller = this.#begin();
    try {
      const judge = this.judgeId ? this.client.endpointBackend(this.judgeId) : undefined;
      await Promise.all(
        sides.map(async (side) => {
          const prompts = this.client.promptsFor(side.key);
          side.plan = { running: true, output: '', result: null, error: null };
          const plan = side.plan;
          try {
            plan.result = await runPlanning(scenario, {
              model: this.client.backend(side.key),
              judge,
              prompts,
              signal: controller.signal,
              onToken: (delta) => (plan.output += delta),
            });
          } catch (err) {
            plan.error = isAbortError(err) ? { name: 'ChatAbortedError', message: 'Planning was cancelled.' } : errorInfo(err);
          } finally {
            plan.running = false;
          }
        }),
      );
    } catch (err) {
      this.error = errorInfo(err);
    } finally {
      this.#end(controller);
    }
  }

  /** Plays the dialogue on every side at once. */
  async start(): Promise<void> {
    if (this.startBlocker || this.busy) return;
    const sides = this.#prepareSides();
    const scenario = this.playing!;
    const controller = this.#begin();
    try {
      const judge = this.judgeId ? this.client.endpointBackend(this.judgeId) : undefined;
      const userBackend = this.userMode === 'human' ? null : this.client.endpointBackend(this.userId!);
      const mode = this.userMode;
      const models = sides.map((side) => this.client.backend(side.key));
      this.#talking = new Set(sides);
      this.humanPlaying = userBackend === null;
      this.draft = '';
      await Promise.all(
        sides.map(async (side, i) => {
          // Each model gets the prompts it knows (a demo model the demo's own); the judge's and user's are the same.
          const prompts = this.client.promptsFor(side.key);
          const { setup, from } = this.#setup(side, scenario);
          side.goal = { target: setup.target, subTargets: setup.subTargets, from };
          side.turns = [];
          side.score = null;
          side.scoreError = null;
          side.error = null;
          side.endedBy = null;
          side.status = 'running';
          side.userLabel = userBackend ? `Simulated user (${mode})` : 'You';
          side.judged = judge !== undefined;
          const user = userBackend
            ? simulatedUser(userBackend, prompts, scenario, mode as Agreeableness)
            : humanUser((request) => this.#waitForPerson(side, request), 'you');
          const judging: Promise<void>[] = [];
          try {
            const dialogue = await runDialogue(setup, {
              model: models[i],
              user,
              checker: judge,
              prompts,
              signal: controller.signal,
              onEvent: (event) => {
                const turnDone = side.onEvent(event, setup.subTargets);
                if (turnDone && judge) {
                  judging.push(side.judge((turns) => scoreDialogue(setup, { turns, endedBy: 'turn-limit' }, { judge, prompts, signal: controller.signal })));
                }
              },
            });
            side.endedBy = dialogue.endedBy;
            side.status = 'ended';
            await Promise.all(judging);
          } catch (err) {
            side.streaming = null;
            if (isAbortError(err) || controller.signal.aborted) side.status = 'cancelled';
            else {
              side.status = 'error';
              side.error = errorInfo(err);
            }
          } finally {
            this.#leave(side);
          }
        }),
      );
    } catch (err) {
      this.error = errorInfo(err);
    } finally {
      this.humanPlaying = false;
      this.#end(controller);
    }
  }

  /** The goal: the reference, or the side's own plan when asked for and readable. */
  #setup(side: ArenaSide, scenario: Scenario): { setup: GuidanceSetup; from: GoalSource } {
    const plan = side.plan?.result?.plan;
    if (this.goalSource === 'plan' && plan && plan.format !== 'raw' && plan.target) {
      return { setup: { scenario, target: plan.target, subTargets: plan.subTargets.length ? [...plan.subTargets] : [plan.target] }, from: 'plan' };
    }
    return { setup: { scenario, target: scenario.item.target, subTargets: [...scenario.item.sub_target] }, from: 'reference' };
  }

  /** A side waits for the person; the turn opens once every side still talking waits. */
  #waitForPerson(side: ArenaSide, request: UserReplyRequest): Promise<string | null> {
    return new Promise((resolve, reject) => {
      if (request.signal?.aborted) return reject(new ChatAbortedError());
      request.signal?.addEventListener('abort', () => reject(new ChatAbortedError()), { once: true });
      side.status = 'waiting';
      this.#pendingReplies.set(side, resolve);
      this.#updateAwaiting();
    });
  }

  #leave(side: ArenaSide): void {
    this.#talking.delete(side);
    this.#pendingReplies.delete(side);
    this.#updateAwaiting();
  }

  #updateAwaiting(): void {
    this.awaitingHuman = this.#talking.size > 0 && [...this.#talking].every((s) => this.#pendingReplies.has(s));
  }

  /** The person's reply goes to every waiting side; null ends the conversation. */
  reply(text: string | null): void {
    if (!this.awaitingHuman) return;
    const value = text === null ? null : text.trim();
    if (value === '') return;
    const pending = [...this.#pendingReplies.entries()];
    this.#pendingReplies.clear();
    this.awaitingHuman = false;
    this.draft = '';
    for (const [side, resolve] of pending) {
      side.status = 'running';
      resolve(value);
    }
  }

  cancel(): void {
    this.#controller?.abort();
  }

  /** Two local models side by side: the compare slot on the left (before), the student on the right (after). */
  showBeforeAfter(): void {
    if (this.busy) return;
    this.reset();
    this.sideBySide = true;
    this.picks = { ...this.picks, modelA: 'local:compare', modelB: 'local' };
  }

  /**
   * Demo models were trained on the demo's short scenarios: when one is picked, switch to them (once
   * per model loaded; the picker's "Bundled set" goes back).
   */
  async followDemoModels(): Promise<void> {
    const card = this.models.map((k) => this.client.demoCard(k)).find((c) => c !== null);
    if (!card || this.busy || card === this.#followedDemo || this.client.scenarioSource === DEMO_SCENARIOS) return;
    this.#followedDemo = card;
    await this.client.loadDemoScenarios();
    if (this.client.scenarioSource !== DEMO_SCENARIOS) return;
    this.tier = 'all';
    this.scenarioKey = null;
  }

  /** New scenarios loaded: show their first environment, in a domain (and tier) that has some. */
  showLoaded(): void {
    this.scenarioKey = null;
    const first = this.client.scenarios[0];
    if (this.choices.length > 0 || !first) return;
    this.domain = first.domain;
    if (this.choices.length === 0) this.tier = 'all';
  }

  /** Forget the sides (a new scenario or new models). */
  reset(): void {
    if (this.busy) return;
    this.sides = [];
    this.playing = null;
  }
}

const states = new WeakMap<EngineClient, ArenaState>();

export function useArena(): ArenaState {
  const engine = useEngine();
  let state = states.get(engine);
  if (!state) {
    state = new ArenaState(useProactive());
    states.set(engine, state);
  }
  return state;
}
