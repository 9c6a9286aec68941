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
    ['for (const x of xs) { await db.transaction().execute((trx) => Q(trx)) }', true],
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
    ["const s = 'for (x) {'\nawait Q()", false],
    ['// for (const x of xs) {\nawait Q()', false],
    ['/* while (true) { */ await Q()', false],
    ['class A { async m(ids: number[]) { return Q(ids) } }', false],
  ])('not inside a loop of its own function: %s', (source, expected) => {
    expect(inLoop(source)).toBe(expected)
  })
})
