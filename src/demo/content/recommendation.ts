// Recommendation: the assistant enjoyed something itself and recommends it to a user whose habits fit.
// All titles and places are invented for Student Lab.
import type { DemoDomain } from './types.ts';

export const recommendation: DemoDomain = {
  key: 'recommendation',
  topics: [
    {
      id: 'book',
      slots: { noun: 'book', verb: 'read', past: 'read', ease: 'the chapters are short' },
      groups: [[
        { item: 'The Quiet Lake', about: 'a gentle mystery set in a seaside town' },
        { item: 'Salt and Stars', about: 'a warm story about a lighthouse keeper' },
        { item: 'The Last Train North', about: 'a fast thriller that starts on a night train' },
        { item: 'A Year of Small Gardens', about: 'a cheerful diary of a city garden' },
        { item: 'The Clockmaker', about: 'a cosy tale about a shop full of old clocks' },
        { item: 'Blue Hill Road', about: 'a funny story about three friends on a road trip' },
        { item: 'Paper Boats', about: 'a short novel about two sisters by a river' },
        { item: 'The Map Room', about: 'an adventure about a lost map and a brave kid' },
      ]],
      habits: ['reading on the train', 'reading before bed', 'sitting in the park at lunch', 'drinking tea on the balcony', 'taking the bus to work'],
    },
    {
      id: 'film',
      slots: { noun: 'film', verb: 'watch', past: 'watched', ease: 'it is only ninety minutes long' },
      groups: [[
        { item: 'Northern Lights', about: 'a calm film about a road trip across Norway' },
        { item: 'The Bakers of Rue Blanche', about: 'a sweet comedy about a family bakery' },
        { item: 'Ten Floors Up', about: 'a clever thriller set in one building' },
        { item: 'Moon Garden', about: 'a kind cartoon about a girl and a robot' },
        { item: 'The Long Swim', about: 'a true story about a woman who swam across a lake' },
        { item: 'Five Dogs and a Van', about: 'a silly comedy about a dog walker' },
      ]],
      habits: ['watching films on Friday nights', 'relaxing on the sofa after work', 'making pizza at the weekend', 'having movie nights with friends'],
    },
    {
      id: 'podcast',
      slots: { noun: 'podcast', verb: 'listen to', past: 'listened to', ease: 'each episode is twenty minutes' },
      groups: [[
        { item: 'Small Wins', about: 'a friendly show about tiny daily habits' },
        { item: 'The History Walk', about: 'short stories from old city streets' },
        { item: 'Kitchen Science', about: 'a fun show about why recipes work' },
        { item: 'Night Sky Notes', about: 'a calm show about the stars' },
        { item: 'Money Made Simple', about: 'a show with clear tips for saving money' },
        { item: 'Strange Animals', about: 'a funny show about odd animals' },
      ]],
      habits: ['walking to work', 'jogging in the evening', 'cooking dinner every night', 'cycling to work', 'washing the dishes after dinner'],
    },
    {
      id: 'recipe',
      slots: { noun: 'recipe', verb: 'cook', past: 'cooked', ease: 'it takes only thirty minutes' },
      groups: [[
        { item: 'lemon rice with peas', about: 'a bright and easy one-pot dish' },
        { item: 'a red lentil soup', about: 'a warm soup with ginger and lime' },
        { item: 'roast chicken with carrots', about: 'a simple dinner cooked on one tray' },
        { item: 'banana oat pancakes', about: 'soft pancakes with no added sugar' },
        { item: 'a chickpea curry', about: 'a mild curry with spinach and coconut' },
        { item: 'a tomato and bean stew', about: 'a cheap stew that keeps for days' },
      ]],
      habits: ['cooking on Sundays', 'packing lunch for work', 'trying new spices', 'eating dinner late after work'],
    },
    {
      id: 'place',
      slots: { noun: 'place', verb: 'visit', past: 'visited', ease: 'it is open late on weekdays' },
      groups: [[
        { item: 'the Green Lantern café', about: 'a quiet café with big windows and good soup' },
        { item: 'the river market', about: 'a Saturday market with fresh bread and flowers' },
        { item: 'the old mill museum', about: 'a small museum with a working water wheel' },
        { item: 'the Hill Park rose garden', about: 'a calm garden with benches in the shade' },
        { item: 'the climbing hall on Station Road', about: 'an indoor climbing place with easy walls' },
        { item: 'the lake trail', about: 'a flat path of six kilometres around the lake' },
      ]],
      habits: ['walking the dog at weekends', 'meeting friends on Saturdays', 'taking photos of the city', 'going for long walks'],
    },
    {
      id: 'game',
      slots: { noun: 'game', verb: 'play', past: 'played', ease: 'one round takes twenty minutes' },
      groups: [[
        { item: 'Harbour Lights', about: 'a board game about building a small port' },
        { item: 'Word Garden', about: 'a relaxed word game for two' },
        { item: 'Sky Trains', about: 'a card game about building rail lines' },
        { item: 'Fox and Hens', about: 'a quick strategy game for families' },
      ]],
      habits: ['hosting game nights', 'playing cards with family', 'doing puzzles in the evening', 'solving the daily crossword'],
    },
  ],
  habits: [],
  trigger: ['You just {past} {item}, {about}, and loved it.', 'Last night you {past} {item} and enjoyed it a lot.'],
  goal: 'Get {name} to {verb} {item}',
  subTargets: ['Share your own {noun} tip with {name}', 'Link the tip to the habits of {name}', 'Agree on a day to {verb} it'],
  topic: '{Noun} tip: {item}',
  opener: [
    '{name}, I just {past} {item} and loved it. Since you enjoy {habit}, I think you would too!',
    'Hi {name}! I {past} {item} last night, and it suits your love of {habit}.',
    '{name}, a {noun} tip for you: {item}. It fits your love of {habit}.',
    'Hey {name}, I {past} {item} and it is great. You love {habit}, so try it too!',
  ],
  replies: [
    {
      yes: ['Oh, what is it about?', 'Nice, tell me more!', 'Sounds fun. What kind of {noun} is it?', 'Really? Why do you like it?'],
      doubt: ["I don't know, I'm pretty busy right now.", "Hmm, I'm not sure it's my thing.", 'Maybe, but I rarely have time for that.'],
    },
    {
      yes: ['Okay, that sounds good.', 'Alright, I might try it.', 'Nice, when should I start?'],
      doubt: ['Maybe, but when would I fit it in?', 'I guess, but I always forget these things.'],
    },
  ],
  steps: [
    {
      yes: [
        '{name}, it is {about}, and {ease}.',
        '{Item} is {about}, a nice break after a day at {work}.',
        'Good question: it is {about}. Perfect for {aJob} like you, {name}.',
      ],
      doubt: [
        'Fair enough, {name}, but {ease}. An easy break after a day at {work}.',
        'No pressure, {name}. {Ease}, so it fits even a busy week.',
        'Totally fair, {name}. Still, {ease}, so it will not eat your evening.',
      ],
    },
    {
      yes: [
        'Great, {name}! {Verb} it on {day} evening and tell me what you think.',
        'Perfect, {name}: try it on {day} after work and let me know.',
        'Then {day} it is, {name}. Tell me your favourite part!',
      ],
      doubt: [
        "Let's make it easy, {name}: {verb} it on {day}, and I will remind you.",
        'Put it on {day}, {name}, and I will send you a reminder at six.',
        'Try it on {day}, {name}, and I will remind you so you do not forget.',
      ],
    },
  ],
  generic: [
    'There are many good {noun}s out there for everyone.',
    'A good {noun} can be a nice way to relax.',
    'You could ask your friends what they like.',
    'Trying new things is often good for you.',
    'Maybe you could {verb} something new this week.',
    'Many people enjoy {item}, so you might like it too.',
    'It is always nice to have something to look forward to.',
  ],
  passive: [
    'It sounds like you need something new to enjoy.',
    'I understand that finding a good {noun} can be hard.',
    'It seems like you might be a bit bored lately.',
  ],
};
