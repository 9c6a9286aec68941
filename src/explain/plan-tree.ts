import { DbperfError, describeValue } from '../errors.js'
import type { SqlDialect } from '../fingerprint/fingerprinter.js'
import type { Plan, PlanNode, PlanNodeDetails, PlanTiming } from './plan.js'

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** A node while a parser builds it: mutable, no id, no exclusive time yet. */
export type DraftNode = Omit<Mutable<PlanNode>, 'id' | 'children' | 'details' | 'exclusiveTimeMs'> & {
  children: DraftNode[]
  details: Mutable<PlanNodeDetails>
}

/** A draft with every optional field absent. */
export function draft(operation: string, kind: DraftNode['kind'], raw: unknown): DraftNode {
  return { operation, kind, details: {}, children: [], raw }
}

/**
 * Turns a parser's draft tree into a frozen {@link Plan}: numbers the nodes parent-first and computes each
 * node's exclusive time.
 *
 * Exclusive time follows PEV2 (see FIELD-NOTES "EXPLAIN"): the node's inclusive time minus its children's,
 * where inclusive times are already multiplied by loops and divided among workers by the parser. Two
 * corrections: a PostgreSQL CTE (an `InitPlan` named `CTE x`) runs inside the `CTE Scan` that reads it,
 * not inside the node it hangs from, so it is subtracted from that scan instead; and a negative result
 * (timer noise, parallel overlap) is clamped to 0.
 */
export function finalizePlan(input: {
  dialect: SqlDialect
  format: string
  analyzed: boolean
  root: DraftNode
  timing: PlanTiming
  settings?: Readonly<Record<string, string>> | undefined
}): Plan {
  const cteTimes = new Map<string, number>()
  collectCtes(input.root, cteTimes)
  const nodes: PlanNode[] = []
  const build = (d: DraftNode): PlanNode => {
    const id = nodes.length
    const placeholder = {} as PlanNode
    nodes.push(placeholder)
    const children = d.children.map(build)
    let exclusive: number | undefined
    if (d.inclusiveTimeMs !== undefined) {
      let below = 0
      for (const child of d.children) {
        if (isCte(child)) continue
        below += child.inclusiveTimeMs ?? 0
      }
      if (d.operation === 'CTE Scan' && d.alias !== undefined) below += cteTimes.get(`CTE ${cteNameOf(d)}`) ?? 0
      exclusive = Math.max(0, d.inclusiveTimeMs - below)
    }
    const node: PlanNode = Object.freeze({
      ...d,
      id,
      exclusiveTimeMs: exclusive,
      details: Object.freeze({ ...d.details }),
      children: Object.freeze(children),
    })
    nodes[id] = node
    return node
  }
  const root = build(input.root)
  return Object.freeze({
    dialect: input.dialect,
    format: input.format,
    analyzed: input.analyzed,
    root,
    timing: Object.freeze({ ...input.timing }),
    settings: input.settings ? Object.freeze({ ...input.settings }) : undefined,
    nodes: Object.freeze(nodes),
  })
}

function isCte(d: DraftNode): boolean {
  return d.parentRelationship === 'InitPlan' && (d.subplanName ?? '').startsWith('CTE ')
}

function cteNameOf(d: DraftNode): string {
  const raw = d.raw as { 'CTE Name'?: unknown } | undefined
  return typeof raw?.['CTE Name'] === 'string' ? raw['CTE Name'] : (d.alias ?? '')
}

function collectCtes(d: DraftNode, into: Map<string, number>): void {
  if (isCte(d) && d.subplanName !== undefined && d.inclusiveTimeMs !== undefined) into.set(d.subplanName, d.inclusiveTimeMs)
  for (const c of d.children) collectCtes(c, into)
}

/**
 * Every node of a plan tree, parent first, children in order.
 *
 * ### Examples
 * ```ts
 * const fullScans = [...walkPlan(plan.root)].filter((n) => n.kind === 'full-scan')
 * ```
 */
export function* walkPlan(root: PlanNode): Generator<PlanNode> {
  yield root
  for (const child of root.children) yield* walkPlan(child)
}

/** A finite number from a number or a numeric string (MySQL 8 writes costs and percentages as strings). */
export function num(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value)
    return Number.isFinite(n) ? n : undefined
  }
  return undefined
}

/** A string field, or undefined. */
export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}

/** Checks a parser's input is an object; the message names the parser and what it expects. */
export function expectObject(value: unknown, parser: string, expected: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new DbperfError('DBPERF_INVALID_INPUT', `${parser} expects ${expected}, but got: ${describeValue(value)}`)
  }
  return value as Record<string, unknown>
}

/** Parses JSON text, or passes an already parsed value through; bad JSON is a clear `DbperfError`. */
export function parseJsonInput(input: unknown, parser: string): unknown {
  if (typeof input !== 'string') return input
  try {
    return JSON.parse(input) as unknown
  } catch (error) {
    throw new DbperfError('DBPERF_INVALID_INPUT', `${parser} expects JSON text of an EXPLAIN plan, but it does not parse: ${(error as Error).message}`, { cause: error })
  }
}
