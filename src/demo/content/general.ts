// General chat for the language-modelling (SFT) stage: a user asks, the assistant answers — briefly
// and directly in the good style, or in the bad style built from the generic lines. Gives the base
// models everyday words, numbers and a little non-English text beyond the proactive scenarios.
import type { Rng } from '../../engine/rng.ts';
import type { Slots } from '../template.ts';

export interface GeneralTopic {
  id: string;
  /** One entry of each group is drawn per example. */
  groups?: readonly (readonly Slots[])[];
  /** Slots computed per example (numbers). */
  compute?: (rng: Rng) => Slots;
  question: readonly string[];
  answer: readonly string[];
  /** Bad style: vague lines that dodge the question. */
  generic: readonly string[];
}

const int = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng.next() * (hi - lo + 1));

export const GENERAL_SYSTEM = 'You are a helpful assistant, talking with {name}.';

export const GENERAL_TOPICS: readonly GeneralTopic[] = [
  {
    id: 'cook',
    groups: [[
      { ing1: 'eggs', ing2: 'spinach' }, { ing1: 'potatoes', ing2: 'onions' }, { ing1: 'beans', ing2: 'tomatoes' },
      { ing1: 'mushrooms', ing2: 'rice' }, { ing1: 'peppers', ing2: 'cheese' }, { ing1: 'tofu', ing2: 'noodles' },
      { ing1: 'chicken', ing2: 'carrots' }, { ing1: 'pasta', ing2: 'peas' },
    ]],
    question: ['What can I cook tonight with {ing1} and {ing2}?', 'I only have {ing1} and {ing2} at home. Any dinner idea?'],
    answer: [
      'Cook the {ing1} with the {ing2} in one pan, with a little garlic and salt. Dinner is ready in about fifteen minutes.',
      'Make a quick pan of {ing1} and {ing2}, and serve it with bread. It takes about fifteen minutes.',
    ],
    generic: ['There are many recipes you could try.', 'Cooking at home is usually healthy.', 'You could look for ideas in a cookbook.'],
  },
  {
    id: 'walk',
    groups: [[
      { km: 'one kilometre', time: 'about twelve minutes' }, { km: 'two kilometres', time: 'about twenty-five minutes' },
      { km: 'three kilometres', time: 'about thirty-five minutes' }, { km: 'five kilometres', time: 'about an hour' },
      { km: 'ten kilometres', time: 'about two hours' },
    ]],
    question: ['How long does it take to walk {km}?', 'If I walk {km}, how long will it take?'],
    answer: ['{Time} at a normal pace, a bit less if you walk fast.', 'Plan {time} at an easy pace.'],
    generic: ['Walking is a great way to stay healthy.', 'It depends on many things.', 'Everyone walks at a different speed.'],
  },
  {
    id: 'thanks',
    groups: [[
      { lang: 'Spanish', word: 'gracias' }, { lang: 'French', word: 'merci' }, { lang: 'German', word: 'danke' },
      { lang: 'Italian', word: 'grazie' }, { lang: 'Japanese', word: 'arigatō (ありがとう)' }, { lang: 'Greek', word: 'efcharistó (ευχαριστώ)' },
      { lang: 'Portuguese', word: 'obrigado' }, { lang: 'Swedish', word: 'tack' }, { lang: 'Polish', word: 'dziękuję' },
    ]],
    question: ['How do I say thank you in {lang}?', 'What is "thank you" in {lang}?'],
    answer: ['In {lang} you say "{word}". People will be glad you tried!', '"{Word}" is thank you in {lang}.'],
    generic: ['Learning languages is a lot of fun.', 'There are many ways to say thank you.', 'You could use a translation app.'],
  },
  {
    id: 'water-plants',
    groups: [[{ plant: 'tomatoes' }, { plant: 'basil' }, { plant: 'roses' }, { plant: 'a lemon tree' }, { plant: 'strawberries' }, { plant: 'my lawn' }]],
    question: ['When should I water {plant}?', 'What time of day is best to water {plant}?'],
    answer: ['Early in the morning, before the sun gets strong. The water then reaches the roots instead of drying up.', 'Water {plant} early in the morning, and check the soil with a finger first.'],
    generic: ['Plants need care and attention.', 'Gardening can be very relaxing.', 'Every plant is a little different.'],
  },
  {
    id: 'pack',
    groups: [[
      { place: 'the beach', things: 'sun cream, a hat and plenty of water' }, { place: 'the mountains', things: 'a warm layer, a rain jacket and snacks' },
      { place: 'a city trip', things: 'comfy shoes, a power bank and a small bag' }, { place: 'a picnic', things: 'a blanket, fruit and cold drinks' },
      { place: 'a long train ride', things: 'a book, headphones and a bottle of water' },
    ]],
    question: ['What should I pack for {place}?', 'Any packing tips for {place}?'],
    answer: ['Pack {things}. Keep the bag light so you can move easily.', 'Bring {things}, and you are set.'],
    generic: ['Packing can be stressful.', 'It is good to be prepared.', 'You might want to make a list.'],
  },
  {
    id: 'sum',
    compute: (rng) => {
      const a = int(rng, 2, 99);
      const b = int(rng, 2, 99);
      return { a: `${a}`, b: `${b}`, sum: `${a + b}` };
    },
    question: ['What is {a} plus {b}?', 'Can you add {a} and {b} for me?'],
    answer: ['{a} plus {b} is {sum}.', 'That makes {sum}.'],
    generic: ['Maths can be tricky sometimes.', 'Numbers are everywhere in daily life.', 'You could use a calculator for this.'],
  },
  {
    id: 'product',
    compute: (rng) => {
      const a = int(rng, 2, 12);
      const b = int(rng, 2, 12);
      return { a: `${a}`, b: `${b}`, prod: `${a * b}` };
    },
    question: ['What is {a} times {b}?', 'Quick one: {a} × {b}?'],
    answer: ['{a} × {b} = {prod}.', '{a} times {b} is {prod}.'],
    generic: ['Times tables take practice.', 'Maths can be tricky sometimes.', 'You could use a calculator for this.'],
  },
  {
    id: 'remind',
    groups: [[{ who: 'Anna' }, { who: 'my brother' }, { who: 'the landlord' }, { who: 'Grandma' }, { who: 'the dentist' }, { who: 'Omar' }], [{ day: 'Monday' }, { day: 'Thursday' }, { day: 'Saturday' }], [{ hour: 'nine' }, { hour: 'noon' }, { hour: 'six' }]],
    question: ['Can you remind me to call {who} on {day}?', 'Please remind me to call {who} on {day} at {hour}.'],
    answer: ['Done! I will remind you on {day} at {hour} to call {who}.', 'Sure, a reminder to call {who} is set for {day} at {hour}.'],
    generic: ['Reminders can be very useful.', 'It is easy to forget things when you are busy.', 'Calling people is a nice thing to do.'],
  },
  {
    id: 'word',
    groups: [[
      { word: 'cosy', meaning: 'warm, comfortable and relaxing' }, { word: 'brisk', meaning: 'quick and full of energy' },
      { word: 'tidy', meaning: 'neat and in order' }, { word: 'fragile', meaning: 'easy to break' },
      { word: 'curious', meaning: 'keen to learn about something' }, { word: 'humble', meaning: 'not proud, modest' },
      { word: 'café', meaning: 'a small place that sells coffee and light meals' },
    ]],
    question: ['What does "{word}" mean?', 'Can you explain the word "{word}"?'],
    answer: ['"{word}" means {meaning}.', 'It means {meaning}.'],
    generic: ['Words can have many meanings.', 'A dictionary is a good place to look.', 'English has a lot of words.'],
  },
  {
    id: 'tired',
    question: ['I feel tired every afternoon. Any tip?', 'Why am I so sleepy after lunch?'],
    answer: [
      'Take a ten-minute walk after lunch and drink a glass of water. Both help more than another coffee.',
      'A big lunch makes you sleepy, so try a lighter one and a short walk after it.',
    ],
    generic: ['Many people feel tired sometimes.', 'Rest is important for everyone.', 'There can be many reasons for this.'],
  },
  {
    id: 'greeting',
    groups: [[{ hi: 'Hi!' }, { hi: 'Hello there.' }, { hi: 'Good morning!' }, { hi: 'Hey, how are you?' }]],
    question: ['{hi}'],
    answer: ['Hi! Doing well, thanks. What can I help you with today?', 'Hello! Ready when you are: what is on your mind?'],
    generic: ['Talking to people is nice.', 'Every day is different.', 'I am here for you.'],
  },
];
