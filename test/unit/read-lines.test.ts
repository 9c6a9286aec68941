import { Readable } from 'node:stream'
import { expect, it } from 'vitest'
import { readLines } from '../../src/read-lines.js'

const lines = async (chunks: string[], cap: number) => {
  const out: Array<[string, boolean]> = []
  for await (const l of readLines(Readable.from(chunks), cap)) out.push([l.text, l.long])
  return out
}

it('splits on \\n and \\r\\n across chunks, keeps an unterminated last line, and cuts a long line to the cap', async () => {
  expect(await lines(['a\r', '\nbb\n', 'c', 'cc'], 100)).toEqual([['a', false], ['bb', false], ['ccc', false]])
  expect(await lines(['', '\n\n'], 100)).toEqual([['', false], ['', false]])
  expect(await lines(['x'.repeat(30), 'y'.repeat(30), '\nok\n'], 40)).toEqual([['x'.repeat(30) + 'y'.repeat(10), true], ['ok', false]])
})

it('refuses a line that never ends long after the cap, instead of reading forever', async () => {
  const endless = Readable.from((function* () { for (;;) yield 'z'.repeat(1000) })())
  await expect((async () => { for await (const _ of readLines(endless, 1000)) void _ })()).rejects.toMatchObject({ code: 'DBPERF_INPUT_TOO_LARGE' })
})
