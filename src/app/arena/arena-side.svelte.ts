// One model's side of the Arena: its plan, its dialogue as it streams (each assistant message
// checked by the local rules the moment it is complete), and the judge's running score. The Arena
// (arena.svelte.ts) drives it; components only read it.
import { errorInfo, type ErrorInfo } from '../../engine/api.ts';
import { isAbortError } from '../../llm/errors.ts';
import type { CompletionCheck, DialogueEvent, DialogueTurn, GuidanceScores, Dialogue } from '../../proactive/guidance.ts';
import type { PlanningResult } from '../../proactive/planning.ts';
import { checkMessage, estimateDensity, localJudge, type LocalJudgement, type MessageCheck } from '../../proactive/rules.ts';
import type { BackendKey } from '../proactive-client.svelte.ts';

export interface ArenaTurn {
  /** 1-based. */
  n: number;
  assistant: string;
  /** The local rule checks of the assistant message, computed when it completed. */
  rules: MessageCheck;
  /** Sub-target numbers the message touches by the local word-overlap estimate. */
  density: number[];
  /** undefined while the reply is pending; null when the conversation was ended instead. */
  user: string | null | undefined;
  check?: CompletionCheck;
}

export interface PlanState {
  running: boolean;
  /** The model's reply as it streams. */
  output: string;
  result: PlanningResult | null;
  error: ErrorInfo | null;
}

/** The judge's verdict on the dialogue as it stood after `afterTurn` turns. */
export interface RunningScore {
  afterTurn: number;
  scores: GuidanceScores;
}

export type SideStatus = 'idle' | 'running' | 'waiting' | 'ended' | 'cancelled' | 'error';

export class ArenaSide {
  plan = $state<PlanState | null>(null);
  turns = $state<ArenaTurn[]>([]);
  /** Text being streamed now: the model's next message or the simulated user's reply. */
  streaming = $state<{ who: 'assistant' | 'user'; text: string } | null>(null);
  status = $state<SideStatus>('idle');
  endedBy = $state<Dialogue['endedBy'] | null>(null);
  error = $state.raw<ErrorInfo | null>(null);
  /** The newest judge verdict that arrived. */
  score = $state.raw<RunningScore | null>(null);
  /** The turn the judge is reading now (null: idle). */
  judging = $state<number | null>(null);
  scoreError = $state.raw<ErrorInfo | null>(null);
  /** Who answered the model in the dialogue on screen, and whether a judge scored it (set when it starts). */
  userLabel = $state('You');
  judged = $state(false);
  /** The goal the dialogue steers toward (set when it starts). */
  goal = $state.raw<{ target: string; subTargets: string[]; from: 'reference' | 'plan' } | null>(null);

  /** Engagement, Naturalness and Tone by the local rules over the messages so far: partial by design. */
  readonly local: LocalJudgement = $derived(localJudge(this.turns.map((t) => t.assistant)));

  #judgeTicket = 0;
  #shownTicket = 0;

  constructor(
    readonly key: BackendKey,
    readonly label: string,
  ) {}

  /** The judge's per-message density when its latest verdict covers message `n`, else null. */
  judgeDensity(n: number): number[] | null {
    const density = this.score?.scores.density;
    return density?.method === 'judge' && density.touched.length >= n ? density.touched[n - 1] : null;
  }

  /** The completed turns as the proactive modules read them. */
  dialogueTurns(): DialogueTurn[] {
    return this.turns.filter((t) => t.user !== undefined).map((t) => ({ assistant: t.assistant, user: t.user ?? null, ...(t.check ? { check: t.check } : {}) }));
  }

  /** Follows runDialogue's events; returns true when a turn just completed (the user replied or ended it). */
  onEvent(event: DialogueEvent, subTargets: readonly string[]): boolean {
    switch (event.type) {
      case 'assistant-delta':
        if (this.streaming?.who !== 'assistant') this.streaming = { who: 'assistant', text: '' };
        this.streaming.text += event.delta;
        return false;
      case 'assistant':
        this.streaming = null;
        this.turns.push({ n: event.turn, assistant: event.text, rules: checkMessage(event.text), density: estimateDensity(event.text, subTargets).touched, user: undefined });
        return false;
      case 'user-delta':
        if (this.streaming?.who !== 'user') this.streaming = { who: 'user', text: '' };
        this.streaming.text += event.delta;
        return false;
      case 'user':
        this.streaming = null;
        this.#turn(event.turn).user = event.text;
        return true;
      case 'check':
        this.#turn(event.turn).check = event.check;
        return false;
    }
  }

  #turn(n: number): ArenaTurn {
    const turn = this.turns.find((t) => t.n === n);
    if (!turn) throw new Error(`Arena: no turn ${n} yet`);
    return turn;
  }

  /** Starts a judge call; only a verdict newer than the one shown replaces it. */
  async judge(score: (turns: DialogueTurn[]) => Promise<GuidanceScores>): Promise<void> {
    const turns = this.dialogueTurns();
    const ticket = ++this.#judgeTicket;
    this.judging = turns.length;
    try {
      const scores = await score(turns);
      if (ticket > this.#shownTicket) {
        this.#shownTicket = ticket;
        this.score = { afterTurn: turns.length, scores };
        this.scoreError = null;
      }
    } catch (err) {
      if (!isAbortError(err)) this.scoreError = errorInfo(err);
    } finally {
      if (this.#judgeTicket === ticket) this.judging = null;
    }
  }
}
