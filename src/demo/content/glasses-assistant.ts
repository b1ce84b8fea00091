// Glasses Assistant: the assistant lives in smart glasses, notices something around the user (or the
// user's own state) and helps them act on it right away.
import { GENERAL_HABITS } from './common.ts';
import type { DemoDomain } from './types.ts';

export const glassesAssistant: DemoDomain = {
  key: 'glasses_assistant',
  topics: [
    {
      id: 'rain',
      slots: { seen: 'it is starting to rain and {name} has no umbrella', seenYou: 'it is starting to rain and you have no umbrella', offer: 'the shop on the corner sells umbrellas', act: 'grab one there', detail: 'the rain will get heavier in ten minutes', done: 'buy an umbrella before the heavy rain', subject: 'the rain' },
    },
    {
      id: 'screen',
      slots: { seen: '{name} has looked at a screen for two hours without a break', seenYou: 'you have looked at the screen for two hours without a break', offer: 'a five-minute walk would rest your eyes', act: 'walk to the window and back', detail: 'your blinking has slowed down a lot in the last hour', done: 'take a short screen break now', subject: 'screen time' },
    },
    {
      id: 'bus',
      slots: { seen: "{name}'s bus leaves from the next stop in four minutes", seenYou: 'your bus leaves from the next stop in four minutes', offer: 'you can make it if you leave now', act: 'turn left at the corner', detail: 'the next bus only comes in thirty minutes', done: 'catch the bus in four minutes', subject: 'the bus' },
    },
    {
      id: 'menu',
      slots: { seen: '{name} is reading a menu in Italian', seenYou: 'you are reading a menu in Italian', offer: 'I can translate it for you', act: 'look at the dish at the top', detail: 'the first dish is pasta with lemon and fresh peas', done: 'choose a dish from the translated menu', subject: 'the menu' },
    },
    {
      id: 'friend',
      slots: { seen: '{friend}, an old friend of {name}, is across the street', seenYou: 'your old friend {friend} is across the street', offer: 'you could say hello', act: 'wave before the light turns green', detail: 'last month you said you miss {friend}', done: 'greet {friend} across the street', subject: 'an old friend' },
    },
    {
      id: 'pharmacy',
      slots: { seen: '{name} is walking past the pharmacy where a prescription is ready', seenYou: 'you are walking past the pharmacy, and your prescription is ready', offer: 'you can pick it up now', act: 'step inside for two minutes', detail: 'it closes early today, at five', done: 'pick up the prescription now', subject: 'the pharmacy' },
    },
    {
      id: 'tired',
      slots: { seen: '{name} has yawned six times in the last hour', seenYou: 'you have yawned six times in the last hour', offer: 'some fresh air would help', act: 'open the window for five minutes', detail: 'the room is warm and the air is stale', done: 'take a fresh air break', subject: 'tiredness' },
    },
    {
      id: 'sale',
      slots: { seen: 'a shop window shows the running shoes {name} wanted, at half price', seenYou: 'the shop window shows the running shoes you wanted, at half price', offer: 'you can still get them today', act: 'try on a pair in your size', detail: 'they have your size in stock', done: 'try on the shoes on sale', subject: 'a sale' },
    },
  ],
  habits: GENERAL_HABITS,
  trigger: ['Through the glasses you notice that {seen}.', 'The glasses show that {seen}.'],
  goal: 'Get {name} to {done}',
  subTargets: ['Point out what the glasses noticed', 'Suggest one quick action', 'Confirm that {name} acts on it'],
  topic: 'Glasses: {subject}',
  opener: [
    '{name}, heads up: {seenYou}. {Offer}.',
    'Quick one, {name}: {seenYou}. Good news, {offer}.',
    '{name}, {seenYou}. {Offer}, and it only takes a minute.',
    'Hey {name}, before you head back to {work}: {seenYou}. {Offer}.',
  ],
  replies: [
    {
      yes: ['Oh, thanks! What should I do?', 'Really? Okay, tell me.', 'Good catch, what now?'],
      doubt: ["I'm fine, I'm in a hurry.", "Not now, I'm busy.", 'Does it really matter?'],
    },
    {
      yes: ['Okay, doing it now.', 'Done, thanks!'],
      doubt: ["Fine, if it's quick.", 'Hmm, okay, one minute.'],
    },
  ],
  steps: [
    {
      yes: ['{Act}, {name}. {Detail}.', 'Easy, {name}: {act}. {Detail}, so now is the best moment.', 'Here is how, {name}: {act}. {Detail}.'],
      doubt: ['Worth it, {name}: {detail}. Just {act}.', 'Quick reason, {name}: {detail}. {Act}, it only takes a moment.', 'Only a minute, {name}. {Detail}, so {act}.'],
    },
    {
      yes: [
        'Great, {name}! I will keep watching and tell you if anything changes.',
        'Nice one, {name}. Now enjoy the rest of your day at {work}.',
        'Well done, {name}. Now you are ready for the rest of your day.',
      ],
      doubt: [
        'It will be quick, {name}, I promise. I will tell you when you are done.',
        'Thanks, {name}. One minute now saves you trouble later at {work}.',
        'Good choice, {name}. Now you can get back to {task} without worry.',
      ],
    },
  ],
  generic: [
    'It is good to pay attention to your surroundings.',
    'You should always be prepared for anything.',
    'Taking care of yourself is important.',
    'There are many useful things around you.',
    'Let me know if you want any help.',
    'Things like {subject} happen to everyone.',
  ],
  passive: [
    'It seems like something is going on around you.',
    'It looks like you might need something.',
    'I can see that you are busy.',
  ],
};
