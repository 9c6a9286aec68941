// The workload scripts/record-server-logs.sh runs against its private servers, so that their logs hold what an
// application's would: literal statements over the simple protocol (some over several lines), bound parameters
// (PostgreSQL: unnamed and named prepared statements; MariaDB: server-side prepared statements), a string with a
// quote, a newline and a `;` in it, catalogue reads, writes and transaction control.
// Environment: DIALECT (postgres | mysql), URL (a superuser on the private server).
import process from 'node:process'
import mysql from 'mysql2/promise'
import pg from 'pg'

const dialect = process.env.DIALECT
const url = process.env.URL

// A statement written over five lines, with the value in the text: the logs must give it back as one statement.
const CUSTOMERS = [17, 42, 99, 150, 1999]
const latestOrders = (id) => `select id, status, total_cents
  from sl_orders
 where customer_id = ${id}
 order by created_at desc
 limit 10`

async function postgres() {
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  await admin.query('drop database if exists shop')
  await admin.query('create database shop')
  await admin.end()
  const c = new pg.Client({ connectionString: url.replace(/\/postgres$/, '/shop') })
  await c.connect()
  await c.query(`create table sl_customers (id int primary key, country text not null, email text not null)`)
  await c.query(`create table sl_orders (id int primary key, customer_id int not null, status text not null,
    created_at timestamp not null, total_cents int not null)`)
  await c.query(`insert into sl_customers select g, (array['FR','DE','US','JP'])[1 + g % 4], 'c' || g || '@example.com' from generate_series(1, 2000) g`)
  await c.query(`insert into sl_orders select g, 1 + g % 2000, (array['new','paid','shipped'])[1 + g % 3],
    timestamp '2026-01-01' + g * interval '1 minute', g % 10000 from generate_series(1, 20000) g`)
  await c.query('analyze')
  for (const id of CUSTOMERS) await c.query(latestOrders(id))
  for (let i = 0; i < 20; i++) await c.query('select id, total_cents from sl_orders where customer_id = $1 and status = $2', [1 + i * 37, 'paid'])
  for (const email of ["o'brien@example.com", 'c7@example.com', 'c8@example.com']) {
    await c.query({ name: 'customer_by_email', text: 'select id, country from sl_customers where email = $1', values: [email] })
  }
  await c.query("select count(*) from sl_orders where status = 'a;b\nc'")
  await c.query("select c.relname from pg_catalog.pg_class c where c.relkind = 'r' and c.relname like 'sl\\_%'")
  await c.query('begin')
  await c.query('insert into sl_orders values ($1, $2, $3, now(), $4)', [20001, 5, 'new', 100])
  await c.query('update sl_orders set status = $1 where id = $2', ['paid', 20001])
  await c.query('commit')
  await c.end()
}

async function mariadb() {
  const admin = await mysql.createConnection(url)
  await admin.query('drop database if exists shop')
  await admin.query('create database shop')
  await admin.end()
  const c = await mysql.createConnection(url.replace(/\/mysql$/, '/shop'))
  await c.query(`create table sl_customers (id int primary key, country varchar(2) not null, email varchar(100) not null)`)
  await c.query(`create table sl_orders (id int primary key, customer_id int not null, status varchar(10) not null,
    created_at datetime not null, total_cents int not null)`)
  await c.query(`insert into sl_customers select seq, elt(1 + seq % 4, 'FR', 'DE', 'US', 'JP'), concat('c', seq, '@example.com') from seq_1_to_2000`)
  await c.query(`insert into sl_orders select seq, 1 + seq % 2000, elt(1 + seq % 3, 'new', 'paid', 'shipped'),
    timestamp '2026-01-01 00:00:00' + interval seq minute, seq % 10000 from seq_1_to_20000`)
  await c.query('analyze table sl_customers, sl_orders')
  for (const id of CUSTOMERS) await c.query(latestOrders(id))
  // execute(): a server-side prepared statement; the slow log shows it with the values in place.
  for (let i = 0; i < 20; i++) await c.execute('select id, total_cents from sl_orders where customer_id = ? and status = ?', [1 + i * 37, 'paid'])
  // query() with values: mysql2 escapes them into the text on the client.
  for (const email of ["o'brien@example.com", 'c7@example.com', 'c8@example.com']) await c.query('select id, country from sl_customers where email = ?', [email])
  await c.query("select count(*) from sl_orders where status = 'a;b\nc'")
  await c.query("select table_name from information_schema.tables where table_schema = 'shop'")
  await c.query('begin')
  await c.execute('insert into sl_orders values (?, ?, ?, now(), ?)', [20001, 5, 'new', 100])
  await c.execute('update sl_orders set status = ? where id = ?', ['paid', 20001])
  await c.query('commit')
  await c.end()
}

await (dialect === 'postgres' ? postgres() : mariadb())
