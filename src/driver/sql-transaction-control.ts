import { CompiledQuery, createQueryId, type DatabaseConnection, IdentifierNode, type QueryCompiler, RawNode } from 'kysely'

/**
 * The transaction half of a Kysely `Driver` for connections whose transactions are plain SQL statements
 * (dbperf's pool drivers and the PGlite driver). Every statement goes through `connection.executeQuery`, so
 * the observed query path sees `commit`, `rollback` and savepoints like any other statement.
 */
export abstract class SqlTransactionControl {
  /** `release` on PostgreSQL, `release savepoint` on MySQL. */
  protected abstract readonly releaseSavepointCommand: string

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'))
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'))
  }

  async savepoint(connection: DatabaseConnection, name: string, compileQuery: QueryCompiler['compileQuery']): Promise<void> {
    await connection.executeQuery(compileQuery(savepointNode('savepoint', name), createQueryId()))
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string, compileQuery: QueryCompiler['compileQuery']): Promise<void> {
    await connection.executeQuery(compileQuery(savepointNode('rollback to', name), createQueryId()))
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string, compileQuery: QueryCompiler['compileQuery']): Promise<void> {
    await connection.executeQuery(compileQuery(savepointNode(this.releaseSavepointCommand, name), createQueryId()))
  }
}

function savepointNode(command: string, name: string): RawNode {
  // The node Kysely's own drivers build: the identifier node quotes the savepoint name.
  return RawNode.createWithChildren([RawNode.createWithSql(`${command} `), IdentifierNode.create(name)])
}
