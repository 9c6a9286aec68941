import path from 'node:path'
import ts from 'typescript'

/**
 * Type-checks one test file with the project's tsconfig and returns its diagnostics as `file:line: message`
 * lines. Type-level tests assert this is empty: every expectation holds, and every `@ts-expect-error` line
 * still fails to compile (TypeScript reports an unused one).
 */
export function typeErrorsOf(file: string): string[] {
  const configPath = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../tsconfig.json')
  const config = ts.parseJsonConfigFileContent(ts.readConfigFile(configPath, ts.sys.readFile).config, ts.sys, path.dirname(configPath))
  const program = ts.createProgram([file], { ...config.options, noEmit: true })
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file === undefined || !d.file.fileName.includes('node_modules'))
    .map((d) => `${d.file ? `${path.basename(d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`)
}
