/**
 * Devcert templates: built-in ones in `templates/devcert/<name>/` and user ones given by path. A template is either
 * one text file (rendered to `--out`) or a directory with a `template.json` manifest describing several output
 * files, the security modes it supports, what it requires (e.g. a server CA) and warnings to raise. Loading reads
 * files; rendering (`renderTemplateFiles`) is pure.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

import { usageError } from '../errors.js'
import type { DevcertModel } from './model.js'
import { type CompiledTemplate, compileTemplate } from './render.js'

/** One output file of a template. */
export interface TemplateFileSpec {
  /** Output file name, itself a template (e.g. `{{out.stem}}.h`); must render to a plain file name. */
  path: string
  /** Template file (relative to the template directory) whose rendering is the content. */
  template?: string
  /** Or: a bytes field of the model written raw (e.g. `certificate` for a DER file). */
  data?: string
  /** Condition (as in `{{#if …}}`) under which the file is produced; always when absent. */
  when?: string
}

/** `template.json`. */
export interface TemplateSpec {
  name: string
  description: string
  /** Security modes the template can express; default both. */
  security?: string[]
  /** Conditions that must hold, with the error to show otherwise (checked before anything is issued). */
  requires?: Array<{ when: string; message: string; hint: string }>
  /** Conditions that produce a warning when they hold. */
  warnings?: Array<{ when: string; message: string }>
  /** Output files; the first is the main one (normally `{{out.name}}`, i.e. `--out` itself). */
  files: TemplateFileSpec[]
}

export interface LoadedTemplate {
  spec: TemplateSpec
  /** Built-in id, or the path the user gave. */
  id: string
  builtin: boolean
  /** Compiled content templates by file name. */
  compiled: Map<string, CompiledTemplate>
}

export interface RenderedFile {
  /** File name (no directory), placed beside `--out`. */
  name: string
  content: Buffer
  /** Whether the content carries the private key or PSK. */
  secret: boolean
}

/** Where the built-in templates live: `<package>/templates/devcert`, from both src/ and dist/. */
export function builtinTemplateRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'templates', 'devcert')
}

/** Ids of the built-in templates. */
export function listBuiltinTemplates(root = builtinTemplateRoot()): string[] {
  if (!existsSync(root)) return []
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, d.name, 'template.json')))
    .map((d) => d.name)
    .sort()
}

/** A bare name (`izuma`) means a built-in even if a file of that name exists; anything else is a path. */
function looksLikePath(s: string, root: string): boolean {
  if (/^[a-z0-9][a-z0-9-]*$/.test(s) && existsSync(join(root, s, 'template.json'))) return false
  return s.includes('/') || s.includes('\\') || s.includes('.') || existsSync(s)
}

/** Loads a built-in template by id or a user template by path (a text file, or a directory with template.json). */
export function loadTemplate(nameOrPath: string, root = builtinTemplateRoot()): LoadedTemplate {
  if (!looksLikePath(nameOrPath, root)) {
    const dir = join(root, nameOrPath)
    if (!existsSync(join(dir, 'template.json'))) {
      throw usageError(
        'E_DEVCERT_TEMPLATE_UNKNOWN',
        `There is no built-in devcert template '${nameOrPath}'.`,
        `Use one of: ${listBuiltinTemplates(root).join(', ')}; or pass the path of your own template file.`,
      )
    }
    return loadDir(dir, nameOrPath, true)
  }
  let st
  try {
    st = statSync(nameOrPath)
  } catch {
    throw usageError(
      'E_DEVCERT_TEMPLATE_UNREADABLE',
      `Cannot read the template ${nameOrPath}.`,
      `Check the path, or use a built-in template: ${listBuiltinTemplates(root).join(', ')}.`,
    )
  }
  if (st.isDirectory()) {
    if (!existsSync(join(nameOrPath, 'template.json'))) {
      throw usageError('E_DEVCERT_TEMPLATE_UNREADABLE', `The directory ${nameOrPath} has no template.json.`, 'A template directory describes its files in template.json (see templates/devcert/README.md), or pass a single template file.')
    }
    return loadDir(nameOrPath, nameOrPath, false)
  }
  const spec: TemplateSpec = { name: basename(nameOrPath), description: `user template ${nameOrPath}`, files: [{ path: '{{out.name}}', template: basename(nameOrPath) }] }
  return compileSpec(spec, dirname(nameOrPath), nameOrPath, false)
}

