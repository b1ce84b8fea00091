// Shared slot lists of the demo corpus: the people, their jobs, days, general habits, and the raw
// material of the bad style that is not specific to a domain. All text written for Student Lab.

/** First names; a few carry accents so the corpus exercises multi-byte UTF-8. */
export const NAMES: readonly string[] = [
  'Maya', 'Leo', 'Sara', 'Omar', 'Nina', 'Tom', 'Aisha', 'Ben', 'Clara', 'Diego', 'Emma', 'Farid', 'Grace', 'Hugo',
  'Ines', 'Jonas', 'Kira', 'Liam', 'Mei', 'Noah', 'Olga', 'Pablo', 'Priya', 'Quinn', 'Rosa', 'Sam', 'Tara', 'Umar',
  'Vera', 'Wes', 'Yara', 'Zoe', 'Ada', 'Boris', 'Chen', 'Dana', 'Eli', 'Fatima', 'Gus', 'Hana', 'Ivan', 'Jade', 'Kofi',
  'Lena', 'Mateo', 'Nadia', 'Oscar', 'Paula', 'Ravi', 'Sofia', 'Theo', 'Uma', 'Victor', 'Yusuf', 'Zara', 'Anna', 'Karim',
  'Lucy', 'Marco', 'Rita', 'José', 'Zoë', 'Chloé', 'Søren',
];

export interface Job {
  /** The job as a noun ("nurse"). */
  job: string;
  /** Where it is done, after "at" ("the hospital"). */
  work: string;
  /** Something the person works on, after "get back to" ("your shift notes"). */
  task: string;
}

export const JOBS: readonly Job[] = [
  { job: 'nurse', work: 'the hospital', task: 'your shift notes' },
  { job: 'teacher', work: 'school', task: 'your lesson plans' },
  { job: 'baker', work: 'the bakery', task: 'the bread orders' },
  { job: 'chef', work: 'the restaurant', task: 'the new menu' },
  { job: 'engineer', work: 'the plant', task: 'the project report' },
  { job: 'cashier', work: 'the supermarket', task: 'the stock list' },
  { job: 'farmer', work: 'the farm', task: 'the harvest plan' },
  { job: 'designer', work: 'the studio', task: 'the new poster' },
  { job: 'librarian', work: 'the library', task: 'the book list' },
  { job: 'mechanic', work: 'the garage', task: 'the repair notes' },
  { job: 'lawyer', work: 'the office', task: 'the contract' },
  { job: 'student', work: 'college', task: 'your homework' },
  { job: 'pilot', work: 'the airport', task: 'the flight plan' },
  { job: 'vet', work: 'the clinic', task: 'the patient files' },
  { job: 'gardener', work: 'the park', task: 'the planting plan' },
  { job: 'accountant', work: 'the firm', task: 'the tax report' },
  { job: 'pharmacist', work: 'the pharmacy', task: 'the stock order' },
  { job: 'barista', work: 'the café', task: 'the weekly rota' },
  { job: 'carpenter', work: 'the workshop', task: 'the cost estimate' },
  { job: 'writer', work: 'the library', task: 'your next chapter' },
  { job: 'journalist', work: 'the newsroom', task: 'your article' },
  { job: 'dentist', work: 'the practice', task: 'the appointment list' },
  { job: 'electrician', work: 'the building site', task: 'the job quotes' },
  { job: 'tailor', work: 'the shop', task: 'the order list' },
  { job: 'firefighter', work: 'the fire station', task: 'the training plan' },
  { job: 'scientist', work: 'the lab', task: 'the lab report' },
  { job: 'programmer', work: 'the office', task: 'the code review' },
  { job: 'bus driver', work: 'the depot', task: 'the route plan' },
  { job: 'shop owner', work: 'your shop', task: 'the price list' },
  { job: 'photographer', work: 'the studio', task: 'the photo edits' },
];

export const DAYS: readonly string[] = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

/** Habits (gerund phrases) for domains where the habit is background, not the subject. */
export const GENERAL_HABITS: readonly string[] = [
  'cycling at the weekend', 'playing football on Sundays', 'cooking for friends', 'working in the garden',
  'reading before bed', 'swimming on Wednesdays', 'walking the dog every morning', 'doing yoga at home',
  'baking bread on Sundays', 'playing the guitar in the evening', 'taking photos on long walks', 'visiting family on Sundays',
  'running by the river', 'singing in a choir', 'painting at the weekend', 'fixing old bikes',
];

/** "a nurse", "an engineer". */
export function withArticle(noun: string): string {
  return `${/^[aeiou]/i.test(noun) ? 'an' : 'a'} ${noun}`;
}

// ---------------------------------------------------------------------------------------------
// Bad-style material shared by all domains.

/** Passive openers (each must trip the Tone rule of src/proactive/rules.ts). */
export const PASSIVE_OPENERS: readonly string[] = [
  'It sounds like you have a lot going on right now.',
  'I understand that things can be busy.',
  'It seems like you could use some help.',
  'I can see that this is not easy.',
  'That sounds like a lot to deal with.',
  "I'm sorry to hear that things are hard.",
  'It must be hard to find the time.',
  'I hear you, life gets busy sometimes.',
];

/** Filler for long-winded messages. */
export const FILLER: readonly string[] = [
  'Everyone is different, so take your time.',
  'In the end, it is really up to you.',
  'There is no right or wrong answer here.',
  'Let me know if you have any other questions.',
  'I hope this helps you in some way.',
  'It is always good to think about these things.',
  'Many people feel the same way at times.',
  'Of course, you know your own life best.',
  'There are many things to consider here.',
];

/** Leaked planning words around a good message (`{k}` is the step number, `{good}` the message). */
export const LEAK_TEMPLATES: readonly string[] = [
  'Turn {k}: {good}',
  'My target here: {goal}. {good}',
  '{good} That covers sub-target {k}.',
  '(Sub-target {k}) {good}',
  'Round {k}. {good}',
  'Target: {goal}. {good}',
  '{good} Next turn {n} I will move on.',
];

/** The user's last words and the assistant's answer, for several turns written in one message after the final step. */
export const CLOSING_REPLIES: readonly string[] = ['Okay, will do!', 'Thanks, sounds good.', 'Alright, deal.'];
export const CLOSING_ANSWERS: readonly string[] = ['Great, talk soon, {name}!', 'Happy to help, {name}!', 'Perfect, enjoy your day!'];
