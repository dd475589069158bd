/**
 * Property-based: whatever invalid value an option or a hand-edited `.yo-rc.json` carries, the run
 * fails with one message naming it, and the stack folder is byte for byte as it was.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { checkOne, validateAnswers } from '../generators/app/config.js';
import { applies, QUESTIONS, type Answers, type Question } from '../generators/app/questions.js';
import { failureOf, freshDir, generate, treeState } from './helpers/stack.js';

const questions = QUESTIONS as readonly Question[];
const { answers: defaults } = validateAnswers({});

/** A stack with the defaults; each run works on a copy. */
let base: string;
beforeAll(async () => {
  base = freshDir();
  await generate({}, base);
});
const copyOfBase = () => {
  const dir = freshDir();
  cpSync(base, dir, { recursive: true });
  return dir;
};

/** Questions that apply to the default stack: an invalid value for any of them must be refused. */
const applicable = questions.filter((q) => applies(q, defaults) && q.name !== 'dbMode');

/** Text a user could type for an option; the generator's own check decides whether it is invalid. */
const optionText = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.integer({ min: -100_000, max: 100_000 }).map(String),
  fc.constantFrom('', ' ', 'yes please', '3.5', '-1', '0', 'NaN', '../x', 'a b'),
);
const invalidFor = (q: Question, value: unknown, exact = false) => 'problem' in checkOne(q, value, defaults as Partial<Answers>, exact);

it('an invalid option value: one error naming the option, the folder unchanged', async () => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...applicable), optionText, async (q, value) => {
      fc.pre(invalidFor(q, value));
      const dir = copyOfBase();
      const before = treeState(dir);
      const message = await failureOf(generate({ force: false, [q.option]: value }, dir));
      expect(message).toMatch(new RegExp(`--${q.option} \\(${q.name}\\)`));
      expect(message).toMatch(/^Invalid configuration\. Nothing was written:/);
      expect(treeState(dir)).toEqual(before);
    }),
    { numRuns: 40 },
  );
});

/** Any JSON value (JSON has no Infinity or NaN); for a key of `.yo-rc.json`, the exact-type check decides whether it is invalid. */
const jsonValue = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.integer(),
  fc.double({ noDefaultInfinity: true, noNaN: true }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 1 }),
);

it('a hand-edited .yo-rc.json with a wrong value or type: one error naming the key, the folder unchanged', async () => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...applicable), jsonValue, async (q, value) => {
      fc.pre(value !== null && invalidFor(q, value, true));
      const dir = copyOfBase();
      const yoRcPath = join(dir, '.yo-rc.json');
      const yoRc = JSON.parse(readFileSync(yoRcPath, 'utf8'));
      yoRc['generator-grafana-ha'][q.name] = value;
      writeFileSync(yoRcPath, JSON.stringify(yoRc, null, 2));
      const before = treeState(dir);
      const message = await failureOf(generate({ force: false }, dir));
      expect(message).toMatch(new RegExp(`\\.yo-rc\\.json: --${q.option} \\(${q.name}\\)`));
      expect(treeState(dir)).toEqual(before);
    }),
    { numRuns: 40 },
  );
});

it('an unknown key in .yo-rc.json: one error naming it, the folder unchanged', async () => {
  await fc.assert(
    fc.asyncProperty(fc.stringMatching(/^[a-z][A-Za-z]{2,12}$/), jsonValue, async (key, value) => {
      fc.pre(!questions.some((q) => q.name === key) && !['etcdFoundingMembers', 'etcdDataDir'].includes(key));
      const dir = copyOfBase();
      const yoRcPath = join(dir, '.yo-rc.json');
      const yoRc = JSON.parse(readFileSync(yoRcPath, 'utf8'));
      yoRc['generator-grafana-ha'][key] = value;
      writeFileSync(yoRcPath, JSON.stringify(yoRc, null, 2));
      const before = treeState(dir);
      expect(await failureOf(generate({ force: false }, dir))).toContain(`unknown setting "${key}"`);
      expect(treeState(dir)).toEqual(before);
    }),
    { numRuns: 15 },
  );
});