function loadDir(dir: string, id: string, builtin: boolean): LoadedTemplate {
  let spec: TemplateSpec
  try {
    spec = JSON.parse(readFileSync(join(dir, 'template.json'), 'utf8')) as TemplateSpec
  } catch (e) {
    throw usageError('E_DEVCERT_TEMPLATE', `${join(dir, 'template.json')} is not valid JSON: ${(e as Error).message}`, 'Fix the template manifest (see templates/devcert/README.md).')
  }
  if (!spec || !Array.isArray(spec.files) || spec.files.length === 0 || spec.files.some((f) => typeof f.path !== 'string' || (f.template === undefined) === (f.data === undefined))) {
    throw usageError(
      'E_DEVCERT_TEMPLATE',
      `${join(dir, 'template.json')} must list "files", each with a "path" and either a "template" or a "data" field.`,
      'See templates/devcert/README.md for the template manifest format.',
    )
  }
  return compileSpec(spec, dir, id, builtin)
}

function compileSpec(spec: TemplateSpec, dir: string, id: string, builtin: boolean): LoadedTemplate {
  const compiled = new Map<string, CompiledTemplate>()
  const add = (key: string, source: string) => compiled.set(key, compileTemplate(source, key))
  for (const f of spec.files) {
    add(`path:${f.path}`, f.path)
    if (f.when !== undefined) add(`when:${f.when}`, condSource(f.when))
    if (f.data !== undefined) add(`data:${f.data}`, `{{${f.data} | base64}}`)
    if (f.template !== undefined && !compiled.has(f.template)) {
      let text: string
      try {
        text = readFileSync(join(dir, f.template), 'utf8')
      } catch {
        throw usageError('E_DEVCERT_TEMPLATE_UNREADABLE', `Cannot read the template file ${join(dir, f.template)}.`, 'Check the path.')
      }
      add(f.template, text)
    }
  }
  for (const r of [...(spec.requires ?? []), ...(spec.warnings ?? [])]) add(`when:${r.when}`, condSource(r.when))
  return { spec, id, builtin, compiled }
}

function condSource(cond: string): string {
  return `{{#if ${cond}}}1{{/if}}`
}

function holds(t: LoadedTemplate, cond: string, model: DevcertModel): boolean {
  return t.compiled.get(`when:${cond}`)!.render(model) === '1'
}

/**
 * Checks that the template can express the credential: supported security mode and its `requires` conditions.
 * Run against a preview model before anything is issued, so a bad combination changes nothing.
 */
export function checkTemplate(t: LoadedTemplate, model: DevcertModel): void {
  const sec = t.spec.security ?? ['cert', 'psk']
  if (!sec.includes(model.security)) {
    throw usageError(
      'E_DEVCERT_SECURITY',
      `The ${t.id} template cannot express --security ${model.security} credentials.`,
      `Use --security ${sec.join(' or --security ')} with this template, or another template.`,
    )
  }
  for (const r of t.spec.requires ?? []) {
    if (!holds(t, r.when, model)) throw usageError('E_DEVCERT_REQUIRES', r.message, r.hint)
  }
}

/** Warnings the template raises for this credential (e.g. an Izuma URI without `aid=`). */
export function templateWarnings(t: LoadedTemplate, model: DevcertModel): string[] {
  return (t.spec.warnings ?? []).filter((w) => holds(t, w.when, model)).map((w) => w.message)
}

/** Renders every output file. File names must be plain names (no directories) and distinct. */
export function renderTemplateFiles(t: LoadedTemplate, model: DevcertModel): RenderedFile[] {
  const out: RenderedFile[] = []
  for (const f of t.spec.files) {
    if (f.when !== undefined && !holds(t, f.when, model)) continue
    const name = t.compiled.get(`path:${f.path}`)!.render(model).trim()
    if (name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
      throw usageError('E_DEVCERT_TEMPLATE', `Template ${t.id}: output path '${f.path}' renders to '${name}', which is not a plain file name.`, 'Output files are written beside --out; use names such as {{out.stem}}.h.')
    }
    if (out.some((o) => o.name === name)) {
      throw usageError(
        'E_DEVCERT_OUT_COLLISION',
        `Template ${t.id} would write two files named ${name}.`,
        `Name --out after the main file (e.g. ${model.out.stem}.c), so the other files get distinct names.`,
      )
    }
    const render = (m: DevcertModel) =>
      f.data !== undefined ? Buffer.from(t.compiled.get(`data:${f.data}`)!.render(m), 'base64') : Buffer.from(t.compiled.get(f.template!)!.render(m), 'utf8')
    const content = render(model)
    // A file holds a secret when it changes with the secret: rendered again with other key/PSK bytes, it differs.
    const other = otherSecrets(model)
    out.push({ name, content, secret: other !== undefined && !render(other).equals(content) })
  }
  return out
}

/** The model with every secret byte inverted (same lengths), or undefined when it holds no secret. */
function otherSecrets(model: DevcertModel): DevcertModel | undefined {
  if (!model.key && !model.psk) return undefined
  const flip = (b: Uint8Array | null) => (b ? Uint8Array.from(b, (x) => x ^ 0xff) : null)
  return { ...model, key: flip(model.key), psk: flip(model.psk) }
}
