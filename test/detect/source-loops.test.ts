import { describe, expect, it } from 'vitest'
import { sourceOffsetInLoop } from '../../src/detect/source-loops.js'

/** Whether the `Q(` call in `source` counts as inside a loop of its own function. */
const inLoop = (source: string): boolean => sourceOffsetInLoop(source, source.indexOf('Q('))

describe('which frame is the loop (source reading)', () => {
  it.each([
    ['for (const id of ids) { await Q(id) }', true],
    ['for await (const row of rows) { await Q(row) }', true],
    ['for (let i = 0; i < n; i++) await Q(i)', true],
    ['for (const id of ids) await Q(id)\nawait R()', true],
    ['while (more) { more = await Q() }', true],
    ['while ((row = await Q())) {}', true],
    ['do { await Q() } while (x)\nawait R()', true],
    ['ids.map((id) => Q(id))', true],
    ['await Promise.all(ids.map(async (id) => { await Q(id) }))', true],
    ['ids.forEach(function (id) { Q(id) })', true],
    ['Array.from({ length: 3 }, (_, i) => Q(i))', true],
    ['for (;;) { const s = `a${x}b${ {a: 1}.a }`; await Q(s) }', true],
    ['while (true) { const r = /[/]x/g; await Q() }', true],
    ['for (const p of posts) {\n  const a = p.x ? f(p) : { y: await Q(p) }\n}', true],

  ])('inside a loop: %s', (source, expected) => {
    expect(inLoop(source)).toBe(expected)
  })

  it.each([
    ['for (const id of await Q()) { }', false],
    ['for (const id of ids) await f(id)\nawait Q()', false],
    ['do { await R() } while (x)\nawait Q()', false],
    ['it("x", async () => { await Q(1) })', false],
    ['for (const d of ds) { it("x", async () => { await Q(1) }) }', false],
    ['async function f(id: number): Promise<void> { await Q(id) }', false],
    ['function g() { return Q() }\nfor (const x of xs) g()', false],
    ['for (const x of xs) { await db.transaction().execute(async (trx) => { await Q(trx) }) }', false],
    // A callback without braces is a function like any other (the bracket scanner read it as part of its
    // caller): the loop's frame is the caller's, at the `await db.transaction()` line (see async-loops.test.ts).
    ['for (const x of xs) { await db.transaction().execute((trx) => Q(trx)) }', false],
    ["const s = 'for (x) {'\nawait Q()", false],
    ['// for (const x of xs) {\nawait Q()', false],
    ['/* while (true) { */ await Q()', false],
    ['class A { async m(ids: number[]) { return Q(ids) } }', false],
  ])('not inside a loop of its own function: %s', (source, expected) => {
    expect(inLoop(source)).toBe(expected)
  })
})

/** Whether the position of the first `marker` in `source` counts as inside a loop of its own function. */
const inLoopAt = (source: string, marker: string, file?: string): boolean => {
  const offset = source.indexOf(marker)
  if (offset < 0) throw new Error(`no ${marker} in ${source}`)
  return sourceOffsetInLoop(source, offset, file)
}

