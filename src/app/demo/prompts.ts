// The prompts the Arena gives a demo model: the demo models were trained on the demo's short
// guidance prompts (DEMO_PROMPTS, sized for their 256-token context), so those templates replace the
// person's; every other template (judge, simulated user) stays as the person set it.
import { DEMO_PROMPTS } from '../../demo/corpus.ts';
import { PROMPT_IDS, type PromptSet } from '../../proactive/prompts.ts';

export function withDemoPrompts(prompts: PromptSet): PromptSet {
  return Object.fromEntries(PROMPT_IDS.map((id) => [id, DEMO_PROMPTS[id].edited ? DEMO_PROMPTS[id] : prompts[id]])) as PromptSet;
}
