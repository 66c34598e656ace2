// How the npm JUnit consumers read a junit.xml: prints, as JSON, for xunit-viewer (its own file
// reader, encoding detection included, and parser: what its page shows), junit2json, and
// junit2json over junit-report-merger's merge of the file with itself, every test case as
// {suite, name, status, message} with status passed, failure, error or skipped.
//
// Usage: node junit_node.mjs junit.xml scratch-dir
// A consumer that cannot read the file is reported as {"error": "..."} instead of its cases.
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import getFiles from 'xunit-viewer/src/cli/get-files.js'
import getSuites from 'xunit-viewer/src/cli/get-suites.js'
import { parse } from 'junit2json'

const require = createRequire(import.meta.url)
const { mergeFiles } = require('junit-report-merger')

const [file, scratch] = process.argv.slice(2)

async function attempt (read) {
  try {
    return await read()
  } catch (err) {
    return { error: String(err && err.stack ? err.stack : err) }
  }
}

const quiet = new Proxy({}, { get: () => (text) => String(text) })

async function xunitViewer () {
  const files = await getFiles(quiet, { results: file, ignore: [] })
  // get-suites logs a parse failure instead of throwing: catch what it prints.
  const logged = []
  const log = console.log
  console.log = (...args) => logged.push(args.join(' '))
  let suites
  try {
    suites = await getSuites(quiet, files)
  } finally {
    console.log = log
  }
  if (logged.length) throw new Error(logged.join('\n'))
  const cases = []
  for (const suite of Object.values(suites.suites)) {
    for (const test of Object.values(suite.tests)) {
      const message = (test.messages || []).join('\n') || null
      cases.push({ suite: suite.name, name: test.name, status: test.status, message })
    }
  }
  return cases
}

function statusOf (testcase) {
  if (testcase.failure) return 'failure'
  if (testcase.error) return 'error'
  if (testcase.skipped) return 'skipped'
  return 'passed'
}

function messageOf (testcase) {
  const result = (testcase.failure || testcase.error || testcase.skipped || [])[0]
  return result ? (result.message ?? null) : null
}

async function junit2json (xml) {
  const report = await parse(xml)
  return (report.testsuite || []).flatMap(suiteCases)
}

function suiteCases (suite) {
  return (suite.testcase || []).map(testcase => (
    { suite: suite.name, name: testcase.name, status: statusOf(testcase), message: messageOf(testcase) }
  ))
}

async function merged () {
  const copy = path.join(scratch, 'copy.xml')
  const out = path.join(scratch, 'merged.xml')
  fs.copyFileSync(file, copy)
  await mergeFiles(out, [file, copy])
  // junit-report-merger joins suites of the same name: each suite holds its cases twice, in
  // order. Keep the first half, which must equal the second.
  const report = await parse(fs.readFileSync(out, 'utf8'))
  return (report.testsuite || []).flatMap(suite => {
    const cases = suiteCases(suite)
    const half = cases.length / 2
    const first = cases.slice(0, half)
    if (JSON.stringify(first) !== JSON.stringify(cases.slice(half))) {
      throw new Error(`suite ${suite.name} of the merged file does not hold its cases twice`)
    }
    return first
  })
}

console.log(JSON.stringify({
  'xunit-viewer': await attempt(xunitViewer),
  junit2json: await attempt(() => junit2json(fs.readFileSync(file, 'utf8'))),
  'junit-report-merger': await attempt(merged)
}))
