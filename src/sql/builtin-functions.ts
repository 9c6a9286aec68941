/**
 * Built-in functions that read no table and write nothing: calling one leaves what a statement reads and
 * writes to its tables. Explain's safety check runs a statement only when every function it calls is here
 * (or proven pure by the catalogue); the query cache caches a read only when every function it calls is here
 * (a user-defined function may read or write tables the statement text does not name). Some are volatile
 * (`now`, `random`): safe to run, and cached only for the TTL the caller chose.
 */
export const BUILTIN_FUNCTIONS: ReadonlySet<string> = new Set([
  'count', 'sum', 'avg', 'min', 'max', 'coalesce', 'nullif', 'lower', 'upper', 'length', 'char_length', 'substr',
  'substring', 'trim', 'ltrim', 'rtrim', 'concat', 'replace', 'round', 'floor', 'ceil', 'ceiling', 'abs', 'now',
  'current_timestamp', 'date', 'datetime', 'strftime', 'date_trunc', 'extract', 'cast', 'greatest', 'least', 'any',
  'all', 'exists', 'in', 'ifnull', 'iif', 'if', 'json_extract', 'jsonb_build_object', 'json_build_object',
  'array_agg', 'string_agg', 'group_concat', 'json_agg', 'jsonb_agg', 'row_number', 'rank', 'dense_rank', 'lag',
  'lead', 'first_value', 'last_value', 'unnest', 'generate_series', 'to_char', 'to_date', 'array_length',
  'position', 'strpos', 'instr', 'left', 'right', 'md5', 'random', 'rand', 'mod', 'power', 'sqrt', 'date_format',
  'from_unixtime', 'unix_timestamp', 'values', 'interval', 'filter', 'over', 'row', 'array', 'exp', 'ln', 'log',
  'sign', 'bool_and', 'bool_or', 'every', 'format', 'quote_ident', 'current_date', 'localtimestamp', 'typeof',
  'printf', 'julianday', 'unixepoch', 'json_object', 'json_array', 'to_regclass', 'date_part', 'age', 'avg_width',
])