describe('which frame is the loop (parsed, where a bracket scanner goes wrong)', () => {
  it.each([
    // JSX: text with quotes and braces, and callbacks inside elements.
    ['const list = <ul>{items.map((it) => <li key={it.id}>{Q(it)}</li>)}</ul>', 'Q(', true],
    ["const hint = <p>Don't stop</p>\nfor (const x of xs) await Q(x)", 'Q(', true],
    ["const hint = <p>for (x) {'{'} while</p>\nawait Q()", 'Q(', false],
    ['const el = <Row render={() => Q()} />\nfor (const x of xs) f(x)', 'Q(', false],
    ["const names = items.map((it) => <li>{it.name}'s</li>)\nawait Q()", 'Q(', false],
    ['const links = ids.map((id) => <a>http://x/{id}</a>)\nawait Q()', 'Q(', false],
    ['const list = items.map((it) => <li>a) {Q(it)}</li>)', 'Q(', true],
    // Type arguments on the iteration call, and generic arrows.
    ['ids.map<Promise<User>>((id) => Q(id))', 'Q(', true],
    ['await Promise.all(ids.map<number>(async (id) => { await Q(id) }))', 'Q(', true],
    ['ids.forEach(<T,>(id: T) => Q(id))', 'Q(', true],
    ['const f = <T,>(x: T): Promise<T> => Q(x)\nfor (const x of xs) await f(x)', 'Q(', false],
    // Callbacks without braces are functions: a test registered per item runs once, from its own frame.
    ["for (const d of ds) it('x', () => Q(d))", 'Q(', false],
    ['for (const t of tables) hooks.push(() => Q(t))', 'Q(', false],
    ['ids.forEach((id) => void Q(id))', 'Q(', true],
    ['const rows = ids.flatMap((id) => id > 0 ? [Q(id)] : [])', 'Q(', true],
    // for await: the iterable is read once, the body (braces or not) per element.
    ['for await (const row of Q()) { }', 'Q(', false],
    ['for await (const row of rows) await Q(row)\nawait R()', 'Q(', true],
    ['for await (const row of rows) f(row)\nawait Q()', 'Q(', false],
    // The parts of a `for` that run per iteration, and the one that runs once.
    ['for (let i = 0; await Q(i); i++) {}', 'Q(', true],
    ['for (let i = await Q(); i < n; i++) {}', 'Q(', false],
    ['for (const { a = Q() } of rows) {}', 'Q(', true],
    // A function defined in a loop body is its own function.
    ['for (const x of xs) { const o = { m() { return Q() } } }', 'Q(', false],
    ['while (x) { class A { m() { return Q() } } }', 'Q(', false],
    // Async helpers: V8 shows the loop as the `await` of the caller.
    ['for (const id of ids) { await helper(id) }', 'await helper', true],
    ['await Promise.all(ids.map((id) => helper(id)))', 'await', true],
    ['const users = await Promise.allSettled(ids.map(helper))', 'await', true],
    ['const pending = ids.map((id) => helper(id))\nawait Promise.all(pending)', 'await', true],
    ['await Promise.all(ids.map(async (id) => { await x; await helper(id) }))', 'await helper', true],
    // A list written out is as many calls as it holds (a bounded answer, see false-positives.test.ts), not a loop over data.
    ['await Promise.all([a(), b()])', 'await', true],
    // Lookups named like array methods are loops only with a function written in their arguments.
    ['const u = await users.find(id)', 'find(', false],
    ['const u = await Items.from(row)', 'from(', false],
    ['const hit = rows.find((r) => Q(r))', 'Q(', true],
    ['const ok = await Promise.all(ids.filter(function (id) { return Q(id) }))', 'Q(', true],
    ['const users = await Promise.all(ids.map(load))', 'map(', true],
    ['const pending = [a(), b()]\nawait Promise.all(pending)', 'await', false],
    // Promises pushed in a loop of the same function, then awaited together.
    ['const pending = []\nfor (const id of ids) pending.push(helper(id))\nawait Promise.all(pending)', 'await', true],
    ['const pending = []\npending.push(a())\npending.push(b())\nawait Promise.all(pending)', 'await', false],
    ['const pending = []\nfor (const id of ids) pending.push(helper(id))\nawait Promise.all(others)', 'await', false],
    ['await Promise.all(ids.map((id) => helper(id)))\nawait Q()', 'Q(', false],
    // The callee of an iteration call is where V8 points when `map` calls a named function.
    ['const users = ids.map(loadUser)', 'map', true],
    ['const users = ids.map(Q(x))', 'Q(', false],
  ])('%s (at %s): %s', (source, marker, expected) => {
    expect(inLoopAt(source, marker)).toBe(expected)
  })

  it('reads a file by its extension: a .ts file with `<T>x` casts, a .js file with JSX', () => {
    const ts = 'for (const id of ids) { const n = <number>id; await Q(n) }'
    expect(inLoopAt(ts, 'Q(', 'service.ts')).toBe(true)
    const jsx = 'export const List = ({ items }) => <ul>{items.map((it) => <li>{Q(it)}</li>)}</ul>'
    expect(inLoopAt(jsx, 'Q(', 'list.js')).toBe(true)
  })

  it('answers "not in a loop" for text that does not parse', () => {
    expect(inLoopAt('for (const x of xs) { f( }\nawait Q()', 'Q(')).toBe(false)
  })
})
